"""Bounded requests: refuse oversize input before it is read, let alone buffered.

A pure ASGI middleware, the outermost of the app's own:
- a request target (path and query string) over ``max_target_bytes`` is refused with 414, and
  request headers over ``max_header_bytes`` in all with 431 (RFC 6585), before anything else
  runs: no route parses a 100 KB Digital Link or a megabyte of cookies;
- a control character in the path (C0 or DEL: ``%00``, ``%0A``, ``%0D``, a tab, ESC ...) is
  refused with 400 naming it by its escape, before routing: no identifier, URN, slug or Digital
  Link holds one; a route pattern cannot match a line break (a bare 404 "Not Found"), others
  would look the value up (``urlsplit`` even drops a line break, naming another item);
- a NUL character in the query string (``%00``) is refused with 400 too: no filter holds one,
  and PostgreSQL text cannot, so a route would fail in the driver; except on the pages of
  ``PAGES_REFUSING_CONTROLS``, which say it in their reader's language;
- a declared Content-Length over ``max_bytes`` (or one that is not a number) is refused with
  413 at once, before a byte of the body is read; a body without one (chunked) is counted as it
  streams and cut off at the limit.
Every refusal is an RFC 9457 problem, as ``api.problems`` writes them; except that a browser
refused one of the service's pages (``page_of``) gets a page in its reader's language, as the
page's own refusals are: the passport page's look for an address a label would carry (``/01/``),
the directory's for the home, directory and company pages. A client asking for JSON keeps the
problem (``api.passport_http.negotiate``). The request headers' refusal (431) is a page for a
browser on any address (``api.refusal_page``; one whose Accept names HTML, elsewhere than the
pages). A browser is refused a page's broken percent-escape here too (422, as ``api.escapes``
refuses it to every other client after routing, naming the parameter).

``page_refusal`` words the same way what is refused of a page's address after this middleware:
an address no route answers (404) and a method no page serves (405, ``api.problems``), and a
spent rate limit (429, ``api.ratelimit``). The 404 and the 405 are a page for a browser on any
other address too (``api.refusal_page``), the problem varying with Accept there.

Requests whose head is over the server's own bound never reach the app: uvicorn (h11) answers
a head still incomplete past its buffer (``h11_max_incomplete_event_size``: 16 KiB unless
``spola serve`` sets ``HEAD_BUFFER_BYTES``, as it does) with a plain-text 400 of its own, so the
431 here is answered to any head up to that buffer, however it arrives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, Literal
from urllib.parse import unquote

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.directory_page import (
    MAX_NAME_SHOWN,
    REFUSAL_HEADERS,
    Refused,
    Unanswered,
    page_language,
    render_request_refused,
    render_unanswered,
)
from api.escapes import escape_fault
from api.passport_http import PAGE_POLICY, REVALIDATE, negotiate
from api.refusal_page import (
    PAGE_HEADERS,
    PROBLEM_VARY,
    asks_for_html,
    methods_served,
    render_headers_too_large,
    render_method,
    render_no_route,
)
from ledger.identifiers import control_character
from passports.page import Lang, render_not_found
from passports.page import Refusal as PassportRefusal

# Well above any real client (browsers send a few hundred bytes of headers, a Digital Link URI
# is at most 2,048 characters) and below what the server buffers of a head (HEAD_BUFFER_BYTES).
MAX_TARGET_BYTES: Final = 8 * 1024
MAX_HEADER_BYTES: Final = 16 * 1024
# What the server (uvicorn's h11) buffers of a request head still arriving: a head over the
# limits above, sent in pieces as networks deliver it, reaches the app whole and is refused
# here (414, 431: a page for a browser). h11's own 16 KiB would cut it off first with a bare
# plain-text 400. A head past this is still that 400.
HEAD_BUFFER_BYTES: Final = 64 * 1024
# Pages that refuse a control character in any parameter they read themselves, before any
# read, in their reader's language (the search page: api.routes.directory).
PAGES_REFUSING_CONTROLS: Final = frozenset({"/directory"})
# Characters of a ``lang`` a refusal page reads: enough for any language tag a page answers in.
MAX_LANG_READ: Final = 8
# The passport page's refusals change with Accept and the language, and a label is printed
# before its passport is issued: never kept unchecked (as api.routes.resolver's).
_PASSPORT_REFUSAL_HEADERS: Final = {
    "Cache-Control": REVALIDATE,
    "Vary": "Accept, Accept-Language",
}


def page_of(path: str) -> Literal["passport", "directory"] | None:
    """Which of the service's pages ``path`` (decoded) addresses, by the look its refusals
    take: the passport page a label's QR code opens, or the home, directory and company
    pages; None for an API route. ``/01`` and ``/companies`` alone are a label's or a
    company page's address cut short."""
    if path == "/01" or path.startswith("/01/"):
        return "passport"
    if path in ("/", "/directory", "/companies") or path.startswith(("/directory/", "/companies/")):
        return "directory"
    return None


