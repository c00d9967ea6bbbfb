"""Receipts: what the ledger answers for every accepted event, and what a terminal keeps.

A receipt names the entry's log index and leaf hash, the signed checkpoint that covers it and the
RFC 9162 inclusion proof against that checkpoint (together: a C2SP tlog-proof), plus the
domain-rule verdict. With the log's public key alone, ``Receipt.verify`` checks that the ledger
has committed to the entry; a later checkpoint that is not consistent with it proves a fork.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ledger.checkpoint import Checkpoint, TlogProof, verify_checkpoint
from ledger.errors import FormatError
from ledger.hashing import leaf_hash
from ledger.proofs import verify_inclusion


def _count(value: Any, what: str) -> int:
    """A JSON integer of at least 0: not a string, a fraction or a boolean read as one."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a whole number of at least 0, not {value!r:.40}")
    return value


def _flag(value: Any, what: str) -> bool:
    """A JSON boolean: the string "false" is not read as true."""
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false, not {value!r:.40}")
    return value


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str


@dataclass(frozen=True)
class Receipt:
    index: int
    leaf_hash: bytes
    checkpoint: bytes  # the signed note, exactly as the log signed it
    inclusion_proof: tuple[bytes, ...]
    applied: bool
    violation: Violation | None = None
    duplicate: bool = False  # the envelope had been accepted before: this is its original receipt

    def tlog_proof(self) -> str:
        """The receipt's proof in the c2sp.org/tlog-proof@v1 text format."""
        return TlogProof(
            index=self.index, proof=self.inclusion_proof, checkpoint=self.checkpoint
        ).to_text()

    def verify(self, entry: bytes, log_vkey: str) -> Checkpoint:
        """Check the checkpoint's signature and the entry's inclusion; returns the checkpoint."""
        checkpoint = verify_checkpoint(self.checkpoint, log_vkey)
        if leaf_hash(entry) != self.leaf_hash:
            raise FormatError("receipt: leaf_hash is not the hash of this entry")
        verify_inclusion(
            self.leaf_hash, self.index, checkpoint.size, self.inclusion_proof, checkpoint.root_hash
        )
        return checkpoint

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "leaf_hash": self.leaf_hash.hex(),
            "checkpoint": self.checkpoint.decode("utf-8"),
            "inclusion_proof": [base64.b64encode(h).decode("ascii") for h in self.inclusion_proof],
            "tlog_proof": self.tlog_proof(),
            "applied": self.applied,
            "violation": None
            if self.violation is None
            else {"rule": self.violation.rule, "detail": self.violation.detail},
            "duplicate": self.duplicate,
        }

    @classmethod
    def from_json(cls, obj: Any) -> Receipt:
        try:
            violation = obj["violation"]
            return cls(
                index=_count(obj["index"], "index"),
                leaf_hash=bytes.fromhex(obj["leaf_hash"]),
                checkpoint=obj["checkpoint"].encode("utf-8"),
                inclusion_proof=tuple(
                    base64.b64decode(h, validate=True) for h in obj["inclusion_proof"]
                ),
                applied=_flag(obj["applied"], "applied"),
                violation=None if violation is None else Violation(**violation),
                duplicate=_flag(obj.get("duplicate", False), "duplicate"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FormatError(f"malformed receipt: {exc}") from exc
