"""``EncodedSlashes``: path parameters keep ``%2F`` and ``%25`` as the client sent them.

ASGI servers hand the application a percent-decoded ``path``, so ``/21/S%2F1`` (the serial
``S/1``, as GS1 Digital Link requires it to be written) reaches the router as ``/21/S/1``: one
more path segment, and a 400 for a label's own QR code. ``%25`` would be decoded twice (once
by the server, once by the Digital Link parser), so ``A%2541`` (the lot ``A%41``) would name
the lot ``AA``. This middleware rebuilds ``path`` from ``raw_path``, decoding every escape but
those two; route parameters then carry ``%2F`` and ``%25``, which ``DigitalLink.parse``
decodes exactly once. Other routes take URNs and slugs, which can hold neither.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

_KEPT: Final = re.compile(r"(%2[fF]|%25)")


def path_keeping_slashes(raw_path: bytes) -> str | None:
    """``raw_path`` decoded except for ``%2F`` and ``%25`` (written upper case); None if it is
    not ASCII, as a server never sends."""
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