# The passport page's wording of what ``render_unanswered`` says in the directory's look.
_PASSPORT_UNANSWERED: Final[dict[Unanswered, PassportRefusal]] = {
    "no_page": "not_found",
    "method": "method",
    "rate_limited": "rate_limited",
}


def page_refusal(
    scope: Scope, reason: Unanswered
) -> tuple[str | None, dict[str, str]] | None:  # fmt: skip
    """How a page's address answers a request no page answered (``reason``): None when
    ``scope`` addresses none of the pages (the API's problem, as it is); else the page's HTML
    in the reader's language for a browser (None for a client asking for JSON, who gets the
    problem) and the headers either answer carries, as the page's other refusals do."""
    page = page_of(scope["path"])
    if page is None:
        return None if reason == "rate_limited" else _refusal_elsewhere(scope, reason)
    headers = dict(REFUSAL_HEADERS if page == "directory" else _PASSPORT_REFUSAL_HEADERS)
    request = Request(scope)
    if negotiate(request) != "html":
        return None, headers
    lang, _ = page_language(request, request.query_params.get("lang"), MAX_LANG_READ)
    if page == "passport":
        kind = _PASSPORT_UNANSWERED[reason]
        headers["Content-Security-Policy"] = PAGE_POLICY
        return render_not_found(lang=lang, path=scope["path"], kind=kind), headers
    return render_unanswered(reason, scope["path"], lang), headers


def _refusal_elsewhere(
    scope: Scope, reason: Literal["no_page", "method"]
) -> tuple[str | None, dict[str, str]]:  # fmt: skip
    """``page_refusal`` on an address that is none of the pages: the page that says it for a
    browser (``api.refusal_page``), else the problem, varying with Accept either way."""
    request = Request(scope)
    if not asks_for_html(request):
        return None, dict(PROBLEM_VARY)
    lang, _ = page_language(request, request.query_params.get("lang"), MAX_LANG_READ)
    path = scope["path"]
    if reason == "no_page":
        return render_no_route(path, lang), dict(PAGE_HEADERS)
    return render_method(scope["method"], path, methods_served(scope), lang), dict(PAGE_HEADERS)


@dataclass(frozen=True)
class _Refusal:
    """A request refused before routing: its problem and, for a page to word it, ``refused``
    (None when no page says it), or ``said``: the page that says it to a browser on any
    address, in the language given."""

    status: int
    kind: str
    title: str
    detail: str
    refused: Refused | None
    said: Callable[[Lang], str] | None = None


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        max_target_bytes: int = MAX_TARGET_BYTES,
        max_header_bytes: int = MAX_HEADER_BYTES,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_target_bytes = max_target_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if refusal := self._head_refusal(scope) or _broken_escape_on_a_page(scope):
            await _refuse_before_routing(scope, send, refusal)
            return
        if self._declared_too_large(scope):
            await self._refuse(send)
            return
        seen = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            if refused:
                await self._refuse(send)

    def _head_refusal(self, scope: Scope) -> _Refusal | None:
        path: str = scope["path"]
        target = len(scope.get("raw_path") or path.encode()) + len(scope["query_string"])
        if target > self.max_target_bytes:
            detail = f"request target is {target} bytes, over the limit of {self.max_target_bytes}"
            refused = Refused("path", "too_long", limit=str(self.max_target_bytes))
            return _Refusal(414, "uri-too-long", "Request target too long", detail, refused)
        # ``path`` is decoded (by the server, then api.paths): %0A arrives as a line feed.
        if (control := control_character(path)) is not None:
            detail = f"the request path holds {control}, which no identifier, URN or slug may"
            refused = Refused("path", "control", path)
            return _Refusal(400, "bad-request", "Bad request", detail, refused)
        if b"%00" in scope["query_string"] and path not in PAGES_REFUSING_CONTROLS:
            detail = "the request target holds a NUL character (%00), which no parameter may"
            return _Refusal(400, "bad-request", "Bad request", detail, _nul_parameter(scope))
        headers = sum(len(name) + len(value) for name, value in scope["headers"])
        if headers > self.max_header_bytes:
            detail = (
                f"request headers are {headers} bytes, over the limit of {self.max_header_bytes}"
            )
            said = partial(render_headers_too_large, headers, self.max_header_bytes)
            return _Refusal(
                431, "headers-too-large", "Request headers too large", detail, None, said
            )
        return None

    def _declared_too_large(self, scope: Scope) -> bool:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is None:
            return False
        # Digits counted before int() runs: int() refuses over 4,300 digits with a ValueError.
        return not declared.isdigit() or len(declared) > 18 or int(declared) > self.max_bytes

    async def _refuse(self, send: Send) -> None:
        detail = f"request body is over the limit of {self.max_bytes} bytes"
        await _problem(send, 413, "too-large", "Request body too large", detail)


