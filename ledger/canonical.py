"""Canonical JSON (RFC 8785, JCS) and bounded, strict JSON parsing.

spola signs bytes, never objects: a payload is serialized once with RFC 8785 by its signer and
the ledger keeps those exact bytes. This module owns the two directions of that contract:
``canonical_bytes`` produces JCS bytes, and ``parse_canonical_object`` accepts only bytes that
already are JCS (so one event has exactly one byte form, and two different byte strings can never
claim to be the same event). The parsers are bounded in size, depth and integer range, and
refuse what RFC 8785 / I-JSON (RFC 7493) refuse: duplicate member names, lone surrogates,
NaN and the infinities. Floats are refused too: spola writes quantities as decimal strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

import rfc8785

from ledger.errors import FormatError, LimitError

MAX_SAFE_INTEGER: Final = 2**53 - 1  # RFC 8785 §3.2.2.3 / I-JSON: integers exact in IEEE 754
DEFAULT_MAX_BYTES: Final = 64 * 1024
DEFAULT_MAX_DEPTH: Final = 32
LONE_SURROGATE: Final = "lone surrogate in a string (I-JSON, RFC 7493)"

# A lone surrogate can reach a parsed string only through a \u escape of D800-DFFF (strict
# UTF-8 decoding refuses encoded ones): the bytes are searched for one before the (rare, costly)
# look at the parsed value. JSON writes the escape as lower-case \u, its hex digits in any case.
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_BACKSLASH: Final = ord("\\")  # an int: ``in`` then is one memchr, ten times faster than b"\\"


def canonical_bytes(value: Any, *, floats: bool = True) -> bytes:
    """Serialize ``value`` with RFC 8785; raises FormatError for what JCS cannot represent.

    With ``floats=False`` the caller promises that ``value`` holds no float (only objects,
    arrays, strings, integers, booleans and null), which allows a fast path: for such values
    whose serialization is pure ASCII, the C JSON encoder with sorted keys and no whitespace
    writes exactly the RFC 8785 bytes (see ``_is_canonical``). Envelopes are always such values.
    """
    if not floats:
        text = _sorted_compact(value)
        if text.isascii():
            return text.encode("ascii")
    try:
        return bytes(rfc8785.dumps(value))
    except UnicodeEncodeError as exc:  # rfc8785 sorts member names by their UTF-16 encoding
        raise FormatError(f"cannot canonicalize JSON: {LONE_SURROGATE}") from exc
    except rfc8785.CanonicalizationError as exc:
        if isinstance(exc.__cause__, UnicodeEncodeError):  # in a string value
            raise FormatError(f"cannot canonicalize JSON: {LONE_SURROGATE}") from exc
        raise FormatError(f"cannot canonicalize JSON: {exc}") from exc


def _refuse_float(text: str) -> Any:
    raise FormatError(f"number {text[:40]} is not an integer: write fractions as decimal strings")


def _bounded_int(text: str) -> int:
    # Checked on the digits before int() runs, so a 10^6-digit number costs nothing.
    if len(text.lstrip("-")) > 16 or abs(value := int(text)) > MAX_SAFE_INTEGER:
        raise FormatError(f"integer {text[:40]} is outside ±(2^53 - 1)")
    return value


def _refuse_constant(name: str) -> Any:
    raise FormatError(f"{name} is not JSON")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise FormatError(f"duplicate member name {key!r}")
            seen.add(key)
    return obj


# Built once: json.loads/json.dumps with options build a new decoder/encoder on every call,
# which costs as much as parsing a small payload.
_STRICT = json.JSONDecoder(
    object_pairs_hook=_unique_members,
    parse_float=_refuse_float,
    parse_int=_bounded_int,
    parse_constant=_refuse_constant,
)
_LENIENT_NAMES = json.JSONDecoder(
    parse_float=_refuse_float, parse_int=_bounded_int, parse_constant=_refuse_constant
)
_SORTED_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sorted_compact_encoder() -> Callable[[Any], str]:
    # JSONEncoder.encode builds its C encoder again on every call, a third of the cost of
    # encoding a payload; the same C encoder built once writes the same text (no cycle check:
    # parsed JSON has no cycles, and values spola serializes are trees). The C encoder's
    # arguments are CPython's internals: where they differ, or without it, the public path.
    make = getattr(json.encoder, "c_make_encoder", None)
    probe = {"b": [1, None, True, "\u00e9\n"], "a": {"c": -2, "": False}}
    try:
        encoder = make(  # type: ignore[misc]
            None, _SORTED_COMPACT.default, json.encoder.encode_basestring, None, ":", ",",
            True, False, False,
        )  # fmt: skip
        if "".join(encoder(probe, 0)) == _SORTED_COMPACT.encode(probe):
            return lambda value: "".join(encoder(value, 0))
    except TypeError:
        pass
    return _SORTED_COMPACT.encode


_sorted_compact = _sorted_compact_encoder()


def _depth(value: Any) -> int:
    # Iterative: the value may be thousands of levels deep, beyond Python's recursion limit.
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        else:
            continue
        deepest = max(deepest, depth + 1)
    return deepest


def parse_json(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    what: str = "JSON",
    check_duplicates: bool = True,
) -> Any:
    """Parse untrusted JSON bytes strictly and within bounds.

    Raises LimitError for input over ``max_bytes`` or nested deeper than ``max_depth``, and
    FormatError for anything that is not strict UTF-8 I-JSON without floats (a string or
    member name holding a lone surrogate included).
    """
    if len(data) > max_bytes:
        raise LimitError(f"{what} is {len(data)} bytes, over the limit of {max_bytes}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{what} is not valid UTF-8 (byte {exc.start})") from exc
    try:
        value = (_STRICT if check_duplicates else _LENIENT_NAMES).decode(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{what} is not valid JSON: {exc.msg} at position {exc.pos}") from exc
    except RecursionError as exc:
        raise LimitError(f"{what} is nested deeper than {max_depth} levels") from exc
    # Cheap upper bound first: depth never exceeds the number of opening brackets.
    if data.count(b"[") + data.count(b"{") > max_depth and _depth(value) > max_depth:
        raise LimitError(f"{what} is nested deeper than {max_depth} levels")
    if _BACKSLASH in data and _SURROGATE_ESCAPE.search(data) and _has_lone_surrogate(value):
        raise FormatError(f"{what} has a {LONE_SURROGATE}")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    # Escaped pairs were joined into one code point by the decoder: any surrogate left is alone.
    # Written out, every member name and string of the value is in one str to search.
    return _SURROGATE.search(_sorted_compact(value)) is not None


def _is_canonical(value: Any, data: bytes) -> bool:
    # For ASCII-only input, the C json encoder with sorted keys and no spaces writes exactly
    # RFC 8785 bytes: keys sort identically by code point and by UTF-16 unit when all are ASCII,
    # strings escape the same way (RFC 8785 §3.2.2.2), and floats were refused on parsing.
    # Anything else takes the reference implementation. tests/unit/test_canonical.py holds the
    # property test that keeps the two paths equal.
    if data.isascii():
        return _sorted_compact(value) == data.decode("ascii")
    return canonical_bytes(value) == data


def parse_canonical_object(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "payload"
) -> dict[str, Any]:
    """Parse bytes that must be one JSON object already in RFC 8785 canonical form."""
    # Duplicate member names need no hook here: JSON with a duplicate name never equals the
    # canonical serialization of what it parses to, so the comparison below refuses it.
    value = parse_json(data, max_bytes=max_bytes, what=what, check_duplicates=False)
    if not isinstance(value, dict):
        raise FormatError(f"{what} must be a JSON object, not {type(value).__name__}")
    if not _is_canonical(value, data):
        raise FormatError(f"{what} is not in RFC 8785 canonical form: serialize it with JCS")
    return value
