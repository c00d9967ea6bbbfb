"""The GS1 Digital Link resolver: what a phone reaches when it scans a passport's QR code.

``GET /01/{gtin}[/10/{lot}][/21/{serial}]`` answers, by content negotiation:
- ``text/html`` (a browser): the consumer page, in Italian or English;
- ``application/ld+json`` or ``application/json``: the passport as UNTP-shaped JSON-LD;
- ``?linkType=linkset`` (or its older name ``all``) or ``Accept: application/linkset+json``: the
  RFC 9264 linkset;
- ``?linkType=gs1:pip`` (or another served link type, also written as its GS1 Web Vocabulary URI
  ``https://gs1.org/voc/pip``): a 307 redirect to that link, the request's other query
  parameters passed on as sent (GS1-Conformant Resolver 2.12).
Every answer and redirect carries the passport's links in a ``Link`` header, ``rel="linkset"``
among them, and CORS headers; OPTIONS answers a preflight. An item ``/10/{lot}/21/{serial}``
whose serial has no passport is a 404 even when its batch has one: GS1 lets a resolver answer
at a less granular level, but an unknown serial is what a counterfeit label carries, and the
genuine batch's passport would vouch for it.
A malformed identifier or a GTIN whose check digit fails is a 400 saying why, and so is a
``lang`` or ``linkType`` over its bound; an identifier with no passport is a 404. A browser gets
either as a friendly page in its reader's language (a label's QR code opens it), a machine a
problem+json. One trailing slash after the last value is tolerated, as phones and people add
it. ``/.well-known/gs1resolver`` describes this resolver (GS1-Conformant Resolver, section 3).
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import unquote

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
from api.problems import BadRequest, ledger_problem, problem
from api.settings import Settings
from ledger.errors import FormatError, LimitError, NotFoundError
from ledger.store.ledger import LedgerStore
from passports.build import Passport
from passports.jsonld import to_jsonld
from passports.linkset import GS1, LINKSET_JSON, link_header, link_targets, linkset
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
# GS1-Conformant Resolver: "SHALL support CORS" (every answer here: ``api.cors``) and GET, HEAD
# and OPTIONS; OPTIONS answers a preflight.
_METHODS: Final = "GET, HEAD, OPTIONS"
_PREFLIGHT: Final = {
    "Allow": _METHODS,
    "Access-Control-Allow-Methods": _METHODS,
    "Access-Control-Allow-Headers": "Accept, Accept-Language, If-None-Match",
    "Access-Control-Max-Age": "86400",
}


@router.get("/.well-known/gs1resolver", summary="GS1 resolver description file")
def resolver_description(settings: SettingsDep) -> dict[str, Any]:
    return {
        "name": "spola product passport resolver",
        "resolverRoot": settings.public_base_url,
        # Keys by AI, as the description file's schema names them ("gtin" is a deprecated alias).
        "supportedPrimaryKeys": ["01"],
        "supportedLinkType": [{"namespace": GS1, "prefix": "gs1:"}],
        # The default answer is the page; the linkset only when asked for (linkType, Accept).
        "linkTypeDefaultCanBeLinkset": False,
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
    return await _resolved(request, store, settings, rest, link_type=link_type, lang=lang)


@router.options("/01/{rest:path}", include_in_schema=False)
@router.options("/.well-known/gs1resolver", include_in_schema=False)
def preflight() -> Response:
    """A CORS preflight (or a plain OPTIONS): what a web page on another origin may ask."""
    return Response(status_code=204, headers=_PREFLIGHT)


async def _resolved(
    request: Request, store: LedgerStore, settings: Settings, rest: str, *,
    link_type: str | None, lang: str | None,
) -> Response:  # fmt: skip
    overlong = _overlong(lang=lang, linkType=link_type)
    link_type = None if overlong else _compact(link_type)
    wanted = "linkset" if link_type in _LINKSET_TYPES else negotiate(request)
    told = None if overlong is not None and overlong.startswith("query.lang") else lang
    language = choose_language(request.headers.get("accept-language"), told)
    path = "/01/" + _without_trailing_slash(rest)
    query = request.scope.get("query_string", b"").decode("latin-1")
    try:
        if overlong is not None:
            raise BadRequest(overlong)
        subject = subject_of(path)
        passport = await load(store, subject)
    except (BadRequest, NotFoundError, LimitError, FormatError) as exc:
        return _refused(exc, html=wanted == "html", lang=language, path=path)
    uri = public_uri(settings.public_base_url, subject)
    api_url = passport_api_url(settings.public_base_url, subject)
    links = link_header(uri, api_url)
    if link_type is not None and link_type not in _LINKSET_TYPES:
        targets = link_targets(uri, api_url)
        if link_type in targets:
            return _redirect(_with_query(targets[link_type], _without_link_type(query)), links)
        return _no_link(link_type, targets, html=wanted == "html", lang=language, path=path)
    if wanted == "html":
        body, media = await _page(store, passport, uri=uri, lang=language), "text/html"
    elif wanted == "linkset":
        body = json_bytes(linkset(passport.public(), uri=uri, api_url=api_url))
        media = LINKSET_JSON
    else:
        body = json_bytes(to_jsonld(passport.public(), uri=uri, api_url=api_url))
        media = "application/ld+json"
    response = etagged(request, body, media, cache=REVALIDATE)
    response.headers["Link"] = links
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
    400; no passport there is 404; facts beyond the walk's bounds 413 (for machines the
    problem ``api.problems`` words). Every one carries CORS headers (``api.cors``)."""
    if html:
        status, kind = next(
            (status, kind) for cause, status, kind in _PAGE_REFUSALS if isinstance(exc, cause)
        )
        return _refusal_page(status, kind, lang=lang, path=path)
    if isinstance(exc, LimitError):
        return ledger_problem(exc)
    if isinstance(exc, NotFoundError):
        return _varying(problem(404, "not-found", "No passport", str(exc)))
    if isinstance(exc, BadRequest):
        return _varying(problem(400, "bad-request", "Bad request", exc.detail))
    return _varying(problem(400, "bad-identifier", "Not a valid GS1 Digital Link", str(exc)))