def _nul_parameter(scope: Scope) -> Refused:
    # The first parameter holding a NUL, as a page names it: by its name, quoting its value.
    for name, value in Request(scope).query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            return Refused(name[:MAX_NAME_SHOWN], "nul", value if "\x00" in value else name)
    return Refused("query", "nul", "\x00")  # a NUL in no parameter: one without its '='


def _broken_escape_on_a_page(scope: Scope) -> _Refusal | None:
    """A browser's request for a page whose path or a query parameter holds a broken
    percent-escape: the page quotes the part as written. None for any other request, which
    ``api.escapes`` refuses after routing, naming the parameter (422 ``format``)."""
    if page_of(scope["path"]) is None or negotiate(Request(scope)) != "html":
        return None
    raw_path: bytes = scope.get("raw_path") or b""
    refused = None
    if escape_fault(raw_path) is not None:
        refused = Refused("path", "escape", raw_path.decode("ascii", "backslashreplace"))
    for pair in scope["query_string"].split(b"&"):
        name, _, value = pair.partition(b"=")
        if refused is None and (escape_fault(name) or escape_fault(value)):
            shown = unquote(name.decode("ascii", "backslashreplace"))[:MAX_NAME_SHOWN]
            broken = value if escape_fault(value) else name
            refused = Refused(shown, "escape", broken.decode("ascii", "backslashreplace"))
    if refused is None:
        return None
    return _Refusal(422, "format", "Malformed input", "broken percent-escape", refused)


async def _refuse_before_routing(scope: Scope, send: Send, refusal: _Refusal) -> None:
    """``refusal`` as a page for a browser that asked for one of the pages, else as a problem.
    Either way, on a page's address, varying with Accept as the page's own refusals do."""
    if refusal.said is not None:
        await _said_anywhere(scope, send, refusal, refusal.said)
        return
    page = page_of(scope["path"])
    if page is None or refusal.refused is None:
        await _problem(send, refusal.status, refusal.kind, refusal.title, refusal.detail)
        return
    headers = REFUSAL_HEADERS if page == "directory" else _PASSPORT_REFUSAL_HEADERS
    request = Request(scope)
    if negotiate(request) != "html":
        await _problem(send, refusal.status, refusal.kind, refusal.title, refusal.detail,
                       headers=headers)  # fmt: skip
        return
    # A ``lang`` is read only when given once and short: else Accept-Language says it.
    lang, _ = page_language(request, request.query_params.get("lang"), MAX_LANG_READ)
    if page == "passport":
        html = render_not_found(lang=lang, path=scope["path"], kind="bad_link")
        headers = {**headers, "Content-Security-Policy": PAGE_POLICY}
    else:
        html = render_request_refused(refusal.refused, lang)
    await respond(send, refusal.status, "text/html; charset=utf-8", html.encode(), headers)


async def _said_anywhere(
    scope: Scope, send: Send, refusal: _Refusal, said: Callable[[Lang], str]
) -> None:  # fmt: skip
    """``refusal`` as the page ``said`` words for a browser, on any address (one asking for a
    page's address as the page decides, ``negotiate``; elsewhere one naming HTML), else as its
    problem; either way with the headers a page's address refuses with, or varying with
    Accept elsewhere."""
    page = page_of(scope["path"])
    request = Request(scope)
    browser = negotiate(request) == "html" if page is not None else asks_for_html(request)
    if page is not None:
        headers = REFUSAL_HEADERS if page == "directory" else _PASSPORT_REFUSAL_HEADERS
    else:
        headers = PAGE_HEADERS if browser else PROBLEM_VARY
    if not browser:
        await _problem(send, refusal.status, refusal.kind, refusal.title, refusal.detail,
                       headers=headers)  # fmt: skip
        return
    lang, _ = page_language(request, request.query_params.get("lang"), MAX_LANG_READ)
    headers = {**headers, "Content-Security-Policy": PAGE_POLICY}
    await respond(send, refusal.status, "text/html; charset=utf-8", said(lang).encode(), headers)


async def _problem(
    send: Send, status: int, kind: str, title: str, detail: str, *,
    headers: dict[str, str] | None = None,
) -> None:  # fmt: skip
    body: dict[str, Any] = {
        "type": f"urn:spola:problem:{kind}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    await respond(send, status, "application/problem+json", json.dumps(body).encode(), headers)


async def respond(
    send: Send, status: int, media_type: str, data: bytes, headers: dict[str, str] | None = None
) -> None:
    """Answer ``data`` of ``media_type`` with ``status`` and ``headers``, from ASGI middleware."""
    extra = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media_type.encode()),
                (b"content-length", str(len(data)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class _TooLarge(Exception):
    pass
