"""The GS1 Digital Link resolver: what a phone reaches when it scans a passport's QR code.

``GET /01/{gtin}[/10/{lot}][/21/{serial}]`` answers, by content negotiation:
- ``text/html`` (a browser): the consumer page, in Italian or English;
- ``application/ld+json`` or ``application/json``: the passport as UNTP-shaped JSON-LD;
- ``?linkType=linkset`` (or its older name ``all``) or ``Accept: application/linkset+json``: the
  RFC 9264 linkset;
- ``?linkType=gs1:pip`` (or another served link type, also written as its GS1 Web Vocabulary URI
  ``https://gs1.org/voc/pip``): a 307 redirect to that link.
A malformed identifier or a GTIN whose check digit fails is a 400 saying why, and so is a
``lang`` or ``linkType`` over its bound; an identifier with no passport is a 404. A browser gets
either as a friendly page in its reader's language (a label's QR code opens it), a machine a
problem+json. One trailing slash after the
last value is tolerated, as phones and people add it.
``/.well-known/gs1resolver`` describes this resolver (GS1 Digital Link standard, §7 resolver
description file).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

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
from api.problems import BadRequest, problem
from ledger.errors import FormatError, LimitError, NotFoundError
from ledger.store.ledger import LedgerStore
from passports.build import Passport
from passports.jsonld import to_jsonld
from passports.linkset import GS1, LINK_TYPES, LINKSET_JSON, link_targets, linkset
from passports.page import Lang as PageLang
from passports.page import Refusal, choose_language, render_not_found, render_page
from passports.qr import qr_svg

router = APIRouter(tags=["resolver"])

# Bounded by the route, not by the query's schema (FastAPI's refusal is JSON, where a browser
# gets a page); the schema still declares the bounds.
MAX_LINK_TYPE: Final = 64
MAX_LANG: Final = 16
LinkType = Annotated[
    str | None, Query(alias="linkType", json_schema_extra={"maxLength": MAX_LINK_TYPE})
]
Lang = Annotated[str | None, Query(json_schema_extra={"maxLength": MAX_LANG})]
# GS1-Conformant Resolver: ``linkset`` asks for the linkset; ``all`` is its Digital Link 1.1 name.
_LINKSET_TYPES = ("linkset", "all")


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


# The consumer page is an answer as the JSON-LD is: a browser's refusals are pages too.
_PAGE_DECLARED: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {"text/html": {"schema": {"type": "string"}}}},
}


@router.get(
    "/01/{rest:path}",
    summary="Resolve a GS1 Digital Link URI to its passport",
    responses=_PAGE_DECLARED,
)
async def resolve(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    *,
    rest: str,
    link_type: LinkType = None,
    lang: Lang = None,
) -> Response:
    overlong = _overlong(lang=lang, linkType=link_type)
    link_type = None if overlong else _compact(link_type)
    wanted = "linkset" if link_type in _LINKSET_TYPES else negotiate(request)
    told = None if overlong is not None and overlong.startswith("query.lang") else lang
    language = choose_language(request.headers.get("accept-language"), told)
    path = "/01/" + _without_trailing_slash(rest)
    try:
        if overlong is not None:
            raise BadRequest(overlong)
        subject = subject_of(path)
        passport = await load(store, subject)
    except (BadRequest, NotFoundError, LimitError, FormatError) as exc:
        return _refused(exc, html=wanted == "html", lang=language, path=path)
    uri = public_uri(settings.public_base_url, subject)
    api_url = passport_api_url(settings.public_base_url, subject)
    if link_type is not None and link_type not in _LINKSET_TYPES:
        targets = link_targets(uri, api_url)
        if wanted == "html" and link_type not in targets:
            return _refusal_page(404, "no_link", lang=language, path=path)
        return _redirect(link_type, targets)
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


# A label is printed before its passport is issued: never keep a refusal unchecked.
_REFUSAL_HEADERS = {"Cache-Control": REVALIDATE, "Vary": "Accept, Accept-Language"}


def _varying(answer: Response) -> Response:
    # A refusal a browser gets as a page: the problem varies with Accept as the page does.
    answer.headers.update(_REFUSAL_HEADERS)
    return answer


def _overlong(**given: str | None) -> str | None:
    """What is wrong with the first of the parameters ``given`` over its bound, worded as
    FastAPI words a parameter over its ``max_length``; None if none is."""
    bounds = {"lang": MAX_LANG, "linkType": MAX_LINK_TYPE}
    for name, value in given.items():
        if value is not None and len(value) > bounds[name]:
            return f"query.{name}: String should have at most {bounds[name]} characters"
    return None


def _refused(
    exc: BadRequest | NotFoundError | LimitError | FormatError, *, html: bool, lang: PageLang,
    path: str,
) -> Response:  # fmt: skip
    """The resolver's refusal of ``path``: for a browser (``html``) a page in ``lang``, for a
    machine the problem. A parameter over its bound and an address that is no Digital Link are
    400; no passport there is 404; facts beyond the walk's bounds 413 (``api.problems``
    answers machines with it)."""
    if isinstance(exc, LimitError):
        if not html:
            raise exc
        return _refusal_page(413, "too_large", lang=lang, path=path)
    if isinstance(exc, NotFoundError):
        if html:
            return _refusal_page(404, "not_found", lang=lang, path=path)
        return _varying(problem(404, "not-found", "No passport", str(exc)))
    if html:
        return _refusal_page(400, "bad_link", lang=lang, path=path)
    if isinstance(exc, BadRequest):
        return _varying(problem(400, "bad-request", "Bad request", exc.detail))
    return _varying(problem(400, "bad-identifier", "Not a valid GS1 Digital Link", str(exc)))


def _refusal_page(status: int, kind: Refusal, *, lang: PageLang, path: str) -> Response:
    """The page a browser gets for a passport the resolver cannot show: none at ``path``
    (404), one beyond the walk's bounds (413), an address no label carries (400), or a link
    type it does not offer (404)."""
    page = render_not_found(lang=lang, path=path, kind=kind).encode()
    answer = Response(page, status_code=status, media_type="text/html; charset=utf-8")
    answer.headers.update(_REFUSAL_HEADERS | {"Content-Security-Policy": PAGE_POLICY})
    return answer


def _without_trailing_slash(rest: str) -> str:
    """``rest`` without one trailing ``/`` after a value (``/01/{gtin}/21/{serial}/``).

    A slash after an AI (``/21/``) is kept, so an empty value is still refused as empty."""
    if rest.endswith("/") and not rest.endswith("//") and rest.count("/") % 2 == 1:
        return rest[:-1]
    return rest


def _compact(link_type: str | None) -> str | None:
    """A GS1 link type as ``gs1:name``, however written: GS1 Web Vocabulary terms may be given as
    their full URI (``https://gs1.org/voc/pip``) or compact (``gs1:pip``)."""
    if link_type is not None and link_type.startswith(GS1) and len(link_type) > len(GS1):
        return "gs1:" + link_type.removeprefix(GS1)
    return link_type


def _redirect(link_type: str, targets: dict[str, str]) -> Response:
    if link_type not in targets:
        served = ", ".join(["all", *targets, "linkset"])
        detail = f"linkType {link_type!r} is not served; served: {served}"
        return _varying(problem(404, "not-found", "Link type not served", detail))
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
