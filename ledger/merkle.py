"""RFC 9162 Merkle tree building blocks: node addressing, roots and proof plans.

This module owns the shape of the log's Merkle tree. A node is addressed by a ``NodeID``
``(level, index)``: the perfect subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``;
level 0 holds the leaf hashes. Once such a node is complete it never changes, so a store can
write it once and serve every later proof from it.

A proof is first *planned* (which stored nodes it needs, in RFC 9162 order) and then
*materialized* from whatever holds those nodes: a database table, a dict, or the in-memory
helpers at the bottom of this module. Plans touch O(log n) nodes and never walk the leaves.

Left out: verification (``ledger.proofs``), the append-only right edge of the tree
(``ledger.compact``) and storage (``ledger.store``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from ledger.errors import ProofError, ProofShapeError
from ledger.hashing import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash

__all__ = [
    "NodeID",
    "ProofPlan",
    "consistency_plan",
    "consistency_proof",
    "inclusion_plan",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "perfect_subtrees",
    "root_hash",
]

NodeID: TypeAlias = tuple[int, int]
"""``(level, index)``: the perfect subtree over leaves [index·2^level, (index+1)·2^level)."""

ProofElement: TypeAlias = tuple[NodeID, ...]


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH over already-hashed leaves, computed bottom-up in O(n).

    Pairing neighbours level by level and carrying an odd last node up unchanged builds the same
    tree as MTH's "split at the largest power of two smaller than n" recursion.
    """
    if not leaf_hashes:
        return EMPTY_ROOT  # RFC 9162 §2.1.1: MTH({}) = HASH()
    level = list(leaf_hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def perfect_subtrees(begin: int, end: int) -> list[NodeID]:
    """Split the leaf range [begin, end) into maximal aligned perfect subtrees, left to right.

    For ``begin == 0`` this is the compact range of a tree of ``end`` leaves (one node per set
    bit of ``end``, largest first). For a right edge ``[begin, size)`` whose ``begin`` is aligned
    to a power of two at least ``size - begin``, folding the nodes right to left gives the
    RFC 9162 §2.1.1 MTH of that range.
    """
    if begin < 0 or end < begin:
        raise ProofShapeError(f"invalid leaf range [{begin}, {end})")
    nodes: list[NodeID] = []
    while begin < end:
        level = (end - begin).bit_length() - 1  # the largest subtree that still fits
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)  # and that begin is aligned to
        nodes.append((level, begin >> level))
        begin += 1 << level
    return nodes


@dataclass(frozen=True)
class ProofPlan:
    """The stored nodes a proof needs, one element per proof hash, in RFC 9162 proof order.

    An element with one NodeID is a complete node. An element with several is an ephemeral node
    on the tree's right edge (not yet complete, hence never stored); its hash is its perfect
    subtrees folded right to left, which is the RFC 9162 §2.1.1 MTH of the range they cover.
    """

    elements: tuple[ProofElement, ...] = ()

    def __post_init__(self) -> None:
        if any(not element for element in self.elements):
            raise ProofShapeError("a proof plan element must name at least one node")

    def node_ids(self) -> frozenset[NodeID]:
        """Every node to read, e.g. for one ``WHERE (level, idx) IN (...)`` query."""
        return frozenset(node for element in self.elements for node in element)

    def materialize(
        self,
        hashes: Mapping[NodeID, bytes],
        *,
        folded: dict[ProofElement, bytes] | None = None,
    ) -> list[bytes]:
        """The proof's hashes, read from ``hashes`` (which may hold more nodes than needed).

        ``folded`` caches ephemeral nodes across plans of one tree size: the receipts of a
        batch share their right-edge nodes, so each is folded once.
        """
        if folded is None:
            return [fold_subtrees(element, hashes) for element in self.elements]
        proof = []
        for element in self.elements:
            if len(element) == 1:
                proof.append(_lookup(element[0], hashes))
                continue
            value = folded.get(element)
            if value is None:
                value = folded[element] = fold_subtrees(element, hashes)
            proof.append(value)
        return proof


def _lookup(node: NodeID, hashes: Mapping[NodeID, bytes]) -> bytes:
    value = hashes.get(node)
    if value is None:
        level, index = node
        raise ProofError(f"Merkle node (level {level}, index {index}) is missing")
    if len(value) != HASH_SIZE:
        raise ProofError(f"Merkle node {node} holds {len(value)} bytes, not {HASH_SIZE}")
    return value


