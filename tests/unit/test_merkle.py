"""Merkle plans, in-memory proofs and the compact range, cross-checked against the RFC reference."""

from __future__ import annotations

import hashlib

import pytest

from ledger.compact import CompactRange
from ledger.errors import FormatError, ProofError, ProofShapeError
from ledger.hashing import EMPTY_ROOT
from ledger.merkle import (
    NodeID,
    ProofPlan,
    consistency_plan,
    consistency_proof,
    inclusion_plan,
    inclusion_proof,
    leaf_hash,
    perfect_subtrees,
    root_hash,
)
from ledger.proofs import check_consistency, check_inclusion
from tests.unit import merkle_reference as ref

LEAVES = [leaf_hash(b"entry %d" % i) for i in range(300)]
SMALL_SIZES = range(1, 71)


def _subtree(node: NodeID) -> bytes:
    level, index = node
    return ref.mth(LEAVES[index << level : (index + 1) << level])


def _stored_nodes(size: int) -> dict[NodeID, bytes]:
    """What a store holds after ``size`` appends: every node the compact range reported."""
    compact, nodes = CompactRange(), dict[NodeID, bytes]()
    for leaf in LEAVES[:size]:
        nodes.update(compact.append(leaf))
    return nodes


# Known answers from transparency-dev/merkle proof/verify_test.go: the RFC 6962 / RFC 9162
# reference tree of eight entries, its roots at every size, and two of its proofs.
KAT_ENTRIES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243",
               "5051525354555657", "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
KAT_ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
KAT_INCLUSION_5_IN_8 = [bytes.fromhex(h) for h in (
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
)]  # fmt: skip
KAT_CONSISTENCY_6_TO_7 = [bytes.fromhex(h) for h in (
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
)]  # fmt: skip


def test_known_tree_has_the_published_roots_and_proofs() -> None:
    leaves = [leaf_hash(entry) for entry in KAT_ENTRIES]
    assert [root_hash(leaves[:n]) for n in range(1, 9)] == KAT_ROOTS
    assert inclusion_proof(leaves, 5) == KAT_INCLUSION_5_IN_8
    assert consistency_proof(leaves[:7], 6) == KAT_CONSISTENCY_6_TO_7


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert root_hash([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert CompactRange().root() == EMPTY_ROOT


def test_root_hash_matches_rfc_mth() -> None:
    for size in range(71):
        assert root_hash(LEAVES[:size]) == ref.mth(LEAVES[:size]), size


@pytest.mark.parametrize("size", SMALL_SIZES)
def test_inclusion_proof_matches_rfc_path(size: int) -> None:
    leaves = LEAVES[:size]
    for index in range(size):
        assert inclusion_proof(leaves, index) == ref.path(index, leaves), index


@pytest.mark.parametrize("size2", SMALL_SIZES)
def test_consistency_proof_matches_rfc_subproof(size2: int) -> None:
    leaves = LEAVES[:size2]
    for size1 in range(1, size2 + 1):
        assert consistency_proof(leaves, size1) == ref.proof(size1, leaves), size1
    assert consistency_proof(leaves, 0) == []


def _assert_cheap(plan: ProofPlan, size: int) -> None:
    # O(log n) reads: at most ceil(log2 n) path hashes (plus a consistency proof's first
    # subtree), an ephemeral one adds at most one node per level, and only the right-edge
    # sibling at the fork may be ephemeral.
    assert len(plan.elements) <= (size - 1).bit_length() + 1
    assert len(plan.node_ids()) <= 2 * size.bit_length()
    assert sum(len(element) > 1 for element in plan.elements) <= 1


@pytest.mark.parametrize("size", SMALL_SIZES)
def test_plans_read_only_stored_nodes(size: int) -> None:
    stored = _stored_nodes(size)
    leaves = LEAVES[:size]
    for index in range(size):
        plan = inclusion_plan(index, size)
        _assert_cheap(plan, size)
        assert plan.node_ids() <= stored.keys()
        assert plan.materialize(stored) == ref.path(index, leaves)
    for size1 in range(1, size + 1):
        plan = consistency_plan(size1, size)
        _assert_cheap(plan, size)
        assert plan.node_ids() <= stored.keys()
        assert plan.materialize(stored) == ref.proof(size1, leaves)


def test_plans_stay_small_for_huge_trees() -> None:
    size = 2**62 + 2**40 + 12345
    for plan in (inclusion_plan(2**61 + 7, size), consistency_plan(2**62 + 3, size)):
        _assert_cheap(plan, size)


def test_plan_with_missing_node_is_refused() -> None:
    plan = inclusion_plan(4, 7)
    stored = _stored_nodes(7)
    del stored[(0, 6)]
    with pytest.raises(ProofError, match=r"level 0, index 6"):
        plan.materialize(stored)


def test_plan_with_truncated_node_is_refused() -> None:
    stored = _stored_nodes(8)
    stored[(1, 3)] = stored[(1, 3)][:31]
    with pytest.raises(ProofError):
        inclusion_plan(4, 8).materialize(stored)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (5, 5), (6, 5), (-1, 5), (0, -1)], ids=str)
