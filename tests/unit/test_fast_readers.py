"""The fast readers (and writer) of canonical lines and envelopes agree with the JSON path.

``Envelope.from_entry`` and ``parse_record`` read the canonical form of a one-signature envelope
and of an applied entry line with one regular expression each, and hand anything else to the
JSON path. Whatever the bytes, the answer (the value, whether it is canonical, or the error)
must be the one the JSON path alone gives.
"""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.bundle import _parse_json_record, parse_record
from ledger.bundle_records import EntryRecord
from ledger.canonical import parse_json
from ledger.envelope import Envelope, Signature
from ledger.errors import FormatError, LedgerError
from ledger.receipt import Violation

MANY = settings(max_examples=300, deadline=None)

_ascii = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=12)
_names = _ascii | st.text(min_size=1, max_size=8)  # quotes, backslashes, controls, non-ASCII
_signatures = st.builds(Signature, keyid=_names | st.just(""), sig=st.binary(max_size=70))
_envelopes = st.builds(
    Envelope,
    payload_type=_names,
    payload=st.binary(max_size=300),
    signatures=st.lists(_signatures, min_size=1, max_size=3).map(tuple),
)
_records = st.builds(
    EntryRecord,
    index=st.integers(0, 2**53 - 1),
    entry=st.binary(max_size=300),
    chain_hash=st.binary(min_size=32, max_size=32),
    applied=st.just(True),
    violation=st.none(),
) | st.builds(
    EntryRecord,
    index=st.integers(0, 10**6),
    entry=st.binary(max_size=100),
    chain_hash=st.binary(min_size=32, max_size=32),
    applied=st.just(False),
    violation=st.builds(Violation, st.text(max_size=20), st.text(max_size=40)),
)


def _mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Replace, insert or delete bytes: (operation, position, byte)."""
    out = bytearray(data)
    for operation, position, byte in edits:
        at = position % (len(out) + 1)
        if operation == 0 and at < len(out):
            out[at] = byte
        elif operation == 1:
            out.insert(at, byte)
        elif at < len(out):
            del out[at]
    return bytes(out)


_edits = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2**16), st.integers(0, 255)),
                  max_size=3)  # fmt: skip
# Bytes that matter to the regular expressions, so that mutations hit their edges.
_bytes = st.sampled_from(list(b'"\\{}[],:=+/-_ 0aAzZ9\n\x7f\xc3'))


def _outcome(read: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return read(*args, **kwargs)
    except LedgerError as exc:
        return type(exc), str(exc)


def _envelope_by_json(data: bytes) -> tuple[Envelope, bool]:
    envelope = Envelope.from_json(
        parse_json(data, max_bytes=len(data), max_depth=4, what="envelope")
    )
    return envelope, envelope.to_bytes() == data


@MANY
@given(_envelopes)
def test_every_envelope_writes_its_rfc8785_bytes_and_reads_back_as_itself(
    envelope: Envelope,
) -> None:
    data = envelope.to_bytes()
    assert data == rfc8785.dumps(envelope.to_json())  # the reference implementation
    assert Envelope.from_entry(data, max_bytes=len(data)) == (envelope, True)
    assert _envelope_by_json(data) == (envelope, True)


def test_a_logged_entry_takes_the_fast_path() -> None:
    envelope = Envelope("application/vnd.spola.event+json", b'{"v":1}', (Signature("k1", b"s"),))
    assert Envelope._from_canonical(envelope.to_bytes()) == envelope
    assert Envelope._from_canonical(envelope.to_bytes().replace(b"{", b" {", 1)) is None


@MANY
@given(_envelopes, _edits, st.lists(_bytes, max_size=3))
def test_mutated_envelopes_read_as_the_json_path_reads_them(
    envelope: Envelope, edits: list[tuple[int, int, int]], noise: list[int]
) -> None:
    data = _mutate(envelope.to_bytes(), edits)
    for byte in noise:  # a structural byte in the middle
        data = _mutate(data, [(1, len(data) // 2, byte)])
    fast = _outcome(Envelope.from_entry, data, max_bytes=len(data) + 1)
    assert fast == _outcome(_envelope_by_json, data)


@MANY
@given(_records)
def test_every_entry_line_reads_back_as_its_record(record: EntryRecord) -> None:
    line = record.to_line()
    assert parse_record(line, number=7) == _parse_json_record(line, 7) == record


def test_an_index_beyond_two_to_the_53_is_refused_on_either_path() -> None:
    record = EntryRecord(5, b"entry", bytes(32), applied=True, violation=None)
    line = record.to_line().replace(b'"index":5,', b'"index":9007199254740992,')
    refusal = _outcome(parse_record, line, number=2)
    assert refusal == _outcome(_parse_json_record, line, 2)
    assert refusal[0] is FormatError and "2^53" in refusal[1]


@MANY
@given(_records, _edits)
def test_mutated_entry_lines_read_as_the_json_path_reads_them(
    record: EntryRecord, edits: list[tuple[int, int, int]]
) -> None:
    line = _mutate(record.to_line(), edits)
    assert _outcome(parse_record, line, number=3) == _outcome(_parse_json_record, line, 3)


def test_near_canonical_entry_lines_are_refused_on_either_path() -> None:
    record = EntryRecord(5, b"entry", bytes(range(32)), applied=True, violation=None)
    line = record.to_line()
    chain = bytes(range(32)).hex().encode()
    variants = [
        line.replace(b'"index":5,', b'"index":05,'),
        line.replace(b'"index":5,', b'"index":-5,'),
        line.replace(b'"index":5,', b'"index": 5,'),
        line.replace(chain, chain.upper()),
        line.replace(b"ZW50cnk=", b"ZW50cnl="),  # the same bytes, with a pad bit set
        line.replace(b"ZW50cnk=", b"ZW50cnk"),  # unpadded
        line.replace(b"ZW50cnk=", b"ZW50\\/cnk="),  # an escaped solidus
        line.replace(b'"violation":null}', b'"violation":null,"x":1}'),
        line[:-1],  # no newline
    ]
    for variant in variants:
        assert variant != line
        fast = _outcome(parse_record, variant, number=2)
        assert fast == _outcome(_parse_json_record, variant, 2), variant
        assert fast[0] is FormatError, variant
