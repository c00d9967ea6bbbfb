"""RFC 8785 canonical bytes and the strict, bounded JSON parser."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from ledger.canonical import (
    MAX_SAFE_INTEGER,
    canonical_bytes,
    parse_canonical_object,
    parse_json,
)
from ledger.errors import FormatError, LimitError

# JSON values spola writes: no floats, integers within I-JSON's exact range.
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.text(st.characters(codec="utf-8"), max_size=12)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_objects = st.dictionaries(st.text(max_size=8), _values, max_size=6)


@given(_objects)
def test_fast_and_reference_serializations_agree(value: dict[str, object]) -> None:
    reference = bytes(rfc8785.dumps(value))
    assert canonical_bytes(value) == reference
    assert canonical_bytes(value, floats=False) == reference


@given(_objects)
def test_every_canonical_object_parses_back_to_itself(value: dict[str, object]) -> None:
    data = bytes(rfc8785.dumps(value))
    assert parse_canonical_object(data) == value


@given(_objects)
def test_reordered_members_are_not_canonical(value: dict[str, object]) -> None:
    if len(value) < 2:
        return
    shuffled = dict(reversed(list(value.items())))
    data = json.dumps(shuffled, separators=(",", ":"), ensure_ascii=False).encode()
    if data != bytes(rfc8785.dumps(value)):
        with pytest.raises(FormatError, match="canonical"):
            parse_canonical_object(data)


def test_whitespace_is_not_canonical() -> None:
    with pytest.raises(FormatError, match="canonical"):
        parse_canonical_object(b'{"a": 1}')


def test_escaped_non_ascii_is_not_canonical() -> None:
    with pytest.raises(FormatError, match="canonical"):
        parse_canonical_object(b'{"town":"Cant\\u00f9"}')
    assert parse_canonical_object('{"town":"Cantù"}'.encode()) == {"town": "Cantù"}


def test_duplicate_member_names_are_refused() -> None:
    with pytest.raises(FormatError, match="duplicate member name 'payload'"):
        parse_json(b'{"payload":"a","payload":"b"}')
    with pytest.raises(FormatError):
        parse_canonical_object(b'{"a":1,"a":2}')


def test_floats_are_refused_with_a_hint() -> None:
    with pytest.raises(FormatError, match="decimal strings"):
        parse_json(b'{"mass":1.5}')
    with pytest.raises(FormatError, match="decimal strings"):
        parse_json(b'{"mass":1e3}')


def test_integers_beyond_2_to_53_are_refused() -> None:
    parse_json(str(MAX_SAFE_INTEGER).encode())
    with pytest.raises(FormatError, match="2\\^53"):
        parse_json(str(MAX_SAFE_INTEGER + 1).encode())
    with pytest.raises(FormatError, match="2\\^53"):
        parse_json(b"9" * 100_000, max_bytes=200_000)


def test_nan_and_infinity_are_refused() -> None:
    for text in (b"NaN", b"Infinity", b"-Infinity"):
        with pytest.raises(FormatError):
            parse_json(text)


def test_oversize_input_is_refused_before_parsing() -> None:
    with pytest.raises(LimitError, match="over the limit of 10"):
        parse_json(b'"' + b"a" * 20 + b'"', max_bytes=10)


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(LimitError, match="nested deeper"):
        parse_json(b"[" * 40 + b"]" * 40, max_depth=32)
    with pytest.raises(LimitError, match="nested deeper"):
        parse_json(b"[" * 100_000 + b"]" * 100_000, max_bytes=1_000_000)
    assert parse_json(b"[" * 32 + b"]" * 32, max_depth=32) is not None


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(FormatError, match="UTF-8"):
        parse_json(b'{"a":"\xff"}')


def test_lone_surrogates_cannot_be_canonicalized() -> None:
    with pytest.raises(FormatError):
        parse_canonical_object(b'{"a":"\\ud800"}')
