"""Verification of RFC 9162 inclusion and consistency proofs over untrusted hashes.

This module owns the verifier's side of the Merkle tree: pure functions over (hashes, sizes,
indices) that either return or raise from ``ledger.errors``. ``ProofShapeError`` means the proof
cannot belong to the claimed sizes (index or sizes out of range, wrong number of hashes, a
leaf or proof hash that is not 32 bytes); ``RootMismatchError`` means it is well-formed but
leads elsewhere. The ``check_*`` variants return that error instead of raising it.

The arithmetic follows transparency-dev/merkle ``proof/verify.go``: the proof splits into an
"inner" part (below the level where the leaf's path meets the tree's right edge, siblings on
either side) and a "border" part (left siblings only). This computes exactly the roots of the
RFC 9162 §2.1.3.2 and §2.1.4.2 algorithms while checking the proof length up front.

Roots are the caller's trusted values (from verified checkpoints): they are compared, never
parsed. Left out: producing proofs (``ledger.merkle``) and trusting roots (``ledger.checkpoint``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.errors import ProofError, ProofShapeError, RootMismatchError
from ledger.hashing import HASH_SIZE, node_hash

__all__ = [
    "check_consistency",
    "check_inclusion",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]


def _require_hashes(proof: Sequence[bytes], what: str = "proof hash") -> None:
    for position, value in enumerate(proof):
        if len(value) != HASH_SIZE:
            raise ProofShapeError(f"{what} {position} is {len(value)} bytes, not {HASH_SIZE}")


def _decompose(index: int, size: int) -> tuple[int, int]:
    """(inner, border): how many proof hashes lie below and above the fork with the right edge.

    ``inner`` is the number of levels where the paths to leaf ``index`` and to leaf ``size - 1``
    still differ; above them the path runs along the right edge and has one (left) sibling per
    set bit of ``index >> inner``. Their sum is the RFC 9162 §2.1.3.1 PATH length.
    """
    inner = (index ^ (size - 1)).bit_length()
    return inner, (index >> inner).bit_count()


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    # RFC 9162 §2.1.3.2 step 4b: a set bit means our node is a right child.
    for level, sibling in enumerate(proof):
        seed = node_hash(sibling, seed) if (index >> level) & 1 else node_hash(seed, sibling)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    # RFC 9162 §2.1.4.2 step 6b: only left siblings belong to the older, smaller tree.
    for level, sibling in enumerate(proof):
        if (index >> level) & 1:
            seed = node_hash(sibling, seed)
    return seed


def _chain_border(seed: bytes, proof: Sequence[bytes]) -> bytes:
    # Along the right edge every sibling is on the left.
    for sibling in proof:
        seed = node_hash(sibling, seed)
    return seed


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` implies for leaf ``index`` of a tree of ``size`` leaves."""
    if index < 0 or size < 0:
        raise ProofShapeError(f"negative leaf index {index} or tree size {size}")
    if index >= size:  # RFC 9162 §2.1.3.2 step 1
        raise ProofShapeError(f"leaf index {index} is beyond a tree of size {size}")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofShapeError(f"leaf hash is {len(leaf_hash)} bytes, not {HASH_SIZE}")
    inner, border = _decompose(index, size)
    if len(proof) != inner + border:
        raise ProofShapeError(
            f"inclusion proof has {len(proof)} hashes; leaf {index} of a tree of size {size} "
            f"needs {inner + border}"
        )
    _require_hashes(proof)
    return _chain_border(_chain_inner(leaf_hash, proof[:inner], index), proof[inner:])


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``."""
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if computed != root:  # RFC 9162 §2.1.3.2 step 5
        raise RootMismatchError(expected=root, computed=computed)


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size2`` leaves with ``root2`` extends the one with ``root1``.

    Requires 0 < size1 <= size2. A consistency proof from the empty tree is refused whatever
    the proof: the empty tree's root is not a prefix of anything, so there is nothing to prove
    (transparency-dev/merkle rejects it too; its vectors expect an error even for sizes 0, 0).
    """
    if size1 < 0 or size2 < 0:
        raise ProofShapeError(f"negative tree size {size1} or {size2}")
    if size1 > size2:
        raise ProofShapeError(f"tree size {size1} is larger than tree size {size2}")
    if size1 == 0:
        raise ProofShapeError("a consistency proof from the empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise ProofShapeError(f"equal tree sizes need an empty proof, got {len(proof)} hashes")
        if root1 != root2:
            raise RootMismatchError(expected=root2, computed=root1)
        return
    if not proof:  # RFC 9162 §2.1.4.2 step 1
        raise ProofShapeError(f"empty consistency proof from size {size1} to {size2}")
    _require_hashes(proof)

    # The proof is the audit path, in the tree of size2, of the largest perfect subtree that
    # ends at size1 (RFC 9162 §2.1.4.1), so it decomposes like leaf size1 - 1's path, minus
    # the `shift` levels below that subtree.
    inner, border = _decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift  # shift < inner because size1 < size2
    mask = (size1 - 1) >> shift
    if mask == 0:
        # RFC 9162 §2.1.4.2 step 2: size1 is a power of two, the subtree is the old tree.
        seed, path = root1, proof
    else:
        seed, path = proof[0], proof[1:]
    if len(path) != inner + border:
        raise ProofShapeError(
            f"consistency proof has {len(proof)} hashes; sizes {size1} to {size2} need "
            f"{inner + border + (1 if mask else 0)}"
        )

    # RFC 9162 §2.1.4.2 steps 5-7: rebuild both roots from the same path.
    computed1 = _chain_border(_chain_inner_right(seed, path[:inner], mask), path[inner:])
    if computed1 != root1:
        raise RootMismatchError(expected=root1, computed=computed1)
    computed2 = _chain_border(_chain_inner(seed, path[:inner], mask), path[inner:])
    if computed2 != root2:
        raise RootMismatchError(expected=root2, computed=computed2)


def check_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> ProofError | None:
    """Like ``verify_inclusion``, but return the error instead of raising it."""
    try:
        verify_inclusion(leaf_hash, index, size, proof, root)
    except ProofError as error:
        return error
    return None


def check_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> ProofError | None:
    """Like ``verify_consistency``, but return the error instead of raising it."""
    try:
        verify_consistency(size1, size2, proof, root1, root2)
    except ProofError as error:
        return error
    return None
