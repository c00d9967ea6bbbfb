"""The terminal against a real ledger store (SQLite and PostgreSQL): offline signing, sync,
crashes at every step, network faults, and lying ledgers caught."""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.envelope import Envelope
from ledger.keys import PrivateKey
from ledger.receipt import Receipt
from ledger.store.ledger import LedgerStore
from signer.client import LedgerClient, RetryPolicy, Row
from signer.errors import LedgerAlarm, SignerError, SyncHaltedError, TransportError
from signer.keyfile import TerminalKey
from signer.queue import APPLIED, NOT_APPLIED, PENDING, Queue
from signer.transport import Transport
from tests.conftest import operator_after_genesis
from tests.fake_ledger import BadProofLedger, FaultyTransport, ForkingLedger, StoreTransport
from tests.supply import enrol_actor, facility, handover, material
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

SLUG = "filanda-test"


class Crash(Exception):
    """The terminal's process dies here."""


def register(store: LedgerStore, operator: Terminal, slug: str = SLUG) -> TerminalKey:
    key = TerminalKey(actor=f"urn:spola:actor:{slug}", key=PrivateKey.generate())
    store.append(
        [
            operator.register(key.actor, facilities=[facility()]),
            operator.add_key(key.actor, key.key),
        ]
    )
    return key


def lots(start: int, count: int, slug: str = SLUG) -> list[Row]:
    return [
        Row(label=f"row {i}", fields=material(f"urn:spola:lot:{slug}:L{i}"))
        for i in range(start, start + count)
    ]


def client(
    transport: Transport | None,
    key: TerminalKey | None,
    path: Path,
    *,
    batch_size: int = 50,
    retry: RetryPolicy | None = None,
    queue: Queue | None = None,
) -> LedgerClient:
    return LedgerClient(
        transport=transport,
        key=key,
        queue=queue or Queue(path),
        batch_size=batch_size,
        retry=retry or RetryPolicy.no_wait(),
    )


def logged_payloads(store: LedgerStore, actor: str) -> list[dict[str, Any]]:
    out = []
    for row in store.entries(0, store.tree_size()):
        payload = json.loads(Envelope.from_bytes(row.entry).payload)
        if payload["actor"] == actor:
            out.append(payload)
    return out


def assert_logged_once(store: LedgerStore, key: TerminalKey, count: int) -> None:
    seqs = Counter(p["seq"] for p in logged_payloads(store, key.actor))
    assert sorted(seqs) == list(range(count))
    assert set(seqs.values()) == {1}


@pytest.mark.slow
def test_thousand_offline_events_sync_each_exactly_once(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator)
    offline = client(None, key, tmp_path / "queue.db")
    offline.sign(lots(0, 1000))
    assert offline.queue.counts() == {PENDING: 1000, APPLIED: 0, NOT_APPLIED: 0}
    before = store.tree_size()

    seen: list[tuple[int, int]] = []
    terminal = client(StoreTransport(store), None, tmp_path / "queue.db", batch_size=100)
    report = terminal.sync(progress=lambda done, total: seen.append((done, total)))

    assert report.sent == report.applied == 1000
    assert report.tree_size == store.tree_size() == before + 1000
    assert seen[-1] == (1000, 1000) and len(seen) == 10
    assert terminal.queue.counts() == {PENDING: 0, APPLIED: 1000, NOT_APPLIED: 0}
    assert_logged_once(store, key, 1000)
    assert terminal.sync().sent == 0  # nothing left: a second sync sends nothing


def test_each_stored_receipt_verifies_against_the_log_key(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator)
    terminal = client(StoreTransport(store), key, tmp_path / "queue.db")
    terminal.sign(lots(0, 7))
    terminal.sync()
    for event in terminal.queue.events():
        receipt = terminal.queue.receipt(event.position)
        assert isinstance(receipt, Receipt) and receipt.index == event.index
        receipt.verify(event.entry, store.log_vkey)