def fold_subtrees(element: ProofElement, hashes: Mapping[NodeID, bytes]) -> bytes:
    """The RFC 9162 MTH of a range from its perfect subtrees (``perfect_subtrees`` order)."""
    # node_hash(n1, node_hash(n2, ... node_hash(n_{k-1}, n_k))): each node is at least as large
    # as everything to its right, which is how RFC 9162 §2.1.1 splits a right-edge range.
    acc = _lookup(element[-1], hashes)
    for node in reversed(element[:-1]):
        acc = node_hash(_lookup(node, hashes), acc)
    return acc


def _path(level: int, index: int, size: int) -> list[ProofElement]:
    """The audit path of complete node ``(level, index)`` in a tree of ``size`` leaves.

    Equivalent to RFC 9162 §2.1.3.1 PATH, bottom-up, but computed from bit arithmetic on node
    IDs instead of recursing over leaves. Below the "fork" (where the node's path to the root
    meets the path of the last leaf) every sibling is complete except the one at the fork,
    which holds the last leaf and is ephemeral. Above the fork the path runs along the right
    edge, where only left siblings exist (one per set bit of the shifted index).
    """
    last = (size - 1) >> level  # the node at this level that holds the last leaf
    inner = (index ^ last).bit_length()  # levels from this node up to just below the fork
    elements: list[ProofElement] = [((level + i, (index >> i) ^ 1),) for i in range(inner - 1)]
    if inner:
        # The right sibling at the fork covers [begin, size): ephemeral unless size is aligned.
        begin = ((index >> (inner - 1)) + 1) << (level + inner - 1)
        elements.append(tuple(perfect_subtrees(begin, size)))
    upper, height = index >> inner, level + inner
    while upper:
        if upper & 1:  # a right child on the right edge: its left sibling is complete
            elements.append(((height, upper - 1),))
        upper >>= 1
        height += 1
    return elements


def inclusion_plan(index: int, size: int) -> ProofPlan:
    """The nodes of RFC 9162 §2.1.3.1 PATH(index, D[size]), leaf side first."""
    if index < 0 or size < 0:
        raise ProofShapeError(f"negative index {index} or tree size {size}")
    if index >= size:
        raise ProofShapeError(f"leaf index {index} is beyond a tree of size {size}")
    return ProofPlan(tuple(_path(0, index, size)))


def consistency_plan(size1: int, size2: int) -> ProofPlan:
    """The nodes of RFC 9162 §2.1.4.1 PROOF(size1, D[size2]) = SUBPROOF(size1, D[size2], true).

    SUBPROOF ends in the largest perfect subtree that ends at ``size1`` (level = trailing zeros
    of ``size1``) and then walks that node's audit path in the tree of ``size2``. When
    ``size1`` is a power of two that subtree is the old tree itself, whose root the verifier
    already holds, so RFC 9162 leaves it out. Empty for ``size1 == size2`` and ``size1 == 0``.
    """
    if size1 < 0 or size2 < 0:
        raise ProofShapeError(f"negative tree size {size1} or {size2}")
    if size1 > size2:
        raise ProofShapeError(f"tree size {size1} is larger than tree size {size2}")
    if size1 in (0, size2):
        return ProofPlan()
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    elements = _path(level, index, size2)
    if index:  # size1 is not a power of two: the verifier needs this subtree's hash
        elements.insert(0, ((level, index),))
    return ProofPlan(tuple(elements))


def _hashes_from_leaves(plan: ProofPlan, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    # Plan nodes cover disjoint leaf ranges, so computing each from its leaves costs O(n).
    nodes = {
        (level, index): root_hash(leaf_hashes[index << level : (index + 1) << level])
        for level, index in plan.node_ids()
    }
    return plan.materialize(nodes)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 inclusion proof for leaf ``index`` in the tree of all ``leaf_hashes``."""
    return _hashes_from_leaves(inclusion_plan(index, len(leaf_hashes)), leaf_hashes)


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 consistency proof from ``size1`` to the tree of all ``leaf_hashes``."""
    return _hashes_from_leaves(consistency_plan(size1, len(leaf_hashes)), leaf_hashes)