def test_inclusion_plan_outside_the_tree_is_refused(index: int, size: int) -> None:
    with pytest.raises(ProofShapeError):
        inclusion_plan(index, size)
    with pytest.raises(ProofShapeError):
        inclusion_proof(LEAVES[: max(size, 0)], index)


@pytest.mark.parametrize(("size1", "size2"), [(6, 5), (1, 0), (-1, 3), (2, -1)], ids=str)
def test_consistency_plan_with_shrinking_or_negative_sizes_is_refused(
    size1: int, size2: int
) -> None:
    with pytest.raises(ProofShapeError):
        consistency_plan(size1, size2)


def test_consistency_plan_for_equal_or_empty_sizes_is_empty() -> None:
    assert consistency_plan(0, 0) == consistency_plan(0, 9) == consistency_plan(9, 9) == ProofPlan()


def test_plan_element_must_name_a_node() -> None:
    with pytest.raises(ProofShapeError):
        ProofPlan(((), ((0, 1),)))


def test_perfect_subtrees_known_decompositions() -> None:
    assert perfect_subtrees(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert perfect_subtrees(5, 13) == [(0, 5), (1, 3), (2, 2), (0, 12)]
    assert perfect_subtrees(7, 7) == []
    with pytest.raises(ProofShapeError):
        perfect_subtrees(8, 7)


def test_perfect_subtrees_are_an_aligned_maximal_cover() -> None:
    for begin in range(65):
        for end in range(begin, 65):
            position = begin
            for level, index in perfect_subtrees(begin, end):
                assert index << level == position
                position += 1 << level
                parent_begin, parent_end = (
                    (index >> 1) << (level + 1),
                    ((index >> 1) + 1) << (level + 1),
                )
                assert not (begin <= parent_begin and parent_end <= end), "not maximal"
            assert position == end


def test_compact_range_root_matches_rfc_mth() -> None:
    compact = CompactRange()
    for size in range(301):
        assert compact.size == size
        assert compact.root() == ref.mth(LEAVES[:size]), size
        assert compact.hashes == tuple(_subtree(node) for node in perfect_subtrees(0, size))
        if size < 300:
            compact.append(LEAVES[size])


def test_append_reports_every_completed_node_once() -> None:
    compact, seen = CompactRange(), dict[NodeID, bytes]()
    for index, leaf in enumerate(LEAVES):
        reported = compact.append(leaf)
        assert reported[0] == ((0, index), leaf)
        assert [node for node, _ in reported] == [
            (level, index >> level) for level in range(len(reported))
        ]
        for node, value in reported:
            assert node not in seen
            assert value == _subtree(node), node
            seen[node] = value
    every_complete_node = {(lv, i) for lv in range(9) for i in range(len(LEAVES) >> lv)}
    assert seen.keys() == every_complete_node


def test_compact_range_bytes_round_trip() -> None:
    for size in (0, 1, 2, 7, 64, 299):
        compact = CompactRange()
        for leaf in LEAVES[:size]:
            compact.append(leaf)
        restored = CompactRange.from_bytes(size, compact.to_bytes())
        assert (restored.size, restored.hashes) == (compact.size, compact.hashes)
        assert len(compact.to_bytes()) == 32 * size.bit_count()
        restored.append(LEAVES[size])
        assert restored.root() == ref.mth(LEAVES[: size + 1])


@pytest.mark.parametrize(
    ("size", "hashes"),
    [
        (-1, []),
        (0, [LEAVES[0]]),
        (3, [LEAVES[0]]),
        (3, [LEAVES[0], LEAVES[1], LEAVES[2]]),
        (1, [LEAVES[0][:31]]),
        (2, [LEAVES[0] + b"\x00"]),
    ],
    ids=["negative-size", "hash-for-empty", "too-few", "too-many", "short-hash", "long-hash"],
)
def test_compact_range_with_bad_state_is_refused(size: int, hashes: list[bytes]) -> None:
    with pytest.raises(FormatError):
        CompactRange(size, hashes)


def test_compact_range_from_bytes_with_wrong_length_is_refused() -> None:
    with pytest.raises(FormatError):
        CompactRange.from_bytes(3, bytes(32 * 3))
    with pytest.raises(FormatError):
        CompactRange.from_bytes(-2, b"")


def test_appending_a_non_hash_is_refused() -> None:
    compact = CompactRange()
    with pytest.raises(FormatError):
        compact.append(b"not a hash")
    assert compact.size == 0


@pytest.mark.parametrize("size", range(1, 41))
def test_verifier_agrees_with_rfc_algorithm_on_honest_and_flipped_proofs(size: int) -> None:
    leaves, root = LEAVES[:size], ref.mth(LEAVES[:size])
    for index in range(size):
        proof = inclusion_proof(leaves, index)
        for tampered in [proof] + [_flip(proof, i) for i in range(len(proof))]:
            ours = check_inclusion(leaves[index], index, size, tampered, root) is None
            assert ours == ref.verify_path(leaves[index], index, size, tampered, root)
            assert ours == (tampered is proof)
    for size1 in range(1, size):
        proof, root1 = consistency_proof(leaves, size1), ref.mth(leaves[:size1])
        for tampered in [proof] + [_flip(proof, i) for i in range(len(proof))]:
            ours = check_consistency(size1, size, tampered, root1, root) is None
            assert ours == ref.verify_proof(size1, size, tampered, root1, root)
            assert ours == (tampered is proof)


def _flip(proof: list[bytes], position: int) -> list[bytes]:
    changed = bytearray(proof[position])
    changed[0] ^= 0x80
    return [*proof[:position], bytes(changed), *proof[position + 1 :]]


def test_proof_hash_of_wrong_length_is_a_shape_error() -> None:
    leaves = LEAVES[:13]
    root, root5 = ref.mth(leaves), ref.mth(leaves[:5])
    inclusion, consistency = inclusion_proof(leaves, 6), consistency_proof(leaves, 5)
    for forged in (inclusion[0][:31], inclusion[0] + b"\x00", b""):
        error = check_inclusion(leaves[6], 6, 13, [forged, *inclusion[1:]], root)
        assert isinstance(error, ProofShapeError)
    for forged in (consistency[-1][:31], consistency[-1] + b"\x00"):
        error = check_consistency(5, 13, [*consistency[:-1], forged], root5, root)
        assert isinstance(error, ProofShapeError)


@pytest.mark.parametrize(
    ("index", "size"), [(-1, 13), (6, -13), (13, 13), (2**64 - 1, 13)], ids=str
)
def test_inclusion_claim_outside_the_tree_is_a_shape_error(index: int, size: int) -> None:
    leaves = LEAVES[:13]
    error = check_inclusion(leaves[6], index, size, inclusion_proof(leaves, 6), ref.mth(leaves))
    assert isinstance(error, ProofShapeError)
