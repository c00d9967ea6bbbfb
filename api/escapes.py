"""Percent-escapes as the client wrote them: a broken one is refused, naming its parameter.

RFC 3986 §2.1 writes a percent-escape as ``%`` and two hex digits, and §2.5 has text encoded as
UTF-8 before it is escaped. ASGI servers and Starlette's query parser decode leniently: ``%zz``
is kept as written and bytes that are not UTF-8 become U+FFFD. A lot ``urn:spola:lot:x%zz`` or
a serial ``%E0%A4`` would then be looked up as decoded and answered 404 "not found", when the
request itself was malformed.

``check_escapes``, a dependency of every route (``api.main``), reads the request target as
sent (the ASGI ``raw_path`` and ``query_string``) and refuses the first broken escape with
``FormatError``: a 422 ``format`` problem whose detail names the parameter as a validation
error does (``query.lot: …``, ``path.lot_id: …``) and quotes the escape. It leaves alone
what the escapes encode: whether a value is a valid identifier is the route's to say.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote, unquote_to_bytes

from fastapi import Request

from ledger.errors import FormatError

_NOT_AN_ESCAPE: Final = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_VALUE_END: Final = re.compile(rb"[/?#&=;]")
_REPLACED: Final = "\ufffd"  # what a lenient decoder makes of bytes that are not UTF-8
MAX_NAME: Final = 64  # characters of a parameter's name quoted in a detail


def escape_fault(raw: bytes) -> tuple[str, str] | None:
    """What is wrong with the percent-escapes of ``raw``, and the text a lenient decoder made
    of the fault; None when every escape is well formed and the whole decodes as UTF-8."""
    found = _NOT_AN_ESCAPE.search(raw)
    if found is not None:
        # '%' and what stands for its two digits, up to the end of the value.
        digits = _VALUE_END.split(raw[found.end() : found.end() + 2], maxsplit=1)[0]
        shown = "%" + digits.decode("ascii", "backslashreplace")
        fault = f"{shown!r} is not a percent-escape ('%' and two hex digits; '%' itself is %25)"
        return fault, shown
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        escapes = "".join(f"%{byte:02X}" for byte in exc.object[exc.start : exc.end])
        return f"the escapes {escapes!r} do not decode as UTF-8", _REPLACED
    return None


def printable(text: str) -> str:
    """``text`` with what a terminal would act on or a page would not show (a newline, ESC,
    U+2028, a bidi override, a lone surrogate …) written as its Python escape: a detail is shown
    on one line by a CLI, and a refused value can neither hide nor reorder on a page."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _query_fault(query: bytes) -> str | None:
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        fault = escape_fault(name) or escape_fault(value)
        if fault is not None:
            shown = printable(unquote(name.decode("ascii", "backslashreplace"))[:MAX_NAME])
            return f"query.{shown}: {fault[0]}"
    return None


def _path_fault(request: Request) -> str | None:
    raw = request.scope.get("raw_path")
    fault = None if not raw else escape_fault(raw)
    if fault is None:
        return None
    detail, decoded = fault
    # The route's own text holds no escape, so a parameter's decoded value holds the fault.
    params = request.path_params
    name = next((n for n, v in params.items() if decoded in str(v)), None)
    return f"path.{name}: {detail}" if name is not None else f"path: {detail}"


async def check_escapes(request: Request) -> None:
    """Raise FormatError naming the first parameter whose percent-escapes are broken."""
    fault = _path_fault(request) or _query_fault(request.scope["query_string"])
    if fault is not None:
        raise FormatError(fault)
