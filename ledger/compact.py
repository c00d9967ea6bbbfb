"""The compact range of the log: the right edge of an RFC 9162 Merkle tree in O(log n) hashes.

This module owns ``CompactRange``, the smallest state from which the log can append a leaf and
compute its root without re-reading any entry (DESIGN.md, Formats → Log). It holds one hash per
set bit of the tree size: the maximal perfect subtrees covering [0, size), largest first, the
same nodes ``ledger.merkle.perfect_subtrees(0, size)`` names. The idea follows
transparency-dev/merkle ``compact/range.go``, restricted to ranges that start at leaf 0.

Left out: storing the nodes that ``append`` reports (``ledger.store``) and proofs
(``ledger.merkle``, ``ledger.proofs``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.errors import FormatError
from ledger.hashing import EMPTY_ROOT, HASH_SIZE, node_hash
from ledger.merkle import NodeID

__all__ = ["CompactRange"]


def _check_hash(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise FormatError(f"{what} must be {HASH_SIZE} bytes")
    return bytes(value)


class CompactRange:
    """The compact range [0, size) of an append-only RFC 9162 Merkle tree."""

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0:
            raise FormatError(f"compact range: negative tree size {size}")
        if len(hashes) != size.bit_count():
            raise FormatError(
                f"compact range: a tree of size {size} needs {size.bit_count()} hashes, "
                f"got {len(hashes)}"
            )
        self._size = size
        self._hashes = [_check_hash(h, "compact range hash") for h in hashes]

    @property
    def size(self) -> int:
        """The number of leaves covered."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """One hash per perfect subtree of [0, size), largest (leftmost) first."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[NodeID, bytes]]:
        """Add leaf ``size``; return every node this completes, the leaf ``(0, i)`` first.

        Each trailing one bit of the old size is a perfect subtree that now has a right
        sibling of the same height, so the two merge into their parent (RFC 9162 §2.1.1:
        HASH(0x01 || left || right)); the loop climbs one level per merge. Amortized O(1).
        """
        value = _check_hash(leaf_hash, "leaf hash")
        index = self._size
        completed: list[tuple[NodeID, bytes]] = [((0, index), value)]
        level = 0
        while index & 1:
            value = node_hash(self._hashes.pop(), value)
            index >>= 1
            level += 1
            completed.append(((level, index), value))
        self._hashes.append(value)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """RFC 9162 §2.1.1 MTH of the covered leaves, folding the subtrees right to left."""
        if not self._hashes:
            return EMPTY_ROOT  # RFC 9162 §2.1.1: MTH({}) = HASH()
        acc = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            acc = node_hash(left, acc)
        return acc

    def to_bytes(self) -> bytes:
        """The hashes concatenated, largest subtree first (the size is stored alongside)."""
        return b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> CompactRange:
        """Inverse of ``to_bytes`` for a tree of ``size`` leaves."""
        if size < 0:
            raise FormatError(f"compact range: negative tree size {size}")
        if len(data) != HASH_SIZE * size.bit_count():
            raise FormatError(
                f"compact range: a tree of size {size} needs {HASH_SIZE * size.bit_count()} "
                f"bytes, got {len(data)}"
            )
        hashes = [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
        return cls(size, hashes)

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"