class CrashingQueue(Queue):
    def __init__(self, path: Path, when: str) -> None:
        super().__init__(path)
        self.when = when

    def record(self, answers: Any, checkpoint: bytes) -> None:
        if self.when == "before_record":
            raise Crash
        super().record(answers, checkpoint)
        if self.when == "after_record":
            raise Crash


class CrashingTransport(StoreTransport):
    def __init__(self, store: LedgerStore, when: str) -> None:
        super().__init__(store)
        self.when = when

    def submit(self, envelopes: Any) -> list[Receipt]:
        if self.when == "before_send" and self.batches == 1:
            raise Crash
        receipts = super().submit(envelopes)
        if self.when == "after_send" and self.batches == 2:
            raise Crash  # the ledger committed the batch; the answer never arrived
        return receipts


@pytest.mark.parametrize("when", ["before_send", "after_send", "before_record", "after_record"])
def test_crash_at_any_step_of_sync_logs_every_event_exactly_once(
    store: LedgerStore, operator: Terminal, tmp_path: Path, when: str
) -> None:
    key = register(store, operator)
    path = tmp_path / "queue.db"
    client(None, key, path).sign(lots(0, 120))
    if when in ("before_record", "after_record"):
        queue: Queue = CrashingQueue(path, when)
        transport: Transport = StoreTransport(store)
    else:
        queue, transport = Queue(path), CrashingTransport(store, when)
    with pytest.raises(Crash):
        client(transport, None, path, queue=queue).sync()
    queue.close()

    restarted = client(StoreTransport(store), None, path)
    report = restarted.sync()
    assert restarted.queue.counts() == {PENDING: 0, APPLIED: 120, NOT_APPLIED: 0}
    assert_logged_once(store, key, 120)
    assert report.duplicates == (50 if when in ("after_send", "before_record") else 0)


def test_transport_faults_are_retried_with_backoff_and_jitter(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator)
    waits: list[float] = []
    retry = RetryPolicy(attempts=5, base_delay=0.5, sleep=waits.append, jitter=lambda: 0.5)
    faults = ["timeout", "5xx", "lost", None, "lost", "lost"]
    transport = FaultyTransport(StoreTransport(store), faults=list(faults))
    terminal = client(transport, key, tmp_path / "queue.db", retry=retry)
    terminal.sign(lots(0, 100))
    report = terminal.sync()
    assert report.sent == 100 and report.duplicates == 100
    assert waits == [0.25, 0.5, 1.0, 0.25, 0.5]  # half of 0.5·2^n, restarting per batch
    assert_logged_once(store, key, 100)


def test_a_ledger_that_never_answers_leaves_the_queue_pending(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator)
    transport = FaultyTransport(StoreTransport(store), faults=["timeout"] * 3)
    terminal = client(transport, key, tmp_path / "queue.db", retry=RetryPolicy.no_wait(3))
    terminal.sign(lots(0, 3))
    with pytest.raises(TransportError, match="gave up after 3 attempts"):
        terminal.sync()
    assert terminal.queue.counts()[PENDING] == 3
    assert terminal.halted() is None
    assert terminal.sync().applied == 3


def test_rule_breaking_event_is_stored_with_the_ledgers_reason(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator)
    receiver = enrol_actor(store, operator, "stamperia-test")
    lot = f"urn:spola:lot:{SLUG}:L0"
    terminal = client(StoreTransport(store), key, tmp_path / "queue.db")
    line = {"lot": lot, "quantity": {"value": "500", "unit": "KGM"}}
    terminal.sign(
        [
            Row("row 1", material(lot)),
            Row("row 2", handover("DDT-1", receiver.actor, [line])),
        ]
    )
    report = terminal.sync()
    assert (report.applied, report.not_applied) == (1, 1)
    refused = terminal.queue.events(state=NOT_APPLIED)
    assert [(e.type, e.rule) for e in refused] == [("handover", "balance.insufficient")]
    assert refused[0].detail


