"""``EncodedSlashes``: path parameters keep ``%2F``, ``%25``, ``%3F`` and ``%23`` as sent.

ASGI servers hand the application a percent-decoded ``path``, so ``/21/S%2F1`` (the serial
``S/1``, as GS1 Digital Link requires it to be written) reaches the router as ``/21/S/1``: one
more path segment, and a 400 for a label's own QR code. ``%25`` would be decoded twice (once
by the server, once by the Digital Link parser), so ``A%2541`` (the lot ``A%41``) would name
the lot ``AA``. ``%3F`` and ``%23`` are a value's own ``?`` and ``#`` (GS1 allows ``?`` in a
serial): decoded here, the Digital Link parser would read them as the start of a query or a
fragment, and ``/21/Q%3F1`` (the serial ``Q?1``) would open the passport of the serial ``Q``.
This middleware rebuilds ``path`` from ``raw_path``, decoding every escape but those four;
route parameters then carry them as written, and ``DigitalLink.parse`` decodes each exactly
once. Other routes take URNs and slugs, which can hold none of them.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

_KEPT: Final = re.compile(r"(%2[fF]|%25|%3[fF]|%23)")


def path_keeping_slashes(raw_path: bytes) -> str | None:
    """``raw_path`` decoded except for ``%2F``, ``%25``, ``%3F`` and ``%23`` (written upper
    case); None if it is not ASCII, as a server never sends."""
    try:
        text = raw_path.decode("ascii")
    except UnicodeDecodeError:
        return None
    parts = _KEPT.split(text)
    # split() with a group alternates text and separators: decode the text, keep the rest.
    return "".join(part.upper() if i % 2 else unquote(part) for i, part in enumerate(parts))


class EncodedSlashes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path")
            # Behind a root path, ``path`` and ``raw_path`` differ by more than decoding.
            if raw and b"%" in raw and not scope.get("root_path"):
                path = path_keeping_slashes(raw)
                if path is not None:
                    scope = {**scope, "path": path}
        await self.app(scope, receive, send)
