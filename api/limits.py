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
Every refusal is an RFC 9457 problem, as ``api.problems`` writes them.
"""

from __future__ import annotations

import json
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.identifiers import control_character

# Well above any real client (browsers send a few hundred bytes of headers, a Digital Link URI
# is at most 2,048 characters) and well below what the server itself would buffer.
MAX_TARGET_BYTES: Final = 8 * 1024
MAX_HEADER_BYTES: Final = 16 * 1024
# Pages that refuse a control character in any parameter they read themselves, before any
# read, in their reader's language (the search page: api.routes.directory).
PAGES_REFUSING_CONTROLS: Final = frozenset({"/directory"})


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
        if refusal := self._head_refusal(scope):
            await _problem(send, *refusal)
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

    def _head_refusal(self, scope: Scope) -> tuple[int, str, str, str] | None:
        target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"])
        if target > self.max_target_bytes:
            detail = f"request target is {target} bytes, over the limit of {self.max_target_bytes}"
            return 414, "uri-too-long", "Request target too long", detail
        # ``path`` is decoded (by the server, then api.paths): %0A arrives as a line feed.
        if (control := control_character(scope["path"])) is not None:
            detail = f"the request path holds {control}, which no identifier, URN or slug may"
            return 400, "bad-request", "Bad request", detail
        if b"%00" in scope["query_string"] and scope["path"] not in PAGES_REFUSING_CONTROLS:
            detail = "the request target holds a NUL character (%00), which no parameter may"
            return 400, "bad-request", "Bad request", detail
        headers = sum(len(name) + len(value) for name, value in scope["headers"])
        if headers > self.max_header_bytes:
            detail = (
                f"request headers are {headers} bytes, over the limit of {self.max_header_bytes}"
            )
            return 431, "headers-too-large", "Request headers too large", detail
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


async def _problem(send: Send, status: int, kind: str, title: str, detail: str) -> None:
    body: dict[str, Any] = {
        "type": f"urn:spola:problem:{kind}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class _TooLarge(Exception):
    pass
