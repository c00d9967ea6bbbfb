"""Product passports for machines and label printers: the list, versions, QR codes.

A passport is named by its subject's Digital Link path, written after ``/v1/passports`` as it
is, e.g. ``/v1/passports/01/08000000002020/21/I2WCYWNLMFBZJF7IAH3A``; the consumer reaches the
same passport through the resolver (``api.routes.resolver``) at the URI its QR code carries.
``/bundle`` after the path answers the passport's offline proof: a partial audit bundle
(docs/bundle.md) with the public document of every version.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.auth import ViewerDep
from api.deps import SettingsDep, StoreDep, given_once
from api.passport_http import (
    IMMUTABLE,
    PRIVATE,
    REVALIDATE,
    etagged,
    json_bytes,
    load,
    passport_api_url,
    public_uri,
    subject_of,
)
from api.problems import BadRequest
from ledger.bundle import SCOPE_PASSPORT
from ledger.canonical import canonical_bytes
from ledger.errors import FormatError
from ledger.passport import PassportFacts
from ledger.store.bundle import partial_bundle_bytes
from passports.build import Passport, build_passport
from passports.qr import qr_png, qr_svg

router = APIRouter(prefix="/v1", tags=["passports"], dependencies=[Depends(given_once)])

PassportPath = Annotated[str, Path(min_length=4, max_length=130)]
BUNDLE_MEDIA_TYPE = "application/vnd.spola.bundle"
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")
Limit = Annotated[int, Query(ge=1, le=1000)]


def _subject(raw: str) -> str:
    try:
        return subject_of(raw)
    except FormatError as exc:
        raise BadRequest(f"passport id: {exc}") from None


@router.get("/passports", summary="Passports issued, in subject order, paged")
def list_passports(
    store: StoreDep,
    settings: SettingsDep,
    after: Annotated[str | None, Query(max_length=130)] = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    rows = store.passports(after=after, limit=min(limit, settings.max_page))
    base = settings.public_base_url
    listed = [
        {
            "id": row.subject.lstrip("/"),
            "url": public_uri(base, row.subject),
            "api": passport_api_url(base, row.subject),
            "product": row.product,
            "issuer": row.issuer,
        }
        for row in rows
    ]
    more = len(rows) == min(limit, settings.max_page)
    return {"passports": listed, "next_after": rows[-1].subject if rows and more else None}


def _by_viewer(response: Response) -> Response:
    # The answer depends on the bearer token, and a "public" one may otherwise be served from a
    # shared cache to a request that carries one (RFC 9111 sections 3.5 and 4.1).
    response.headers["Vary"] += ", Authorization"
    return response


def _document(passport: Passport, viewer: ViewerDep) -> tuple[dict[str, Any], bool]:
    issuer = str(passport.document["issued_by"]["actor"])
    if viewer.may_see_restricted(issuer):
        return dict(passport.document), True
    return passport.public(), False


@router.get("/passports/{pid:path}/qr.png", summary="The QR code of the passport's URI (PNG)")
def get_qr_png(request: Request, settings: SettingsDep, pid: PassportPath) -> Response:
    uri = public_uri(settings.public_base_url, _subject(pid))
    return etagged(request, qr_png(uri), "image/png", cache="public, max-age=86400")


@router.get("/passports/{pid:path}/qr.svg", summary="The QR code of the passport's URI (SVG)")
def get_qr_svg(request: Request, settings: SettingsDep, pid: PassportPath) -> Response:
    uri = public_uri(settings.public_base_url, _subject(pid))
    return etagged(request, qr_svg(uri), "image/svg+xml", cache="public, max-age=86400")


def _public_document(facts: PassportFacts) -> bytes:
    return canonical_bytes(build_passport(facts).public())


@router.get(
    "/passports/{pid:path}/bundle",
    summary="The passport's offline proof: a partial audit bundle (docs/bundle.md)",
)
async def get_passport_bundle(request: Request, store: StoreDep, pid: PassportPath) -> Response:
    subject = _subject(pid)
    body = await run_in_threadpool(
        partial_bundle_bytes,
        store,
        scope=SCOPE_PASSPORT,
        subject=subject,
        build=_public_document,
    )
    response = etagged(request, body, BUNDLE_MEDIA_TYPE, cache=REVALIDATE)
    # A lot or serial may hold '"', ';' and '=' (GS1 set 82): only a token-safe name goes out.
    name = _UNSAFE_IN_FILENAME.sub("_", subject.strip("/").replace("/", "-"))
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.bundle"'
    return response


@router.get("/passports/{pid:path}/versions/{version}", summary="One version of a passport")
async def get_passport_version(
    request: Request,
    store: StoreDep,
    viewer: ViewerDep,
    pid: PassportPath,
    version: Annotated[int, Path(ge=1, le=1_000_000)],
) -> Response:
    passport = await load(store, _subject(pid), version)
    document, restricted = _document(passport, viewer)
    cache = PRIVATE if restricted else IMMUTABLE
    return _by_viewer(etagged(request, json_bytes(document), "application/json", cache=cache))


@router.get("/passports/{pid:path}", summary="The latest version of a passport")
async def get_passport(
    request: Request, store: StoreDep, viewer: ViewerDep, pid: PassportPath
) -> Response:
    passport = await load(store, _subject(pid))
    document, restricted = _document(passport, viewer)
    cache = PRIVATE if restricted else REVALIDATE
    return _by_viewer(etagged(request, json_bytes(document), "application/json", cache=cache))
