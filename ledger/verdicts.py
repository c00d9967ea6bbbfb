"""The log's signed statement of what a partial bundle publishes beyond its entries
(docs/bundle.md): the verdicts, the chain hashes, and the bundle's scope and subject.

A verdict — applied, or the rule an entry broke — is the ledger's, not the signer's: it is in
no leaf hash, chain hash or signature. A whole-ledger bundle lets the verifier recompute every
verdict by replaying the rules, and every chain hash from the one before; a partial bundle holds
too few entries for either, and its scope and subject are only the manifest's word, so the log
key signs them instead. The statement is a signed note (the checkpoint's format and key) whose
text is::

    spola verdicts v2
    <origin>
    <tree size of the head checkpoint>
    <base64 root hash of the head checkpoint>
    <scope>
    <subject as an RFC 8785 JSON string>
    <base64 SHA-256 of the verdict list>

Its first line is not the origin, so it can never pass for a checkpoint, nor a checkpoint for
it. The verdict list is, for each entry of the bundle in order, the RFC 8785 bytes of
``[index, chain_hash, applied, rule, detail]`` (``chain_hash`` lowercase hex; ``rule`` and
``detail`` null when applied) and a line feed. Anyone without the log key who edits a published
verdict or chain hash, or presents the bundle as another scope or subject (one passport's
entries as an actor's whole history, say), breaks the statement; an operator who signs other
than what its log holds leaves signed evidence of it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Final

from ledger.bundle import PARTIAL_SCOPES
from ledger.canonical import canonical_bytes, parse_json
from ledger.checkpoint import Checkpoint
from ledger.errors import CheckpointError, FormatError, LimitError, SignatureError
from ledger.hashing import HASH_SIZE
from ledger.keys import PrivateKey
from ledger.note import decode_base64, sign_note, verify_note
from ledger.receipt import Violation

VERDICTS_HEADER: Final = "spola verdicts v2"


class VerdictDigest:
    """The SHA-256 of a verdict list, fed one entry at a time, in the bundle's order."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add(
        self, index: int, chain_hash: bytes, applied: bool, violation: Violation | None
    ) -> None:
        rule = None if violation is None else violation.rule
        detail = None if violation is None else violation.detail
        item = [index, chain_hash.hex(), applied, rule, detail]
        self._hash.update(canonical_bytes(item) + b"\n")

    def digest(self) -> bytes:
        return self._hash.digest()


@dataclass(frozen=True)
class VerdictStatement:
    """What the log key signed: for the head checkpoint (origin, size, root) of one bundle,
    the bundle's scope and subject and the digest of its entries' verdicts and chain hashes."""

    origin: str
    size: int
    root_hash: bytes
    scope: str
    subject: str
    digest: bytes

    def to_text(self) -> str:
        root = base64.b64encode(self.root_hash).decode("ascii")
        subject = canonical_bytes(self.subject).decode("utf-8")  # one line, whatever it holds
        digest = base64.b64encode(self.digest).decode("ascii")
        return (
            f"{VERDICTS_HEADER}\n{self.origin}\n{self.size}\n{root}\n"
            f"{self.scope}\n{subject}\n{digest}\n"
        )

    @classmethod
    def from_text(cls, text: str) -> VerdictStatement:
        lines = text.split("\n")
        if len(lines) != 8 or lines[0] != VERDICTS_HEADER or lines[7] != "":
            raise FormatError(f"a verdict statement is seven lines, the first {VERDICTS_HEADER!r}")
        # Origin, size and root read as a checkpoint's three lines: the same checks apply.
        head = Checkpoint.from_text("\n".join(lines[1:4]) + "\n")
        scope = lines[4]
        if scope not in PARTIAL_SCOPES:
            raise FormatError(
                f"verdict statement scope {scope[:32]!r} is not one of {PARTIAL_SCOPES}"
            )
        subject = parse_json(lines[5].encode("utf-8"), what="verdict statement subject")
        if not isinstance(subject, str) or canonical_bytes(subject).decode("utf-8") != lines[5]:
            raise FormatError("verdict statement subject is not one RFC 8785 JSON string")
        digest = decode_base64(lines[6], "verdict digest")
        if len(digest) != HASH_SIZE:
            raise FormatError(f"verdict digest is {len(digest)} bytes, not {HASH_SIZE}")
        return cls(head.origin, head.size, head.root_hash, scope, subject, digest)

    def covers(self, head: Checkpoint) -> bool:
        """Whether this statement is about ``head``: same origin, size and root."""
        return (self.origin, self.size, self.root_hash) == (
            head.origin,
            head.size,
            head.root_hash,
        )


def sign_verdicts(statement: VerdictStatement, key: PrivateKey) -> bytes:
    """The statement as a note signed by the log key, under the origin's name."""
    return sign_note(statement.to_text(), statement.origin, key)


def verify_verdicts(note: bytes, vkey: str, *, origin: str) -> VerdictStatement:
    """The statement of ``note`` once the log key's signature verifies; CheckpointError else."""
    try:
        text = verify_note(note, [vkey])
        statement = VerdictStatement.from_text(text)
    except SignatureError as exc:
        raise CheckpointError(f"verdict statement is not signed by the log key: {exc}") from exc
    except (FormatError, LimitError, CheckpointError) as exc:
        raise CheckpointError(f"verdict statement is malformed: {exc}") from exc
    if statement.origin != origin:
        raise CheckpointError(
            f"verdict statement is for origin {statement.origin[:64]!r}, expected {origin[:64]!r}"
        )
    return statement
