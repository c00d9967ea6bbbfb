"""Checkpoints (c2sp.org/tlog-checkpoint) and offline proofs (c2sp.org/tlog-proof@v1).

This module owns the checkpoint note text (origin, tree size, root hash, extension lines), its
signing with the operator key and its verification against the operator's vkey
(DESIGN.md, Formats → Checkpoints), and the tlog-proof text a receipt carries (DESIGN.md,
Formats → Receipts). It does not compute roots or check inclusion proofs: that is the Merkle
code's job; ``TlogProof`` only carries the proof hashes.

Comments cite tlog-checkpoint.md "Note text" / "Signatures" and tlog-proof.md "Format".
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Final

from ledger.errors import CheckpointError, FormatError, LedgerError, LimitError, SignatureError
from ledger.hashing import HASH_SIZE
from ledger.keys import PrivateKey
from ledger.note import SignedNote, Verifier, decode_base64, is_utf8, sign_note, verify_note

MAX_TREE_SIZE: Final = 2**64 - 1  # sizes and indices are uint64 in every C2SP tlog spec
TLOG_PROOF_HEADER: Final = "c2sp.org/tlog-proof@v1"  # tlog-proof "Format": the first line
MAX_PROOF_HASHES: Final = 64  # an inclusion path in a tree of at most 2^64 leaves
MAX_TLOG_PROOF_CHARS: Final = 256 * 1024
_DECIMAL: Final = re.compile(r"0|[1-9][0-9]{0,19}")  # no leading zeroes unless the value is 0
_CONTROL: Final = re.compile(r"[\x00-\x09\x0b-\x1f]")


def _parse_uint64(text: str, what: str, error: type[LedgerError]) -> int:
    if not _DECIMAL.fullmatch(text) or (value := int(text)) > MAX_TREE_SIZE:
        raise error(f"{what} must be a decimal uint64 without leading zeroes")
    return value


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed tree head: origin, tree size, RFC 6962 root hash, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # "Note text": the origin MUST be non-empty. Spaces and "+" are only discouraged, so
        # they are kept here; the signing key's name is checked by the note code.
        if not isinstance(self.origin, str) or not self.origin:
            raise CheckpointError("checkpoint origin must be non-empty")
        if not isinstance(self.extensions, tuple):
            raise CheckpointError("checkpoint extensions must be a tuple of lines")
        for what, line in (
            ("origin", self.origin),
            *(("extension line", e) for e in self.extensions),
        ):
            # A lone surrogate (from a JSON "\ud800" escape) has no UTF-8 form: it is no text.
            if (
                not isinstance(line, str)
                or not line
                or "\n" in line
                or _CONTROL.search(line)
                or not is_utf8(line)
            ):
                raise CheckpointError(f"checkpoint {what} must be one non-empty line of text")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise CheckpointError("checkpoint size must be an integer")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError("checkpoint size must be a uint64")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"checkpoint root hash must be {HASH_SIZE} bytes")

    def to_text(self) -> str:
        """The note text: origin, size, base64 root, then extension lines, each ending "\\n"."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Strictly parse a checkpoint note text ("Note text")."""
        # "Note text": at least three non-empty lines, each ending in a newline.
        if not isinstance(text, str) or not text.endswith("\n"):
            raise CheckpointError("checkpoint text must end with a newline")
        if _CONTROL.search(text):
            raise CheckpointError("checkpoint text contains a control character")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("checkpoint text needs origin, size and root hash lines")
        if not all(lines):
            raise CheckpointError("checkpoint text contains an empty line")
        origin, size_text, root_text, *extensions = lines
        size = _parse_uint64(size_text, "checkpoint size", CheckpointError)
        root_hash = decode_base64(root_text, "checkpoint root hash", CheckpointError)
        if len(root_hash) != HASH_SIZE:
            raise CheckpointError(
                f"checkpoint root hash is {len(root_hash)} bytes, not {HASH_SIZE}"
            )
        return cls(origin=origin, size=size, root_hash=root_hash, extensions=tuple(extensions))


def sign_checkpoint(cp: Checkpoint, key: PrivateKey, *, name: str | None = None) -> bytes:
    """The checkpoint as a signed note. "Signatures": the key name SHOULD match the origin."""
    key_name = cp.origin if name is None else name
    try:
        return sign_note(cp.to_text(), key_name, key)
    except FormatError as exc:
        raise CheckpointError(f"cannot sign checkpoint as {key_name[:64]!r}: {exc}") from exc