# The page a browser is refused with, by cause; the last matches every refusal.
_PAGE_REFUSALS: Final[tuple[tuple[type[Exception], int, Refusal], ...]] = (
    (LimitError, 413, "too_large"),
    (NotFoundError, 404, "not_found"),
    (Exception, 400, "bad_link"),
)


def _no_link(
    link_type: str, targets: dict[str, str], *, html: bool, lang: PageLang, path: str
) -> Response:
    """A link type the passport does not have (Resolver 2.6.2: 404), naming the served ones."""
    if html:
        return _refusal_page(404, "no_link", lang=lang, path=path)
    served = ", ".join(["all", *targets, "linkset"])
    detail = f"linkType {link_type!r} is not served; served: {served}"
    return _varying(problem(404, "not-found", "Link type not served", detail))


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


def _redirect(target: str, links: str) -> Response:
    """A 307 (GS1-Conformant Resolver) to ``target`` with the ``Link`` header of the passport
    it belongs to; revalidated, as the passport's links change with its versions."""
    answer = RedirectResponse(target, status_code=307)
    answer.headers.update(_REFUSAL_HEADERS | {"Link": links})
    return answer


def _without_link_type(query: str) -> str:
    """The request's query without its ``linkType`` pairs, every other pair as sent."""
    pairs = query.split("&")
    return "&".join(p for p in pairs if p and unquote(p.partition("=")[0]) != "linkType")


def _with_query(target: str, query: str) -> str:
    """``target`` with ``query`` passed on ("by default, SHALL pass on all key=value pairs in
    the query string ... when redirecting"), before any fragment."""
    if not query:
        return target
    before, hashmark, fragment = target.partition("#")
    return f"{before}{'&' if '?' in before else '?'}{query}{hashmark}{fragment}"


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
