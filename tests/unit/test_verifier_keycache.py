"""The verifier's key cache: a key is learnt only from a key event whose own signature verified.

``verifier.entries`` verifies signatures in worker processes against the keys it has learnt. A
payload that merely looks like a key event, signed by no key the log knows, must add nothing (a
bundle forged without the log's keys cannot grow the cache, in this process or a worker); a
worker is sent each key once; and what a worker could not verify (a key introduced by a batch
still in flight) the calling process verifies, in line order, so that ``--jobs`` changes
nothing in the report. Pure: runs on a verifier-only install too.
"""

from __future__ import annotations

import base64
import hashlib
import io
from concurrent.futures import ProcessPoolExecutor
from typing import Any, ClassVar

import pytest

from ledger.bundle_records import EntryRecord
from ledger.canonical import canonical_bytes
from ledger.envelope import sign_envelope
from ledger.hashing import CHAIN_GENESIS
from ledger.keys import PrivateKey, PublicKey
from tests.supply import material
from tests.terminal import Terminal
from tests.vectors.bundles.sealing import DATA, LOG_VKEY, OPERATOR, key, seal
from tests.vectors.bundles.story import (
    FILANDA,
    SARTORIA,
    TINTORIA,
    Story,
    add_key,
    honest_story,
    passport_story,
)
from verifier import Report, reading, steps, verify_bundle
from verifier import entries as entries_module
from verifier.entries import KeyCache, LineChecker, LineResult, check_lines

FORGER = key("forger")  # a key the log never registered
SECOND = key("forger's second")


def _forged_story() -> Story:
    """The honest story, then a key event signed by the key it introduces (which the log does
    not know), a key event signed by that key introducing another, and events signed by both."""
    story = honest_story()
    story.terminals["forger"] = Terminal(FILANDA, FORGER)
    story.terminals["second"] = Terminal(FILANDA, SECOND)
    story.sign("forger", add_key(FILANDA, FORGER))  # 13
    story.sign("forger", add_key(FILANDA, SECOND))  # 14
    story.sign("forger", material("urn:spola:lot:filanda:F1", "1"))  # 15
    story.sign("second", material("urn:spola:lot:filanda:F2", "1"))  # 16
    story.sign(FILANDA, material("urn:spola:lot:filanda:F3", "1"))  # 17: honest
    return story


def _lines(story: Story) -> list[bytes]:
    return [record.to_line() for record in seal(story.envelopes).entries]


def _lookalike_lines(count: int) -> list[bytes]:
    """Entry lines whose payload looks like a key event, each signed by the key it names."""
    lines = []
    for i in range(count):
        new = PrivateKey.from_seed(hashlib.sha256(i.to_bytes(8, "big")).digest())
        payload = canonical_bytes(
            {"public_key": base64.b64encode(new.public_key.raw).decode(), "type": "key"}
        )
        entry = sign_envelope(payload, new).to_bytes()
        lines.append(EntryRecord(i, entry, CHAIN_GENESIS, True, None).to_line())
    return lines


@pytest.fixture
def tiny_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "FIRST_BATCH_LINES", 1)
    monkeypatch.setattr(reading, "BATCH_LINES", 1)
    monkeypatch.setattr(steps, "CHUNK", 3)


def _verify(data: bytes, jobs: int) -> Report:
    return verify_bundle(io.BytesIO(data), LOG_VKEY, jobs=jobs)


# -- what enters the cache ---------------------------------------------------------------------


def test_payloads_that_only_look_like_key_events_add_no_key() -> None:
    cache = KeyCache()
    cache.learn([OPERATOR.public_key.raw])
    batch = check_lines(_lookalike_lines(50), 2, [], cache)
    assert set(cache.by_id) == {OPERATOR.public_key.key_id}
    assert list(cache.raw) == [OPERATOR.public_key.raw]
    assert not batch[1]  # no key introduced
    assert not any(isinstance(r, tuple) and r[7] for r in batch[0])


def test_only_key_events_signed_by_a_known_key_add_their_key() -> None:
    story = _forged_story()
    cache = KeyCache()
    cache.learn([OPERATOR.public_key.raw])
    batch = check_lines(_lines(story), 2, [], cache)
    assert FORGER.public_key.key_id not in cache.by_id
    assert SECOND.public_key.key_id not in cache.by_id
    registered = {story.terminals[a].key.public_key.raw for a in (FILANDA, TINTORIA, SARTORIA)}
    assert set(cache.raw) == {OPERATOR.public_key.raw} | registered
    assert [position for position, _ in batch[1]] == [2, 4, 6]  # the operator's key events