def verify_checkpoint(note: bytes, vkey: str, *, origin: str | None = None) -> Checkpoint:
    """Verify a checkpoint note against the operator's vkey and return the checkpoint.

    1. The vkey must parse (signed-note "Signatures": name, key id, Ed25519 key).
    2. The note must carry a verifying signature by that key; other signatures (witness
       cosignatures, rotated keys) are ignored, as the note spec requires.
    3. The text must be a well-formed checkpoint.
    4. Its origin must be ``origin`` if given, else the key's name ("Signatures": the log's key
       name SHOULD match the origin line), so one log's checkpoint never passes for another's.
    """
    try:
        verifier = Verifier.from_vkey(vkey)
    except FormatError as exc:
        raise CheckpointError(f"operator vkey is malformed: {exc}") from exc
    try:
        text = verify_note(note, [vkey])
    except (FormatError, LimitError) as exc:
        raise CheckpointError(f"checkpoint note is malformed: {exc}") from exc
    except SignatureError as exc:
        raise CheckpointError(
            f"checkpoint is not signed by {verifier.name}+{verifier.key_id:08x}: {exc}"
        ) from exc
    checkpoint = Checkpoint.from_text(text)
    expected = verifier.name if origin is None else origin
    if checkpoint.origin != expected:
        raise CheckpointError(
            f"checkpoint is for origin {checkpoint.origin[:64]!r}, expected {expected[:64]!r}"
        )
    return checkpoint


@dataclass(frozen=True)
class TlogProof:
    """c2sp.org/tlog-proof@v1: an entry index, its inclusion proof and the signed checkpoint.

    ``checkpoint`` holds the signed checkpoint note bytes verbatim; ``extra`` is opaque and
    unauthenticated ("Format": applications MUST NOT implicitly trust it). Nothing here is
    verified: pass ``checkpoint`` to ``verify_checkpoint`` and the hashes to the Merkle verifier.
    Malformed proof text is a FormatError.
    """

    index: int
    proof: tuple[bytes, ...]
    checkpoint: bytes
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise FormatError("tlog-proof index must be an integer")
        if not 0 <= self.index <= MAX_TREE_SIZE:
            raise FormatError("tlog-proof index must be a uint64")
        if len(self.proof) > MAX_PROOF_HASHES:
            raise LimitError(f"tlog-proof has more than {MAX_PROOF_HASHES} proof hashes")
        if not all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in self.proof):
            raise FormatError(f"tlog-proof hashes must be {HASH_SIZE} bytes each")
        if self.extra is not None and not isinstance(self.extra, bytes):
            raise FormatError("tlog-proof extra must be bytes or None")
        if not isinstance(self.checkpoint, bytes):
            raise FormatError("tlog-proof checkpoint must be bytes")
        # The checkpoint is embedded verbatim ("Format"), so it must be a well-formed checkpoint
        # note; its signatures are checked later, by verify_checkpoint.
        try:
            Checkpoint.from_text(SignedNote.from_bytes(self.checkpoint).text)
        except (FormatError, LimitError, CheckpointError) as exc:
            raise FormatError(f"tlog-proof checkpoint is malformed: {exc}") from exc

    def to_text(self) -> str:
        """tlog-proof "Format": header, optional extra, index, hashes, blank line, checkpoint."""
        lines = [TLOG_PROOF_HEADER]
        if self.extra is not None:
            lines.append(f"extra {base64.b64encode(self.extra).decode('ascii')}")
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode("ascii") for h in self.proof)
        return "\n".join(lines) + "\n\n" + self.checkpoint.decode("utf-8")

    @classmethod
    def from_text(cls, text: str) -> TlogProof:
        """Strictly parse tlog-proof text ("Format")."""
        if len(text) > MAX_TLOG_PROOF_CHARS:
            raise LimitError(f"tlog-proof is over the limit of {MAX_TLOG_PROOF_CHARS} characters")
        # "After the inclusion proof lines and an empty line, the checkpoint ... verbatim": the
        # proof lines are all non-empty, so the first blank line ends them.
        split = text.find("\n\n")
        if split < 0:
            raise FormatError("tlog-proof has no blank line before its checkpoint")
        lines = text[:split].split("\n")
        try:
            checkpoint = text[split + 2 :].encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate, from a JSON "\ud800" escape
            raise FormatError("tlog-proof checkpoint is not valid Unicode text") from exc
        if lines[0] != TLOG_PROOF_HEADER:
            raise FormatError(f"tlog-proof must start with {TLOG_PROOF_HEADER!r}")
        position = 1
        extra = None
        if len(lines) > position and lines[position].startswith("extra "):
            extra = decode_base64(lines[position][len("extra ") :], "tlog-proof extra", FormatError)
            position += 1
        if len(lines) <= position or not lines[position].startswith("index "):
            raise FormatError("tlog-proof has no 'index' line")
        index = _parse_uint64(lines[position][len("index ") :], "tlog-proof index", FormatError)
        hashes = lines[position + 1 :]
        if len(hashes) > MAX_PROOF_HASHES:
            raise LimitError(f"tlog-proof has more than {MAX_PROOF_HASHES} proof hashes")
        proof = tuple(
            decode_base64(line, f"tlog-proof hash {i + 1}", FormatError)
            for i, line in enumerate(hashes)
        )
        return cls(index=index, proof=proof, checkpoint=checkpoint, extra=extra)