def test_rotated_key_signs_its_own_feed_from_seq_zero(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator)
    path = tmp_path / "queue.db"
    old = client(StoreTransport(store), key, path)
    old.sign(lots(0, 2))
    new = TerminalKey(actor=key.actor, key=PrivateKey.generate())
    old.rotate(new.key, reason="terminal replaced")
    old.queue.close()
    fresh = client(StoreTransport(store), new, path)
    fresh.sign(lots(2, 2))
    assert fresh.sync().applied == 5
    assert store.key(key.key.public_key.key_id).revoked_at_index is not None
    assert [e.seq for e in fresh.queue.events()] == [0, 1, 2, 0, 1]


def test_inclusion_proof_that_does_not_verify_halts_sync(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator)
    path = tmp_path / "queue.db"
    liar = client(BadProofLedger(store), key, path)
    liar.sign(lots(0, 4))
    with pytest.raises(LedgerAlarm, match="does not verify"):
        liar.sync()
    assert liar.queue.counts()[PENDING] == 4  # nothing recorded from a lying answer
    with pytest.raises(SyncHaltedError, match="resume-after-alarm"):
        client(StoreTransport(store), None, path).sync()

    honest = client(StoreTransport(store), None, path)
    assert honest.resume_after_alarm()
    assert honest.sync().sent == 4 and honest.sync().sent == 0  # duplicates now
    assert len(honest.queue.alarms()) == 1


def test_ledger_that_rewrites_acknowledged_history_is_caught(
    store: LedgerStore, operator: Terminal, operator_key: PrivateKey, tmp_path: Path
) -> None:
    key = register(store, operator)
    ledger = ForkingLedger(store, operator=operator_key)
    terminal = client(ledger, key, tmp_path / "queue.db")
    terminal.sign(lots(0, 5))
    terminal.sync()
    first = terminal.queue.events()[0].index
    assert first is not None
    ledger.drop = first  # the ledger now serves a log without our first acknowledged event
    terminal.sign(lots(5, 5))
    with pytest.raises(LedgerAlarm, match="does not extend"):
        terminal.sync()
    assert terminal.halted()
    assert terminal.queue.counts() == {PENDING: 5, APPLIED: 5, NOT_APPLIED: 0}


def test_ledger_that_forgot_acknowledged_events_is_caught(
    store: LedgerStore, operator: Terminal, operator_key: PrivateKey, tmp_path: Path
) -> None:
    key = register(store, operator)
    terminal = client(StoreTransport(store), key, tmp_path / "queue.db")
    terminal.sign(lots(0, 3))
    terminal.sync()
    # The operator "restores a backup" from before our events: same log key, our key known.
    amnesiac = LedgerStore.open(
        f"sqlite:///{tmp_path / 'restored.db'}", operator=operator_key, origin=store.origin
    )
    try:
        op = operator_after_genesis(amnesiac, operator_key)
        register(amnesiac, op)  # a different key, but the actor is known again
        amnesiac.append([op.add_key(key.actor, key.key)])
        terminal.transport = StoreTransport(amnesiac)
        terminal.sign(lots(3, 1))
        with pytest.raises(LedgerAlarm, match="refuses this terminal's own feed"):
            terminal.sync()
        assert terminal.halted()
    finally:
        amnesiac.close()


def test_pinned_log_key_is_not_replaced_silently(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator)
    terminal = client(StoreTransport(store), key, tmp_path / "queue.db")
    terminal.sign(lots(0, 1))
    terminal.sync()
    other = LedgerClient(
        transport=StoreTransport(store),
        key=None,
        queue=terminal.queue,
        log_vkey="other.example/log+01234567+AQ==",
    )
    with pytest.raises(SignerError, match="trusts the log key"):
        other.sync()


