"""Properties of the verifier: no one-bit change of a bundle goes unnoticed."""

from __future__ import annotations

import io
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vectors.bundles.sealing import DATA, LOG_VKEY, read_bundle
from verifier import UnusableInputError, verify_bundle

GOOD = read_bundle(DATA / "valid.bundle")
DATA = GOOD.to_bytes()
FAST = settings(max_examples=120, deadline=None)


def _flip(data: bytes, bit: int) -> bytes:
    at = bit // 8
    return data[:at] + bytes([data[at] ^ (1 << (bit % 8))]) + data[at + 1 :]


@FAST
@given(st.integers(0, len(DATA) * 8 - 1))
def test_every_one_bit_flip_of_the_file_is_invalid_or_unusable(bit: int) -> None:
    try:
        report = verify_bundle(io.BytesIO(_flip(DATA, bit)), LOG_VKEY, jobs=1)
    except UnusableInputError:
        return
    assert not report.valid


@FAST
@given(st.data())
def test_every_one_bit_flip_of_an_entry_is_found_at_that_entry(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(GOOD.entries) - 1))
    record = GOOD.entries[index]
    bit = data.draw(st.integers(0, len(record.entry) * 8 - 1))
    entries = list(GOOD.entries)
    entries[index] = replace(record, entry=_flip(record.entry, bit))
    report = verify_bundle(io.BytesIO(replace(GOOD, entries=entries).to_bytes()), LOG_VKEY)
    assert (5, "entry.chain_hash", index) in {(f.step, f.rule, f.index) for f in report.findings}
