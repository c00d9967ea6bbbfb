"""Refusals of the workshop terminal's sync that no other test reached, against a real ledger
store: a mutation check replaced each ``raise`` of ``signer/`` by ``pass``, and each of these was
left standing."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.checkpoint import Checkpoint, sign_checkpoint, verify_checkpoint
from ledger.envelope import Envelope
from ledger.keys import PrivateKey
from ledger.receipt import Receipt
from ledger.store.ledger import LedgerStore
from signer.client import LedgerClient, RetryPolicy
from signer.errors import LedgerAlarm, RefusedBatchError, TransportError
from signer.queue import PENDING, Queue
from tests.fake_ledger import StoreTransport
from tests.integration.test_signer_sync import client, lots, register
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

SLUG = "rifinizione-mutanti"


@dataclass
class RefusingRequests(StoreTransport):
    """Refuses every batch for the request, not for one of its envelopes: a redirect (an
    http:// address that moved to https://), or a 4xx whose problem names no envelope."""

    status: int = 308
    kind: str = "redirect"

    def submit(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        raise RefusedBatchError(
            f"the ledger refused POST /v1/entries ({self.status} {self.kind}): not here",
            status=self.status,
            kind=self.kind,
        )


@pytest.mark.parametrize(("status", "kind"), [(308, "redirect"), (400, "bad-request")])
def test_a_batch_refused_for_the_request_stops_sync_and_blames_no_event(
    store: LedgerStore, operator: Terminal, tmp_path: Path, status: int, kind: str
) -> None:
    key = register(store, operator, SLUG)
    terminal = LedgerClient(
        transport=RefusingRequests(store, status=status, kind=kind),
        key=key,
        queue=Queue(tmp_path / "queue.db"),
        retry=RetryPolicy.no_wait(),
    )
    terminal.sign(lots(0, 3, SLUG))
    expected = f"the ledger refused POST /v1/entries ({status} {kind}): not here"
    with pytest.raises(RefusedBatchError, match=f"^{re.escape(expected)}$") as refused:
        terminal.sync()
    assert (refused.value.status, refused.value.kind) == (status, kind)
    events = terminal.queue.events()
    assert [e.state for e in events] == [PENDING] * 3
    assert all(e.refusal is None and not e.sending for e in events)  # no event is to blame
    assert terminal.queue.refusals() == []
    assert terminal.halted() is None


@dataclass
class NoProofs(StoreTransport):
    """Serves the log honestly, but refuses every consistency proof (404), as a ledger that
    cannot show its newer tree extends the older one."""

    asked: int = 0

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        self.asked += 1
        raise RefusedBatchError(
            "the ledger refused GET /v1/log/proof/consistency (404 not-found): no such proof",
            status=404,
            kind="not-found",
        )


def test_a_consistency_proof_refused_outright_is_an_alarm_at_the_first_answer(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator, SLUG)
    ledger = NoProofs(store)
    terminal = client(ledger, key, tmp_path / "queue.db")
    terminal.sign(lots(0, 2, SLUG))
    terminal.sync()  # one tree: nothing to prove yet
    assert ledger.asked == 0
    store.append([operator.register(f"urn:spola:actor:{SLUG}-late")])  # the log grows

    with pytest.raises(LedgerAlarm, match="does not extend the tree of") as alarm:
        terminal.sync()

    # Not the "not replayed yet" of a read replica (400 proof): asked once, not retried.
    assert ledger.asked == 1
    assert "404 not-found" in str(alarm.value)
    assert "gave up after" not in str(alarm.value)
    assert terminal.halted() == str(alarm.value)


@dataclass
class SameSizeFork(StoreTransport):
    """Once ``fork`` is set, serves a checkpoint of the log's own size over another root,
    validly signed with the log key: two histories of one length."""

    operator: PrivateKey | None = None
    fork: bool = False

    def checkpoint(self) -> bytes:
        honest = super().checkpoint()
        if not self.fork:
            return honest
        assert self.operator is not None
        size = verify_checkpoint(honest, self.store.log_vkey).size
        other = Checkpoint(origin=self.store.origin, size=size, root_hash=b"\x17" * 32)
        return sign_checkpoint(other, self.operator)


def test_a_checkpoint_of_the_same_size_over_another_root_is_a_fork_alarm(
    store: LedgerStore, operator: Terminal, operator_key: PrivateKey, tmp_path: Path
) -> None:
    key = register(store, operator, SLUG)
    ledger = SameSizeFork(store, operator=operator_key)
    terminal = client(ledger, key, tmp_path / "queue.db")
    terminal.sign(lots(0, 2, SLUG))
    size = terminal.sync().tree_size
    ledger.fork = True

    with pytest.raises(LedgerAlarm) as alarm:
        terminal.sync()

    assert str(alarm.value) == f"the ledger signed two different trees of {size} entries: a fork"
    assert terminal.halted() == str(alarm.value)
    assert [message for _, message in terminal.queue.alarms()] == [str(alarm.value)]


@dataclass
class ProofsUnreachable(StoreTransport):
    """Appends and serves checkpoints, but every consistency proof request fails on the way
    (a 503, a timeout): the ledger said nothing about its history."""

    asked: int = 0

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        self.asked += 1
        raise TransportError("the ledger answered 503 to /v1/log/proof/consistency")


def test_a_consistency_proof_that_cannot_be_fetched_is_no_alarm(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator, SLUG)
    ledger = ProofsUnreachable(store)
    terminal = client(ledger, key, tmp_path / "queue.db")
    terminal.sign(lots(0, 2, SLUG))
    terminal.sync()
    store.append([operator.register(f"urn:spola:actor:{SLUG}-late")])  # the log grows

    with pytest.raises(TransportError) as failed:
        terminal.sync()

    assert not isinstance(failed.value, LedgerAlarm)
    assert str(failed.value).startswith("fetching a consistency proof: gave up after 6 attempts")
    assert ledger.asked == 6
    assert terminal.halted() is None and terminal.queue.alarms() == []


@dataclass
class ShortAnswer(StoreTransport):
    """Logs every batch, but answers with one receipt fewer than it was sent envelopes."""

    def submit(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        return super().submit(envelopes)[:-1]


def test_a_batch_answered_with_too_few_receipts_is_an_alarm(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator, SLUG)
    terminal = LedgerClient(
        transport=ShortAnswer(store),
        key=key,
        queue=Queue(tmp_path / "queue.db"),
        retry=RetryPolicy.no_wait(),
    )
    terminal.sign(lots(0, 3, SLUG))

    with pytest.raises(LedgerAlarm) as alarm:
        terminal.sync()

    assert str(alarm.value) == "the ledger sent 2 receipts for 3 events"
    assert terminal.halted() == str(alarm.value)
    assert [e.state for e in terminal.queue.events()] == [PENDING] * 3
