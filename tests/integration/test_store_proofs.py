"""Proofs served from stored Merkle nodes equal the RFC 9162 proofs over the leaves, and cost
O(log n) reads.

The store never walks the leaves to answer a proof: it reads the few perfect-subtree nodes the
plan names. Every proof is cross-checked against ``ledger.merkle``'s in-memory proofs over the
leaf hashes read back from the log, and verified against the roots of the signed checkpoints.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from ledger import merkle
from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.errors import NotFoundError, ProofShapeError
from ledger.hashing import leaf_hash
from ledger.proofs import verify_consistency, verify_inclusion
from ledger.store.ledger import LedgerStore
from ledger.store.schema import checkpoints
from tests.conftest import enrol
from tests.terminal import Terminal

BATCHES = [1, 7, 2, 31, 1, 1, 16, 5, 64, 3, 9, 1, 40, 2, 27, 13, 1, 50, 4, 11]  # 289 events


@pytest.fixture
def grown(store: LedgerStore, operator: Terminal) -> LedgerStore:
    """A log of a few hundred entries from three feeds, appended in uneven batches."""
    feeds = [enrol(store, operator, f"laboratorio-{n}") for n in range(3)]
    rng = random.Random(9162)
    for size in BATCHES:
        store.append([rng.choice(feeds).update_self(f"event {n}") for n in range(size)])
    return store


def _leaves(store: LedgerStore) -> list[bytes]:
    entries = store.entries(0, store.tree_size())
    assert [e.index for e in entries] == list(range(len(entries)))
    assert all(e.leaf_hash == leaf_hash(e.entry) for e in entries)
    return [e.leaf_hash for e in entries]


def _checkpoints(store: LedgerStore) -> list[Checkpoint]:
    with store.connect() as conn:
        notes = conn.execute(select(checkpoints.c.note).order_by(checkpoints.c.size)).scalars()
        return [verify_checkpoint(note.encode(), store.log_vkey) for note in notes]


def test_checkpoint_roots_are_the_roots_of_the_leaves(grown: LedgerStore) -> None:
    leaves = _leaves(grown)
    cps = _checkpoints(grown)
    assert len(cps) == 1 + 3 + len(BATCHES)  # genesis, three enrolments, the batches
    assert cps[-1].size == len(leaves)
    for cp in cps:
        assert cp.root_hash == merkle.root_hash(leaves[: cp.size])
        assert grown.root_at(cp.size) == cp.root_hash


def test_inclusion_proofs_equal_the_reference_and_verify(grown: LedgerStore) -> None:
    leaves = _leaves(grown)
    cps = {cp.size: cp.root_hash for cp in _checkpoints(grown)}
    sizes = sorted({1, 2, 5, 8, 63, 64, 65, 129, *list(cps)[::4], len(leaves)})
    for size in sizes:
        root = cps.get(size, merkle.root_hash(leaves[:size]))
        for index in range(size):
            proof = grown.inclusion_proof(index, size)
            assert proof == merkle.inclusion_proof(leaves[:size], index), (index, size)
            verify_inclusion(leaves[index], index, size, proof, root)


def test_consistency_proofs_between_checkpoints_equal_the_reference_and_verify(
    grown: LedgerStore,
) -> None:
    leaves = _leaves(grown)
    cps = _checkpoints(grown)
    for old in cps:
        for new in cps:
            if old.size > new.size:
                continue
            proof = grown.consistency_proof(old.size, new.size)
            assert proof == merkle.consistency_proof(leaves[: new.size], old.size)
            verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)


def test_receipts_rebuilt_from_the_log_verify(grown: LedgerStore) -> None:
    for entry in grown.entries(0, grown.tree_size()):
        receipt = grown.receipt(entry.index)
        checkpoint = receipt.verify(entry.entry, grown.log_vkey)
        assert checkpoint.size > entry.index


def test_inclusion_proof_beyond_the_log_is_refused(grown: LedgerStore) -> None:
    size = grown.tree_size()
    for index, past in [(0, size + 1), (size, size + 1), (size + 5, size + 10)]:
        with pytest.raises(ProofShapeError):
            grown.inclusion_proof(index, past)


@pytest.mark.parametrize(
    ("index", "size"),
    [(5, 5), (6, 5), (-1, 5), (0, 0)],
    ids=["index-at-size", "index-past-size", "negative-index", "empty-tree"],
)
def test_inclusion_proof_for_a_leaf_outside_the_tree_is_refused(
    grown: LedgerStore, index: int, size: int
) -> None:
    with pytest.raises(ProofShapeError):
        grown.inclusion_proof(index, size)


def test_consistency_proof_request_outside_the_tree_is_refused(grown: LedgerStore) -> None:
    size = grown.tree_size()
    for first, second in [(1, size + 1), (size, size + 1), (10, 5), (-1, 5)]:
        with pytest.raises(ProofShapeError):
            grown.consistency_proof(first, second)
    for bad in (size + 1, -1):
        with pytest.raises(ProofShapeError):
            grown.root_at(bad)


def test_index_of_leaf_finds_every_entry(grown: LedgerStore) -> None:
    for index, leaf in enumerate(_leaves(grown)):
        assert grown.index_of_leaf(leaf) == index


def test_index_of_an_unknown_leaf_is_not_found(grown: LedgerStore) -> None:
    with pytest.raises(NotFoundError):
        grown.index_of_leaf(leaf_hash(b"never logged"))
    entry = grown.entries(3, 4)[0]
    with pytest.raises(NotFoundError):
        grown.index_of_leaf(entry.entry[:32])  # the entry's bytes are not its leaf hash


# -- cost: a constant number of SQL statements, whatever the log size --------------------------


@contextmanager
def _statements(store: LedgerStore) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def _grow_to(store: LedgerStore, terminal: Terminal, size: int) -> None:
    while (missing := size - store.tree_size()) > 0:
        store.append([terminal.update_self(f"filler {n}") for n in range(min(missing, 200))])


def _costs(store: LedgerStore, terminal: Terminal) -> tuple[int, int]:
    size = store.tree_size()
    with _statements(store) as append:
        store.append([terminal.update_self("measured")])
    with _statements(store) as proof:
        store.inclusion_proof(size // 3, size + 1)
    return len(append), len(proof)


def test_append_and_proof_cost_does_not_grow_with_the_log(
    store: LedgerStore, operator: Terminal
) -> None:
    terminal = enrol(store, operator, "misurato")
    costs = {}
    # Sizes whose append merges different numbers of nodes (49 → 50: one; 511 → 512: nine).
    for size in (49, 511, 1023):
        _grow_to(store, terminal, size)
        costs[size] = _costs(store, terminal)

    append, proof = costs[49]
    assert set(costs.values()) == {(append, proof)}, costs
    assert append <= 12, costs
    assert proof <= 3, costs
