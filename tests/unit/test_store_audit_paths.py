"""The sequencer's batch receipts (``_AuditPaths``) give the proofs ``inclusion_plan`` gives.

A batch holds only what the sequencer holds in memory: the compact range of the tree before the
batch and the nodes the batch's leaves complete. Every proof of a new leaf must come from those,
for every batch start and length, including batches that end on a power of two.
"""

from __future__ import annotations

import functools

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.compact import CompactRange
from ledger.merkle import NodeID, inclusion_plan, leaf_hash, perfect_subtrees
from ledger.store.sequencer import _AuditPaths

MAX_SIZE = 3000


@functools.cache
def _all_nodes() -> dict[NodeID, bytes]:
    compact, nodes = CompactRange(), dict[NodeID, bytes]()
    for i in range(MAX_SIZE):
        nodes.update(compact.append(leaf_hash(b"entry %d" % i)))
    return nodes


def _batch_nodes(start: int, end: int) -> dict[NodeID, bytes]:
    """What the sequencer holds after appending leaves [start, end) to a tree of ``start``."""
    everything = _all_nodes()
    held = {node: everything[node] for node in perfect_subtrees(0, start)}
    compact = CompactRange(start, [held[node] for node in perfect_subtrees(0, start)])
    for i in range(start, end):
        held.update(compact.append(everything[(0, i)]))
    return held


def _check(start: int, end: int) -> None:
    everything = _all_nodes()
    paths = _AuditPaths(_batch_nodes(start, end), end)
    for index in range(start, end):
        expected = inclusion_plan(index, end).materialize(everything)
        assert paths.of(0, index) == tuple(expected), (start, end, index)


def test_every_batch_of_small_trees() -> None:
    for end in range(1, 70):
        for start in range(end):
            _check(start, end)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, MAX_SIZE - 1), st.integers(1, 1100))
def test_batches_of_larger_trees(start: int, length: int) -> None:
    _check(start, min(start + length, MAX_SIZE))
