"""Concurrent writers never fork the log or leave gaps.

Eight enrolled actors each run a thread that appends its own feed of 500 events, in batches of
mixed sizes and as single events, all at once. Afterwards the log is checked from its bytes
alone, as an auditor would: indices 0..N-1, every leaf and chain hash recomputed, the Merkle root
of all leaves equal to the latest signed checkpoint, every feed in order, and every receipt
handed to a writer verifying and consistent with the final checkpoint. The second variant runs
the writers through two ``LedgerStore`` objects (two engines, as two API worker processes
would) on the same database.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import event, func, select

from ledger import merkle
from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.envelope import Envelope
from ledger.feed import payload_digest
from ledger.keys import PrivateKey
from ledger.proofs import verify_consistency
from ledger.receipt import Receipt
from ledger.store.ledger import LedgerStore
from ledger.store.schema import equivocations
from tests.conftest import ORIGIN, enrol
from tests.terminal import Terminal

WRITERS = 8
EVENTS = 500

pytestmark = pytest.mark.slow


@dataclass
class Writer:
    terminal: Terminal
    store: LedgerStore
    seed: int
    accepted: list[tuple[bytes, Receipt]] = field(default_factory=list)
    error: BaseException | None = None

    def batches(self) -> Iterator[list[Envelope]]:
        """The feed in batches: about a third single events, the rest of 1..50."""
        rng = random.Random(self.seed)
        left = EVENTS
        while left:
            size = min(left, 1 if rng.random() < 0.35 else rng.randint(1, 50))
            left -= size
            yield [self.terminal.update_self(f"{self.seed}:{left + n}") for n in range(size)]

    def run(self, start: threading.Barrier) -> None:
        try:
            start.wait()
            for batch in self.batches():
                receipts = self.store.append(batch)
                assert len(receipts) == len(batch)
                self.accepted.extend(
                    (envelope.to_bytes(), receipt)
                    for envelope, receipt in zip(batch, receipts, strict=True)
                )
        except BaseException as exc:  # reported by the main thread
            self.error = exc


def _run(writers: list[Writer]) -> None:
    start = threading.Barrier(len(writers))
    threads = [threading.Thread(target=w.run, args=(start,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive(), "a writer hung"
    for w in writers:
        if w.error is not None:
            raise AssertionError(f"writer {w.terminal.actor} failed") from w.error


def _check_log(store: LedgerStore, writers: list[Writer]) -> None:
    size = store.tree_size()
    entries = store.entries(0, size)

    # 1. No gaps, no forks: indices are exactly 0..N-1.
    assert [e.index for e in entries] == list(range(size))
    assert size == 1 + 2 * WRITERS + WRITERS * EVENTS

    # 2. Leaves and the hash chain, recomputed from the entry bytes alone.
    chain = bytes(32)
    for e in entries:
        leaf = hashlib.sha256(b"\x00" + e.entry).digest()
        assert e.leaf_hash == leaf, e.index
        chain = hashlib.sha256(b"\x02" + chain + leaf).digest()
        assert e.chain_hash == chain, e.index

    # 3. The latest checkpoint signs the root of all leaves.
    final = verify_checkpoint(store.latest_checkpoint(), store.log_vkey)
    assert final.size == size
    assert final.root_hash == merkle.root_hash([e.leaf_hash for e in entries])

    # 4. Each feed appears whole and in order: seqs 0..499, each prev the previous digest.
    feeds: dict[str, list[tuple[int, str | None, str]]] = {}
    for e in entries:
        envelope = Envelope.from_bytes(e.entry)
        payload = json.loads(envelope.payload)
        feeds.setdefault(envelope.signatures[0].keyid, []).append(
            (payload["seq"], payload["prev"], payload_digest(envelope.payload))
        )
    for w in writers:
        feed = feeds[w.terminal.key_id]
        assert [seq for seq, _, _ in feed] == list(range(EVENTS))
        assert [prev for _, prev, _ in feed] == [None, *(d for _, _, d in feed[:-1])]

    # 5. Every receipt verifies and its checkpoint is a prefix of the final one.
    by_size: dict[int, Checkpoint] = {}
    for w in writers:
        assert len(w.accepted) == EVENTS
        for entry, receipt in w.accepted:
            assert not receipt.duplicate
            assert entries[receipt.index].entry == entry
            checkpoint = receipt.verify(entry, store.log_vkey)
            assert by_size.setdefault(checkpoint.size, checkpoint) == checkpoint
    for size1, checkpoint in by_size.items():
        proof = store.consistency_proof(size1, final.size)
        verify_consistency(size1, final.size, proof, checkpoint.root_hash, final.root_hash)


def _writers(stores: list[LedgerStore], operator: Terminal) -> list[Writer]:
    return [
        Writer(
            terminal=enrol(stores[0], operator, f"scrittore-{n}"),
            store=stores[n % len(stores)],
            seed=n,
        )
        for n in range(WRITERS)
    ]


def test_concurrent_writers_never_fork_or_leave_gaps(
    store: LedgerStore, operator: Terminal
) -> None:
    writers = _writers([store], operator)
    _run(writers)
    _check_log(store, writers)


def test_two_stores_on_one_database_never_fork(
    store: LedgerStore, operator: Terminal, operator_key: PrivateKey, database_url: str
) -> None:
    second = LedgerStore.open(database_url, operator=operator_key, origin=ORIGIN)
    try:
        writers = _writers([store, second], operator)
        _run(writers)
        _check_log(store, writers)
        _check_log(second, writers)
    finally:
        second.close()


def test_concurrent_operator_events_are_not_equivocations(store: LedgerStore) -> None:
    # Two API workers register an actor each at the same moment. The listener holds each
    # right after it has read the operator's feed head: were that read outside the lock, both
    # would sign the same seq. Under the lock, the second waits and the barrier times out.
    both_read = threading.Barrier(2)

    def hold(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "FROM feeds" in statement:
            with contextlib.suppress(threading.BrokenBarrierError):
                both_read.wait(timeout=2)

    event.listen(store.engine, "before_cursor_execute", hold)
    failures: list[BaseException] = []

    def register(slug: str) -> None:
        try:
            store.operator_event(
                {
                    "type": "actor",
                    "op": "register",
                    "id": f"urn:spola:actor:{slug}",
                    "name": slug,
                    "roles": ["supplier"],
                    "country": "IT",
                }
            )
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=register, args=(s,)) for s in ("primo", "secondo")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    event.remove(store.engine, "before_cursor_execute", hold)

    with store.connect() as conn:
        evidence = conn.execute(select(func.count()).select_from(equivocations)).scalar_one()
    assert evidence == 0, "the operator's own key was recorded as equivocating"
    assert failures == []
    assert {a.id for a in store.actors(offset=0, limit=10)} >= {
        "urn:spola:actor:primo",
        "urn:spola:actor:secondo",
    }
