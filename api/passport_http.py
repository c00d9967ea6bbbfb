"""Shared by the passport routes and the resolver: load a version, negotiate, answer with ETags.

A passport version is immutable once its log index exists, so its public bytes are cacheable
for good; the latest version moves on with the item's life, so it is revalidated (ETag). A
viewer allowed to see restricted fields gets a private, uncached answer.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final, Literal

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from ledger.canonical import canonical_bytes
from ledger.errors import FormatError, NotFoundError
from ledger.identifiers import DigitalLink, IdentifierError
from ledger.store.ledger import LedgerStore
from passports.build import Passport, build_passport

IMMUTABLE: Final = "public, max-age=31536000, immutable"
REVALIDATE: Final = "public, no-cache"
PRIVATE: Final = "private, no-store"
# The consumer page runs no script and fetches nothing (passports.page): a policy that says so
# stops whatever markup a hostile name might ever slip past escaping, and framing by another site.
PAGE_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
Format = Literal["html", "jsonld", "json", "linkset"]
_MEDIA: Final[dict[str, Format]] = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/ld+json": "jsonld",
    "application/json": "json",
    # A client that reads only RFC 9457 problems asks for JSON: it gets a refusal as one.
    "application/problem+json": "json",
    "application/linkset+json": "linkset",
}


def subject_of(raw: str) -> str:
    """The passport subject for a Digital Link path (with or without its leading slash).

    An item is named by GTIN and serial alone: ``/01/{gtin}/10/{lot}/21/{serial}`` resolves to
    the item ``/01/{gtin}/21/{serial}``. Raises IdentifierError saying what is wrong.
    """
    link = DigitalLink.parse(raw if raw.startswith("/") else "/" + raw)
    if link.serial is not None:
        return DigitalLink(link.gtin, serial=link.serial).path()
    if link.lot is not None:
        return DigitalLink(link.gtin, lot=link.lot).path()
    raise NotFoundError(
        f"GTIN {link.gtin} names a product model; passports are issued per item or batch: "
        "scan the label on the piece itself"
    )


def public_uri(base: str, subject: str) -> str:
    """The URI of ``subject`` (a ledger Digital Link path) as QR codes, labels and links carry
    it: under ``base``, every value percent-encoded as GS1 Digital Link requires."""
    return DigitalLink.parse(subject).uri(base)


def passport_api_url(base: str, subject: str) -> str:
    return public_uri(f"{base}/v1/passports", subject)


async def load(store: LedgerStore, subject: str, version: int | None = None) -> Passport:
    facts = await run_in_threadpool(store.passport_facts, subject, version)
    return build_passport(facts)


def negotiate(request: Request) -> Format:
    """The best format the client accepts (RFC 9110 §12.5.1 q-values); HTML when unsure."""
    header = request.headers.get("accept", "")
    best: tuple[float, int, Format] | None = None
    for position, part in enumerate(header.split(",")[:32]):
        media, _, params = part.strip().partition(";")
        kind = _MEDIA.get(media.strip().lower())
        if kind is None:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0 and (best is None or (q, -position) > (best[0], best[1])):
            best = (q, -position, kind)
    return "html" if best is None else best[2]


def etagged(
    request: Request, body: bytes, media_type: str, *, cache: str, status: int = 200
) -> Response:
    """``body`` with a strong ETag; 304 when the client's If-None-Match already has it (or
    ``*``). Every answer is ``nosniff``: it is the media type it says."""
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": tag,
        "Cache-Control": cache,
        "Vary": "Accept, Accept-Language",
        # Actors' text inside JSON must never be sniffed into a page (a browser's, an old proxy's).
        "X-Content-Type-Options": "nosniff",
    }
    # RFC 9110 section 13.1.2: weak comparison, and "*" matches any current representation.
    sent = [
        t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")
    ]
    if status == 200 and (tag in sent or "*" in sent):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def json_bytes(value: Any) -> bytes:
    return canonical_bytes(value)


def bad_identifier(exc: IdentifierError | FormatError) -> str:
    return str(exc)
