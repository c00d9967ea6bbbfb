"""A store closed and reopened serves the same log and continues the same chain.

Everything the sequencer needs lives in the database (the head row's size, chain hash and
compact range; the key registry; the feeds), so ``LedgerStore.open`` on the same URL and key
picks up exactly where the last process stopped. A database that another operator key started
is refused rather than appended to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ledger.checkpoint import verify_checkpoint
from ledger.keys import PrivateKey
from ledger.proofs import verify_consistency
from ledger.receipt import Receipt
from ledger.store.genesis import OperatorMismatchError, OriginMismatchError
from ledger.store.ledger import LedgerStore
from tests.conftest import ORIGIN, enrol
from tests.terminal import Terminal


@dataclass(frozen=True)
class Snapshot:
    size: int
    checkpoint: bytes
    entries: list[object]
    receipts: list[Receipt]
    proofs: list[list[bytes]]
    actors: list[object]
    keys: list[object]


def _snapshot(store: LedgerStore, key_ids: list[str]) -> Snapshot:
    size = store.tree_size()
    return Snapshot(
        size=size,
        checkpoint=store.latest_checkpoint(),
        entries=list(store.entries(0, size)),
        receipts=[store.receipt(i) for i in range(size)],
        proofs=[store.consistency_proof(s, size) for s in range(1, size + 1)],
        actors=list(store.actors(offset=0, limit=100)),
        keys=[store.key(k) for k in key_ids],
    )


@pytest.fixture
def reopened() -> Iterator[list[LedgerStore]]:
    """Stores a test opens itself, disposed afterwards."""
    stores: list[LedgerStore] = []
    yield stores
    for store in stores:
        store.close()


def test_reopened_store_serves_the_same_log(
    store: LedgerStore,
    operator: Terminal,
    operator_key: PrivateKey,
    database_url: str,
    reopened: list[LedgerStore],
) -> None:
    workshop = enrol(store, operator, "calzaturificio")
    store.append([workshop.update_self("one"), workshop.rotate(PrivateKey.generate())])
    before = _snapshot(store, [operator.key_id, workshop.key_id])
    store.close()

    again = LedgerStore.open(database_url, operator=operator_key, origin=ORIGIN)
    reopened.append(again)

    assert _snapshot(again, [operator.key_id, workshop.key_id]) == before


def test_appends_after_reopening_continue_the_same_chain(
    store: LedgerStore,
    operator: Terminal,
    operator_key: PrivateKey,
    database_url: str,
    reopened: list[LedgerStore],
) -> None:
    workshop = enrol(store, operator, "pelletteria")
    store.append([workshop.update_self(f"before restart {n}") for n in range(5)])
    old_size = store.tree_size()
    old_checkpoint = verify_checkpoint(store.latest_checkpoint(), store.log_vkey)
    last_chain = store.entries(old_size - 1, old_size)[0].chain_hash
    store.close()

    again = LedgerStore.open(database_url, operator=operator_key, origin=ORIGIN)
    reopened.append(again)
    assert again.tree_size() == old_size, "reopening must not append a second genesis"
    envelopes = [workshop.update_self("after restart"), operator.register("urn:spola:actor:n")]
    receipts = again.append(envelopes)

    assert [r.index for r in receipts] == [old_size, old_size + 1]
    new_entries = again.entries(old_size, old_size + 2)
    chain = last_chain
    for entry, envelope in zip(new_entries, envelopes, strict=True):
        assert entry.entry == envelope.to_bytes()
        chain = hashlib.sha256(b"\x02" + chain + entry.leaf_hash).digest()
        assert entry.chain_hash == chain
    new_checkpoint = receipts[-1].verify(envelopes[-1].to_bytes(), again.log_vkey)
    verify_consistency(
        old_checkpoint.size,
        new_checkpoint.size,
        again.consistency_proof(old_checkpoint.size, new_checkpoint.size),
        old_checkpoint.root_hash,
        new_checkpoint.root_hash,
    )


def test_resubmission_after_reopening_gets_the_original_receipt(
    store: LedgerStore,
    operator: Terminal,
    operator_key: PrivateKey,
    database_url: str,
    reopened: list[LedgerStore],
) -> None:
    workshop = enrol(store, operator, "sartoria")
    envelope = workshop.update_self("queued offline")
    original = store.append([envelope])[0]
    store.close()

    again = LedgerStore.open(database_url, operator=operator_key, origin=ORIGIN)
    reopened.append(again)
    replayed = again.append([envelope])[0]

    assert replayed.duplicate
    assert (replayed.index, replayed.checkpoint, replayed.inclusion_proof) == (
        original.index,
        original.checkpoint,
        original.inclusion_proof,
    )


def test_reopening_with_another_operator_key_is_refused(
    store: LedgerStore, operator: Terminal, database_url: str, reopened: list[LedgerStore]
) -> None:
    enrol(store, operator, "tintoria")
    size, checkpoint = store.tree_size(), store.latest_checkpoint()
    store.close()

    with pytest.raises(OperatorMismatchError):
        reopened.append(
            LedgerStore.open(database_url, operator=PrivateKey.generate(), origin=ORIGIN)
        )

    assert (store.tree_size(), store.latest_checkpoint()) == (size, checkpoint)


def test_reopening_under_another_origin_is_refused(
    store: LedgerStore, operator: Terminal, database_url: str, operator_key: PrivateKey,
    reopened: list[LedgerStore],
) -> None:  # fmt: skip
    # The origin names the log in every checkpoint and in its verifier key: after an edit of
    # log.json the log served checkpoints under two names, which no verifier accepts (and the
    # API's passport bundles answered 422). Refused at open, as another operator key is.
    enrol(store, operator, "tintoria")
    size, checkpoint = store.tree_size(), store.latest_checkpoint()
    store.close()
    with pytest.raises(OriginMismatchError) as refused:
        reopened.append(
            LedgerStore.open(database_url, operator=operator_key, origin="renamed.example/log")
        )
    assert str(refused.value) == (
        f"this database's log is named {ORIGIN!r}, not the configured origin "
        "'renamed.example/log': a log keeps the name its checkpoints and log key carry"
    )
    again = LedgerStore.open(database_url, operator=operator_key, origin=ORIGIN)
    reopened.append(again)
    assert (again.tree_size(), again.latest_checkpoint()) == (size, checkpoint)