def test_rewritten_history_is_caught_with_nothing_to_send(
    store: LedgerStore, operator: Terminal, operator_key: PrivateKey, tmp_path: Path
) -> None:
    key = register(store, operator)
    ledger = ForkingLedger(store, operator=operator_key)
    terminal = client(ledger, key, tmp_path / "queue.db")
    terminal.sign(lots(0, 3))
    terminal.sync()
    store.append([operator.register("urn:spola:actor:another-workshop")])  # the log grows
    assert terminal.sync().sent == 0  # an honest, larger log is consistent: no alarm
    ledger.drop = terminal.queue.events()[1].index
    store.append([operator.register(f"urn:spola:actor:late-{i}") for i in range(2)])
    with pytest.raises(LedgerAlarm, match="does not extend"):
        terminal.sync()
    assert terminal.halted()


def test_log_that_shrank_is_caught(
    store: LedgerStore, operator: Terminal, operator_key: PrivateKey, tmp_path: Path
) -> None:
    key = register(store, operator)
    terminal = client(StoreTransport(store), key, tmp_path / "queue.db")
    terminal.sign(lots(0, 3))
    terminal.sync()
    restored = LedgerStore.open(
        f"sqlite:///{tmp_path / 'restored.db'}", operator=operator_key, origin=store.origin
    )
    try:
        terminal.transport = StoreTransport(restored)
        with pytest.raises(LedgerAlarm, match="shrank"):
            terminal.sync()
    finally:
        restored.close()


@dataclass
class ForgedCheckpointLedger(StoreTransport):
    """Serves its first checkpoint as signed, then each later one with its root hash changed:
    a ledger that turns once the terminal has trusted it (the signature no longer holds)."""

    served: int = 0

    def checkpoint(self) -> bytes:
        self.served += 1
        note = super().checkpoint()
        if self.served == 1:
            return note
        origin, size, _, rest = note.split(b"\n", 3)
        return b"\n".join([origin, size, base64.b64encode(bytes(32)), rest])


def test_a_latest_checkpoint_that_does_not_verify_halts_sync(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator)
    path = tmp_path / "queue.db"
    honest = client(StoreTransport(store), key, path)
    honest.sign(lots(0, 2))
    assert honest.sync().applied == 2
    honest.queue.close()
    liar = client(ForgedCheckpointLedger(store), key, path)
    liar.sign(lots(2, 1))
    with pytest.raises(LedgerAlarm, match="latest checkpoint does not verify"):
        liar.sync()
    assert liar.halted() and liar.queue.counts()[APPLIED] == 3  # its receipts were proven
    with pytest.raises(SyncHaltedError, match="resume-after-alarm"):
        client(StoreTransport(store), None, path).sync()


def test_the_store_ledger_refuses_with_the_kinds_the_api_names(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    # The terminal's advice differs by kind (unknown-key, revoked-key, signature): a test
    # ledger that sorted both key refusals under "signature" gave the terminal's tests a
    # ledger no terminal ever meets.
    key = register(store, operator)
    stranger = TerminalKey(actor=key.actor, key=PrivateKey.generate())  # never registered
    unknown = client(StoreTransport(store), stranger, tmp_path / "unknown.db")
    unknown.sign(lots(0, 1))
    with pytest.raises(SignerError):
        unknown.sync()
    (refused,) = unknown.queue.events(state=PENDING)
    assert refused.refusal is not None
    assert (refused.refusal.status, refused.refusal.kind) == (403, "unknown-key")

    store.append([operator.revoke(key.actor, key.key.public_key.key_id)])
    revoked = client(StoreTransport(store), key, tmp_path / "revoked.db")
    revoked.sign(lots(1, 1))
    with pytest.raises(SignerError):
        revoked.sync()
    (refused,) = revoked.queue.events(state=PENDING)
    assert refused.refusal is not None
    assert (refused.refusal.status, refused.refusal.kind) == (403, "revoked-key")