def test_a_bundle_of_key_lookalikes_leaves_the_cache_with_the_log_key_alone() -> None:
    taken: list[LineResult] = []
    checker = LineChecker(2, OPERATOR.public_key.raw, taken.extend)
    lines = _lookalike_lines(40)
    try:
        for start in range(0, len(lines), 8):
            checker.submit(lines[start : start + 8], 2 + start)
        checker.drain()
    finally:
        checker.close()
    assert len(taken) == 40
    assert checker.known.raw == [OPERATOR.public_key.raw]


@pytest.mark.usefixtures("tiny_batches")
def test_entries_signed_by_a_key_the_log_never_registered_count_no_signature() -> None:
    data = seal(_forged_story().envelopes).to_bytes()
    one, many = _verify(data, 1), _verify(data, 2)
    for report in (one, many):
        found = {(f.step, f.rule, f.index) for f in report.findings}
        assert {(7, "key.unknown", i) for i in (13, 14, 15, 16)} <= found
        # 18 entries, of which the four signed by the forger's keys could not be checked
        assert (report.entries, report.signatures_checked) == (18, 14)
    assert many.findings == one.findings
    assert many.signatures_checked == one.signatures_checked


# -- what a worker is sent -----------------------------------------------------------------------


class _RecordingPool(ProcessPoolExecutor):
    """Records, per pool, the keys sent with each batch."""

    sent: ClassVar[list[list[bytes]]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keys: list[bytes] = []
        _RecordingPool.sent.append(self.keys)

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.keys.extend(args[2])
        return super().submit(fn, *args, **kwargs)


@pytest.mark.usefixtures("tiny_batches")
def test_each_worker_is_sent_each_key_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entries_module, "ProcessPoolExecutor", _RecordingPool)
    _RecordingPool.sent = []
    story = passport_story()
    report = _verify(seal(story.envelopes).to_bytes(), 2)
    assert report.valid, report.to_text()
    assert report.signatures_checked == report.entries == 20
    registered = {t.key.public_key.raw for t in story.terminals.values()}
    assert _RecordingPool.sent  # the batches after the first went to worker processes
    for keys in _RecordingPool.sent:
        assert len(keys) == len(set(keys))  # never twice to the same worker
        assert set(keys) <= registered


def test_what_a_worker_could_not_verify_comes_back_verified_in_line_order() -> None:
    """One line per batch, four in flight: a worker is often not yet sent the key that signed
    its line (a key event still in flight); the calling process verifies those itself."""
    story = passport_story()
    taken: list[LineResult] = []
    checker = LineChecker(2, OPERATOR.public_key.raw, taken.extend)
    try:
        for number, line in enumerate(_lines(story), start=2):
            checker.submit([line], number)
        checker.drain()
    finally:
        checker.close()
    assert [r[0] for r in taken if isinstance(r, tuple)] == list(range(20))
    assert all(isinstance(r, tuple) and r[7] for r in taken)
    registered = {t.key.public_key.raw for t in story.terminals.values()}
    assert set(checker.known.raw) == registered


@pytest.mark.parametrize("name", ["valid", "signature_flip", "payload_byte_flip", "valid_passport"])
def test_each_signature_is_verified_once_even_when_it_fails(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A refused signature used to be verified again by the main process and once more by the
    # replay: three times the work on a bundle of forged signatures.
    calls: list[str] = []
    real = PublicKey.verify

    def counting(self: PublicKey, message: bytes, signature: bytes) -> None:
        calls.append(self.key_id)
        real(self, message, signature)

    monkeypatch.setattr(PublicKey, "verify", counting)
    data = (DATA / f"{name}.bundle").read_bytes()
    report = verify_bundle(io.BytesIO(data), LOG_VKEY, jobs=1)
    entries = data.count(b'"kind":"entry"')
    notes = data.count(b'"kind":"checkpoint"') + data.count(b'"kind":"verdicts"')  # one key each
    assert len(calls) == entries + notes, f"{len(calls)} verifications, {entries} entries"
    assert report.valid == name.startswith("valid")
