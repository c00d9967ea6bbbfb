"""``HeadAsGet``: every resource that answers GET answers HEAD alike, without the body.

RFC 9110 §9.3.2: a server SHOULD send in answer to HEAD the header fields it would send to GET
(Content-Length, ETag, Cache-Control, Vary …) and no content. Caches, link checkers and
monitors rely on it. FastAPI's ``@router.get`` serves GET alone, and declaring HEAD on each
route would add a second operation per path to ``/openapi.json``, so this pure ASGI middleware,
the outermost of the app's own but ``api.cors``, runs a HEAD request as the GET it mirrors and
drops the body on the way out. Everything the GET would go through, HEAD goes through: the
limits and the rate limit (a HEAD spends a token as a GET does), routing (an unknown path is
the same 404, a POST-only one the same 405), ETag revalidation (a matching ``If-None-Match`` is
304) and the problem details, whose headers stay and whose body goes.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # a streamed part: only the last, empty, message is passed on
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
