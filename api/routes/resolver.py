"""The GS1 Digital Link resolver: what a phone reaches when it scans a passport's QR code.

``GET /01/{gtin}[/10/{lot}][/21/{serial}]`` answers, by content negotiation:
- ``text/html`` (a browser): the consumer page, in Italian or English;
- ``application/ld+json`` or ``application/json``: the passport as UNTP-shaped JSON-LD;
- ``?linkType=all`` or ``Accept: application/linkset+json``: the RFC 9264 linkset;
- ``?linkType=gs1:pip`` (or another served link type): a 307 redirect to that link.
A malformed identifier or a GTIN whose check digit fails is a 400 saying why; an identifier with
no passport is a friendly 404 page (or a problem+json for machines).
``/.well-known/gs1resolver`` describes this resolver (GS1 Digital Link standard, §7 resolver
description file).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from api.deps import SettingsDep, StoreDep
from api.passport_http import (
    PAGE_POLICY,
    REVALIDATE,
    etagged,
    json_bytes,
    load,
    negotiate,
    passport_api_url,
    public_uri,
    subject_of,
)
from api.problems import problem
from ledger.errors import FormatError, NotFoundError
from ledger.store.ledger import LedgerStore
from passports.build import Passport
from passports.jsonld import to_jsonld
from passports.linkset import LINK_TYPES, LINKSET_JSON, link_targets, linkset
from passports.page import choose_language, render_not_found, render_page
from passports.qr import qr_svg

router = APIRouter(tags=["resolver"])

LinkType = Annotated[str | None, Query(alias="linkType", max_length=64)]
Lang = Annotated[str | None, Query(max_length=16)]


@router.get("/.well-known/gs1resolver", summary="GS1 resolver description file")
def resolver_description(settings: SettingsDep) -> dict[str, Any]:
    return {
        "name": "spola product passport resolver",
        "resolverRoot": settings.public_base_url,
        "supportedPrimaryKeys": ["gtin"],
        "supportedLinkType": [
            {"namespace": "https://gs1.org/voc/", "prefix": "gs1:", "profile": name}
            for name in LINK_TYPES
        ],
        "linkTypeDefaultCanBeLinkset": True,
        "supportedContextValuesEnumerated": [],
    }


@router.get("/01/{rest:path}", summary="Resolve a GS1 Digital Link URI to its passport")
async def resolve(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    *,
    rest: str,
    link_type: LinkType = None,
    lang: Lang = None,
) -> Response:
    wanted = "linkset" if link_type == "all" else negotiate(request)
    language = choose_language(request.headers.get("accept-language"), lang)
    path = "/01/" + rest
    try:
        subject = subject_of(path)
        passport = await load(store, subject)
    except NotFoundError as exc:
        if wanted == "html":
            page = render_not_found(lang=language, path=path).encode()
            missing = Response(page, status_code=404, media_type="text/html; charset=utf-8")
        else:
            missing = problem(404, "not-found", "No passport", str(exc))
        # A label is printed before its passport is issued: never keep "missing" unchecked.
        missing.headers.update({"Cache-Control": REVALIDATE, "Vary": "Accept, Accept-Language"})
        if wanted == "html":
            missing.headers["Content-Security-Policy"] = PAGE_POLICY
        return missing
    except FormatError as exc:
        return problem(400, "bad-identifier", "Not a valid GS1 Digital Link", str(exc))
    uri = public_uri(settings.public_base_url, subject)
    api_url = passport_api_url(settings.public_base_url, subject)
    if link_type not in (None, "all"):
        return _redirect(link_type, link_targets(uri, api_url))
    if wanted == "html":
        body, media = await _page(store, passport, uri=uri, lang=language), "text/html"
    elif wanted == "linkset":
        body = json_bytes(linkset(passport.public(), uri=uri, api_url=api_url))
        media = LINKSET_JSON
    else:
        body = json_bytes(to_jsonld(passport.public(), uri=uri, api_url=api_url))
        media = "application/ld+json"
    response = etagged(request, body, media, cache=REVALIDATE)
    if wanted == "html":
        response.headers["Content-Security-Policy"] = PAGE_POLICY
    return response


def _redirect(link_type: str, targets: dict[str, str]) -> Response:
    if link_type not in targets:
        served = ", ".join(["all", *targets])
        return problem(404, "not-found", "Link type not served", f"served: {served}")
    return RedirectResponse(targets[link_type], status_code=307)


async def _page(store: LedgerStore, passport: Passport, *, uri: str, lang: Any) -> bytes:
    doc = passport.public()
    attestation = await run_in_threadpool(store.attest, doc["entries"])
    html = render_page(
        doc,
        lang=lang,
        verified=attestation.verified,
        page_url=uri,
        qr_svg=qr_svg(uri).decode(),
    )
    return html.encode()


__all__ = ["router"]
