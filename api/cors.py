"""``ResolverCors``: every answer under the resolver's addresses may be read from any origin.

The GS1-Conformant Resolver asks a resolver to support CORS, so that a web application on
another origin (a brand's shop, a recycler's sorting app) can read a passport's linkset, its
links and its ETag. Everything the resolver serves is public (it takes no token), so any
origin may read it. A pure ASGI middleware, the outermost of the app's own, adds the headers to
every answer under ``/01/`` and ``/.well-known/gs1resolver`` — the refusals that never reach
the resolver's routes too (a broken escape's 422, a 405, a 429, a 431) — where the answer does
not set them itself; the preflight is the resolver's OPTIONS route.
"""

from __future__ import annotations

from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CROSS_ORIGIN: Final = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Link, ETag",
}
RESOLVER_PREFIX: Final = "/01/"
DESCRIPTION: Final = "/.well-known/gs1resolver"


def is_resolver_path(path: str) -> bool:
    """Whether ``path`` is one of the resolver's addresses (a GTIN's Digital Link, its
    description file)."""
    return path.startswith(RESOLVER_PREFIX) or path.rstrip("/") == DESCRIPTION


class ResolverCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_resolver_path(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def readable_anywhere(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in CROSS_ORIGIN.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, readable_anywhere)
