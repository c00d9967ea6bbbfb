"""Properties of proofs over trees of up to a few thousand leaves: honest proofs verify, any
single-bit change to a proof, root or leaf is refused, and so is a proof moved to another
index or tree size.

One tree of ``MAX_SIZE`` leaves is built once through the compact range; the nodes it reports
serve every smaller tree too (a complete node never changes), as they will from the store.
"""

from __future__ import annotations

import functools

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.compact import CompactRange
from ledger.errors import ProofShapeError, RootMismatchError
from ledger.merkle import NodeID, consistency_plan, inclusion_plan, leaf_hash
from ledger.proofs import (
    check_consistency,
    check_inclusion,
    verify_consistency,
    verify_inclusion,
)
from tests.unit import merkle_reference as ref

MAX_SIZE = 5000
FAST = settings(max_examples=150, deadline=None)


@functools.cache
def _tree() -> tuple[list[bytes], dict[NodeID, bytes], list[bytes]]:
    """Leaf hashes, every complete node, and the root at every size 0..MAX_SIZE."""
    leaves = [leaf_hash(b"lot %d" % i) for i in range(MAX_SIZE)]
    compact, nodes, roots = CompactRange(), dict[NodeID, bytes](), [CompactRange().root()]
    for leaf in leaves:
        nodes.update(compact.append(leaf))
        roots.append(compact.root())
    return leaves, nodes, roots


def _inclusion(index: int, size: int) -> list[bytes]:
    return inclusion_plan(index, size).materialize(_tree()[1])


def _consistency(size1: int, size2: int) -> list[bytes]:
    return consistency_plan(size1, size2).materialize(_tree()[1])


def _flip(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


@st.composite
def _leaf_in_tree(draw: st.DrawFn, min_size: int = 1) -> tuple[int, int]:
    size = draw(st.integers(min_size, MAX_SIZE))
    return draw(st.integers(0, size - 1)), size


@st.composite
def _two_sizes(draw: st.DrawFn, strict: bool = False) -> tuple[int, int]:
    size2 = draw(st.integers(2 if strict else 1, MAX_SIZE))
    return draw(st.integers(1, size2 - 1 if strict else size2)), size2


BITS = st.integers(0, 255)


@FAST
@given(_leaf_in_tree())
def test_every_inclusion_proof_verifies(leaf: tuple[int, int]) -> None:
    index, size = leaf
    leaves, _, roots = _tree()
    verify_inclusion(leaves[index], index, size, _inclusion(index, size), roots[size])


@FAST
@given(_two_sizes())
def test_every_consistency_proof_verifies(sizes: tuple[int, int]) -> None:
    size1, size2 = sizes
    roots = _tree()[2]
    verify_consistency(size1, size2, _consistency(size1, size2), roots[size1], roots[size2])


@FAST
@given(_leaf_in_tree(min_size=2), st.data(), BITS)
def test_flipped_bit_in_inclusion_proof_is_refused(
    leaf: tuple[int, int], data: st.DataObject, bit: int
) -> None:
    index, size = leaf
    leaves, _, roots = _tree()
    proof = _inclusion(index, size)
    position = data.draw(st.integers(0, len(proof) - 1))
    proof[position] = _flip(proof[position], bit)
    error = check_inclusion(leaves[index], index, size, proof, roots[size])
    assert isinstance(error, RootMismatchError)


@FAST
@given(_leaf_in_tree(), BITS)
def test_flipped_bit_in_root_or_leaf_is_refused(leaf: tuple[int, int], bit: int) -> None:
    index, size = leaf
    leaves, _, roots = _tree()
    proof = _inclusion(index, size)
    forged_root = _flip(roots[size], bit)
    forged_leaf = _flip(leaves[index], bit)
    assert isinstance(
        check_inclusion(leaves[index], index, size, proof, forged_root), RootMismatchError
    )
    assert isinstance(
        check_inclusion(forged_leaf, index, size, proof, roots[size]), RootMismatchError
    )


@FAST
@given(_two_sizes(strict=True), st.data(), BITS)
def test_flipped_bit_in_consistency_proof_is_refused(
    sizes: tuple[int, int], data: st.DataObject, bit: int
) -> None:
    size1, size2 = sizes
    roots = _tree()[2]
    proof = _consistency(size1, size2)
    position = data.draw(st.integers(0, len(proof) - 1))
    proof[position] = _flip(proof[position], bit)
    error = check_consistency(size1, size2, proof, roots[size1], roots[size2])
    assert isinstance(error, RootMismatchError)


@FAST
@given(_two_sizes(), BITS)
def test_flipped_bit_in_either_root_is_refused(sizes: tuple[int, int], bit: int) -> None:
    size1, size2 = sizes
    roots = _tree()[2]
    proof = _consistency(size1, size2)
    old, new = roots[size1], roots[size2]
    assert isinstance(
        check_consistency(size1, size2, proof, _flip(old, bit), new), RootMismatchError
    )
    assert isinstance(
        check_consistency(size1, size2, proof, old, _flip(new, bit)), RootMismatchError
    )


@FAST
@given(_leaf_in_tree(min_size=2), st.data())
def test_proof_moved_to_another_index_is_refused(
    leaf: tuple[int, int], data: st.DataObject
) -> None:
    index, size = leaf
    leaves, _, roots = _tree()
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
    assert check_inclusion(leaves[index], other, size, _inclusion(index, size), roots[size])


@FAST
@given(_leaf_in_tree(), st.data())
def test_proof_moved_to_another_tree_size_is_refused(
    leaf: tuple[int, int], data: st.DataObject
) -> None:
    # The claimed size comes with that tree's root, as it does in a checkpoint. (With the
    # original root some sizes share a proof shape, e.g. leaf 4 of 7 and of 8: a tree's size
    # is bound by its signed checkpoint, not by the proof.)
    index, size = leaf
    leaves, _, roots = _tree()
    other = data.draw(st.integers(index + 1, MAX_SIZE).filter(lambda s: s != size))
    error = check_inclusion(leaves[index], index, other, _inclusion(index, size), roots[other])
    assert isinstance(error, ProofShapeError | RootMismatchError)


@FAST
@given(_two_sizes(strict=True), st.data())
def test_consistency_proof_moved_to_other_sizes_is_refused(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    size1, size2 = sizes
    roots = _tree()[2]
    proof = _consistency(size1, size2)
    other1 = data.draw(st.integers(1, size2).filter(lambda s: s != size1))
    assert check_consistency(other1, size2, proof, roots[other1], roots[size2])
    other2 = data.draw(st.integers(size1, MAX_SIZE).filter(lambda s: s != size2))
    assert check_consistency(size1, other2, proof, roots[size1], roots[other2])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, MAX_SIZE))
def test_compact_range_root_matches_rfc_mth(size: int) -> None:
    leaves, _, roots = _tree()
    assert roots[size] == ref.mth(leaves[:size])
