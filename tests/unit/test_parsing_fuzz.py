"""Fuzzing the parsers of untrusted input: only ``LedgerError`` ever escapes.

Every byte a client, a terminal or an auditor's bundle hands the core goes through one of these
parsers: ``Envelope.from_bytes`` (DSSE envelopes), ``parse_event`` (event payloads), the bundle
line parsers (``Manifest.from_line``, ``parse_record``), ``DigitalLink.parse`` (what a QR code
resolves), ``verify_checkpoint`` (signed notes) and ``Verifier.from_vkey`` (log keys). Each
is fed arbitrary bytes, JSON-shaped values of every kind, and one-bit mutations of real inputs
(the valid bundle's lines, entries, payloads and checkpoints, the log key, Digital Links). Each
must return a value or raise a ``LedgerError`` subclass — never ValueError,
KeyError, TypeError, RecursionError, UnicodeDecodeError, decimal's InvalidOperation …, which
would reach the API as a 500 or the verifier's user as a traceback.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.bundle import Manifest, parse_record
from ledger.canonical import canonical_bytes
from ledger.checkpoint import verify_checkpoint
from ledger.envelope import Envelope
from ledger.errors import LedgerError
from ledger.events import parse_event
from ledger.identifiers import DigitalLink
from ledger.note import Verifier
from tests.vectors.bundles.sealing import DATA, LOG_VKEY

FUZZ = settings(
    max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

BUNDLE_LINES = (DATA / "valid.bundle").read_bytes().splitlines(keepends=True)
MANIFEST, RECORDS = BUNDLE_LINES[0], BUNDLE_LINES[1:]
ENTRIES = [
    base64.b64decode(json.loads(line)["entry"])
    for line in RECORDS
    if json.loads(line)["kind"] == "entry"
]
PAYLOADS = [Envelope.from_bytes(entry).payload for entry in ENTRIES]
LINKS = [
    "/01/09506000134352",
    "/01/09506000134352/10/LOT-2026.A",
    "/01/09506000134352/21/ABCDEFGHIJKLMNOPQRST",
    "https://id.example.com/01/9506000134352/22/V1/10/L%2F1/21/S%25",
]


def _parse_manifest(data: bytes) -> object:
    return Manifest.from_line(data)


def _parse_record(data: bytes) -> object:
    return parse_record(data, number=2)


def _parse_link(data: bytes) -> object:
    return DigitalLink.parse(data.decode("utf-8", errors="surrogateescape"))


def _verify_checkpoint(data: bytes) -> object:
    return verify_checkpoint(data, LOG_VKEY)


def _parse_vkey(data: bytes) -> object:
    return Verifier.from_vkey(data.decode("utf-8", errors="surrogateescape"))


PARSERS: dict[str, Callable[[bytes], object]] = {
    "envelope": Envelope.from_bytes,
    "event": parse_event,
    "manifest": _parse_manifest,
    "record": _parse_record,
    "digital-link": _parse_link,
    "checkpoint": _verify_checkpoint,
    "vkey": _parse_vkey,
}
VALID: dict[str, list[bytes]] = {
    "envelope": ENTRIES,
    "event": PAYLOADS,
    "manifest": [MANIFEST],
    "record": RECORDS,
    "digital-link": [link.encode() for link in LINKS],
    "checkpoint": [
        json.loads(line)["note"].encode() for line in RECORDS if b'"kind":"checkpoint"' in line
    ],
    "vkey": [LOG_VKEY.encode()],
}


def only_ledger_errors(parse: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(LedgerError):  # the documented refusal; nothing else is
        parse(data)


def _flip(data: bytes, bit: int) -> bytes:
    at = bit // 8
    return data[:at] + bytes([data[at] ^ (1 << (bit % 8))]) + data[at + 1 :]


def test_valid_inputs_parse() -> None:
    for name, inputs in VALID.items():
        for data in inputs:
            PARSERS[name](data)  # the mutations below start from inputs that are accepted


# Strings that field validators must refuse (or accept) without a foreign exception.
_TRICKY_STRINGS = [
    "NaN", "-Infinity", "sNaN", "1e999999999", "-0", "0E-1000000", "1" * 5000, "0." + "0" * 500,
    "2026-02-30T00:00:00Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "2026-13-01",
    "2026-11-26T24:00:00Z", "2026-11-26T10:00:00.1234567890Z", "KGM", "MTR", "H87", "",
    "urn:spola:lot:x", "urn:spola:actor:x", "/01/09506000134352", "0" * 64, "\ud800", "\x00",
]  # fmt: skip

# JSON-shaped values: every JSON type, big and tiny integers, non-ASCII and surrogate text.
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["payloadType", "signatures", "keyid", "sig", "type", "actor", "01", ""])
    | st.sampled_from(_TRICKY_STRINGS)
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=30,
)


def _serialize(value: Any, style: str) -> bytes:
    if style == "canonical":
        try:
            return canonical_bytes(value)
        except LedgerError:
            style = "json"
    text = json.dumps(value, ensure_ascii=style == "ascii", allow_nan=True)
    return text.encode("utf-8", errors="surrogatepass")


@pytest.mark.parametrize("name", sorted(PARSERS))
@FUZZ
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_ledger_errors(name: str, data: bytes) -> None:
    only_ledger_errors(PARSERS[name], data)
    only_ledger_errors(PARSERS[name], data + b"\n")  # bundle lines end with a newline


@pytest.mark.parametrize("name", sorted(PARSERS))
@FUZZ
@given(
    value=JSON_VALUES,
    style=st.sampled_from(["canonical", "json", "ascii"]),
    as_envelope=st.booleans(),
)
def test_json_shaped_values_raise_only_ledger_errors(
    name: str, value: Any, style: str, as_envelope: bool
) -> None:
    if as_envelope and isinstance(value, dict):
        # Reach past the outer checks: a well-formed envelope around a fuzzed payload.
        payload = base64.b64encode(_serialize(value, style)).decode()
        value = {"payloadType": "t", "payload": payload, "signatures": [{"sig": "AA=="}]}
    data = _serialize(value, style)
    only_ledger_errors(PARSERS[name], data)
    only_ledger_errors(PARSERS[name], data + b"\n")


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_one_bit_mutations_of_valid_inputs_raise_only_ledger_errors(
    name: str, data: st.DataObject
) -> None:
    valid = data.draw(st.sampled_from(VALID[name]))
    bit = data.draw(st.integers(0, len(valid) * 8 - 1))
    only_ledger_errors(PARSERS[name], _flip(valid, bit))


def _replace_somewhere(value: Any, data: st.DataObject, *, top: bool = True) -> Any:
    """``value`` with one member or item, at any depth, replaced, dropped or added."""
    leaf = not isinstance(value, dict | list) or not value
    if leaf or (not top and data.draw(st.integers(0, 3)) == 0):
        return data.draw(JSON_VALUES)
    if isinstance(value, list):
        at = data.draw(st.integers(0, len(value) - 1))
        return [*value[:at], _replace_somewhere(value[at], data, top=False), *value[at + 1 :]]
    key = data.draw(st.sampled_from(sorted(value)))
    action = data.draw(st.sampled_from(["replace", "drop", "add"]))
    if action == "drop":
        return {k: v for k, v in value.items() if k != key}
    if action == "add":
        return {**value, data.draw(st.text(max_size=8)): data.draw(JSON_VALUES)}
    return {**value, key: _replace_somewhere(value[key], data, top=False)}


@pytest.mark.parametrize("name", ["event", "manifest", "record"])
@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_valid_objects_with_one_member_changed_raise_only_ledger_errors(
    name: str, data: st.DataObject
) -> None:
    # Canonical bytes again, so the change reaches the field validators behind the JCS check.
    valid = json.loads(data.draw(st.sampled_from(VALID[name])))
    changed = _serialize(_replace_somewhere(valid, data), "canonical")
    only_ledger_errors(PARSERS[name], changed + (b"" if name == "event" else b"\n"))


_SEGMENTS = st.sampled_from(["01", "10", "21", "22", "8200", "", ".", "..", "%", "%2F", "%FF"])
_SEGMENT_TEXT = st.text(st.characters(codec="utf-8"), max_size=24)
_GTINS = st.from_regex(r"[0-9]{7,15}", fullmatch=True)


@settings(FUZZ, max_examples=300)
@given(
    prefix=st.sampled_from(["", "https://id.example.com", "http://[::1", "//x", "urn:x:"]),
    segments=st.lists(_SEGMENTS | _SEGMENT_TEXT | _GTINS, max_size=9),
    query=st.sampled_from(["", "?linkType=all", "#f", "?%FF"]),
)
def test_digital_link_shaped_paths_raise_only_ledger_errors(
    prefix: str, segments: list[str], query: str
) -> None:
    uri = prefix + "/" + "/".join(segments) + query
    with contextlib.suppress(LedgerError):
        link = DigitalLink.parse(uri)
        assert DigitalLink.parse(link.path()) == link  # what it accepts, it writes back


@pytest.mark.parametrize("name", sorted(PARSERS))
@pytest.mark.parametrize(
    "hostile",
    [
        b"[" * 100_000,
        b"{" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b"1" * 1_000_000,
        b'{"seq":' + b"9" * 100_000 + b"}",
        b'{"x":1e999999999}',
        b'{"x":-0.0}',
        b'{"x":NaN}',
        b'"\\ud800"',
        b"\xff\xfe\x00{",
        b"\xef\xbb\xbf{}",
        b"/01/" + b"9" * 5000,
        b"/01/%FF",
        b"/01/09506000134352/21/%",
        b"http://[::1/01/09506000134352",  # urlsplit: ValueError, once escaped DigitalLink.parse
        b"\xf6ectors.spola.local/ledger+6e1e3f1c+ATDaj9NcB37DZIX+s+jU2Z/zdwEePpoG/1npR93FA2wh",
        b"origin\n" + b"9" * 5000 + b"\n\n\xe2\x80\x94 x AAAA\n",
    ],
    ids=lambda value: f"{value[:12]!r}x{len(value)}",
)
def test_hostile_classics_raise_only_ledger_errors(name: str, hostile: bytes) -> None:
    only_ledger_errors(PARSERS[name], hostile)
    only_ledger_errors(PARSERS[name], hostile + b"\n")
