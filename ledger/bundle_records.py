"""The records of an audit bundle's body, and how each is written as one line (docs/bundle.md).

A bundle's body holds checkpoint, verdicts, consistency, passport, entry and inclusion records,
each one RFC 8785 JSON object on a line of its own. This module owns the records as values and
their lines as written; the manifest, and parsing body lines strictly and within bounds, are
``ledger.bundle``'s. Nothing here checks what a record claims (signatures, hashes, proofs,
verdicts): that is the verifier's job (``verifier``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Final

from ledger.canonical import canonical_bytes
from ledger.receipt import Violation

ROLE_HEAD: Final = "head"  # the checkpoint the bundle's entries make up
ROLE_SINCE: Final = "since"  # an earlier checkpoint the consistency proof starts from


def canonical_line(obj: dict[str, Any]) -> bytes:
    """One line of a bundle: the RFC 8785 bytes of ``obj`` and a newline."""
    return canonical_bytes(obj) + b"\n"


@dataclass(frozen=True)
class CheckpointRecord:
    role: str  # ROLE_HEAD or ROLE_SINCE
    note: bytes  # the signed checkpoint note, verbatim

    def to_line(self) -> bytes:
        return canonical_line(
            {"kind": "checkpoint", "role": self.role, "note": self.note.decode("utf-8")}
        )


@dataclass(frozen=True)
class ConsistencyRecord:
    size1: int
    size2: int
    proof: tuple[bytes, ...]

    def to_line(self) -> bytes:
        proof = [base64.b64encode(h).decode("ascii") for h in self.proof]
        return canonical_line(
            {"kind": "consistency", "size1": self.size1, "size2": self.size2, "proof": proof}
        )


@dataclass(frozen=True)
class EntryRecord:
    """One log entry: its exact bytes, its published chain hash and the ledger's verdict."""

    index: int
    entry: bytes
    chain_hash: bytes
    applied: bool
    violation: Violation | None

    def to_line(self) -> bytes:
        violation = (
            None
            if self.violation is None
            else {"rule": self.violation.rule, "detail": self.violation.detail}
        )
        return canonical_line(
            {
                "kind": "entry",
                "index": self.index,
                "entry": base64.b64encode(self.entry).decode("ascii"),
                "chain": self.chain_hash.hex(),
                "applied": self.applied,
                "violation": violation,
            }
        )


@dataclass(frozen=True)
class InclusionRecord:
    """The RFC 9162 §2.1.3 proof that entry ``index`` is in the tree of ``tree_size`` leaves."""

    index: int
    tree_size: int
    proof: tuple[bytes, ...]

    def to_line(self) -> bytes:
        proof = [base64.b64encode(h).decode("ascii") for h in self.proof]
        return canonical_line(
            {"kind": "inclusion", "index": self.index, "tree_size": self.tree_size, "proof": proof}
        )


@dataclass(frozen=True)
class PassportRecord:
    """Version ``version`` of the passport of ``subject``: the document's RFC 8785 bytes."""

    subject: str
    version: int
    document: bytes

    def to_line(self) -> bytes:
        return canonical_line(
            {
                "kind": "passport",
                "subject": self.subject,
                "version": self.version,
                "document": base64.b64encode(self.document).decode("ascii"),
            }
        )


@dataclass(frozen=True)
class VerdictsRecord:
    """A partial bundle's verdicts, as the log key signed them (``ledger.verdicts``)."""

    note: bytes  # the signed verdict statement, verbatim

    def to_line(self) -> bytes:
        return canonical_line({"kind": "verdicts", "note": self.note.decode("utf-8")})


Record = (
    CheckpointRecord
    | ConsistencyRecord
    | EntryRecord
    | InclusionRecord
    | PassportRecord
    | VerdictsRecord
)


__all__ = [
    "ROLE_HEAD",
    "ROLE_SINCE",
    "CheckpointRecord",
    "ConsistencyRecord",
    "EntryRecord",
    "InclusionRecord",
    "PassportRecord",
    "Record",
    "VerdictsRecord",
    "canonical_line",
]
