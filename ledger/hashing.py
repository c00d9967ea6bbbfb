"""Hash domains of the log, in one place.

RFC 9162 §2.1.1 separates leaves from interior nodes with a one-byte prefix; spola adds a third
domain for the hash chain that runs alongside the Merkle tree (DESIGN.md, Formats → Log).
"""

from __future__ import annotations

import hashlib
from typing import Final

HASH_SIZE: Final = 32

LEAF_PREFIX: Final = b"\x00"  # RFC 9162 §2.1.1: MTH({d(0)}) = HASH(0x00 || d(0))
NODE_PREFIX: Final = b"\x01"  # RFC 9162 §2.1.1: HASH(0x01 || MTH(left) || MTH(right))
CHAIN_PREFIX: Final = b"\x02"  # spola: chain_i = HASH(0x02 || chain_{i-1} || leaf_i)

EMPTY_ROOT: Final = hashlib.sha256(b"").digest()  # RFC 9162 §2.1.1: MTH({}) = HASH()
CHAIN_GENESIS: Final = bytes(HASH_SIZE)  # chain_{-1}: 32 zero bytes


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(entry: bytes) -> bytes:
    """The RFC 9162 leaf hash of one log entry's bytes."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 9162 interior node hash over two child hashes."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    """The next link of the log's hash chain: HASH(0x02 || chain_{i-1} || leaf_i)."""
    return hashlib.sha256(CHAIN_PREFIX + previous + leaf).digest()
