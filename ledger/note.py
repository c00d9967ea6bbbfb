"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures (signature type 0x01).

This module owns the note format: its strict parser and writer, the note key id and the
verifier key text (``vkey``) that names a trusted key, and signing, cosigning and verifying
notes. Checkpoints (``ledger.checkpoint``) are notes whose text has a fixed shape; this module
does not look inside the text.

Section names in comments refer to signed-note.md: "Format" and "Signatures".
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from ledger.errors import FormatError, LedgerError, LimitError, SignatureError
from ledger.hashing import sha256
from ledger.keys import PUBLIC_KEY_SIZE, PrivateKey, PublicKey

ED25519_TYPE: Final = 0x01  # "Signature types": 0x01 is Ed25519 as specified by signed-note
DEFAULT_MAX_BYTES: Final = 64 * 1024
# "Format": verifiers "MUST accept at least up to 16 signatures"; spola accepts exactly that many.
MAX_SIGNATURES: Final = 16
SIGNATURE_PREFIX: Final = "\u2014 "  # "Format": em dash (U+2014), space (U+0020)
_KEY_ID_SIZE: Final = 4  # "Format": the first four bytes are the uint32 key ID, big-endian
_HEX_KEY_ID: Final = re.compile(r"[0-9a-f]{8}")
_CONTROL: Final = re.compile(r"[\x00-\x09\x0b-\x1f]")  # "Format": no controls but newline


def _check_key_name(name: str, what: str) -> None:
    # "Format": key names MUST be non-empty and MUST NOT contain Unicode spaces or "+".
    if not isinstance(name, str) or not name:
        raise FormatError(f"{what} must be a non-empty string")
    if "+" in name or any(ch.isspace() for ch in name) or _CONTROL.search(name):
        raise FormatError(f"{what} {name[:64]!r} contains a space, '+' or a control character")
    if not is_utf8(name):  # a lone surrogate (from a JSON "\ud800" escape) has no UTF-8 form
        raise FormatError(f"{what} {name[:64]!r} is not valid Unicode text")


def is_utf8(text: str) -> bool:
    """Whether ``text`` has a UTF-8 form: a lone surrogate (a JSON "\\ud800" escape) has none."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(text: str) -> None:
    # "Format": a text ending in newline, with no ASCII control characters other than newline.
    if not isinstance(text, str) or not text.endswith("\n"):
        raise FormatError("note text must end with a newline")
    if _CONTROL.search(text):
        raise FormatError("note text contains a control character other than newline")


def decode_base64(text: str, what: str, error: type[LedgerError] = FormatError) -> bytes:
    """Strict C2SP base64: the standard alphabet (RFC 4648 §4), one canonical padded text.

    Canonical means padded to whole quanta with zero pad bits (RFC 4648 §3.5): the text
    ``b64encode`` gives back, checked on its last characters instead of by encoding again
    (a verifier decodes three of these per log entry).
    """
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise error(f"{what} is not base64") from exc
    if len(text) != 4 * ((len(raw) + 2) // 3) or not _zero_pad_bits(text):
        raise error(f"{what} is not canonical padded base64")
    return raw


# The base64 digits whose low 4 (before "==") or low 2 (before "=") bits are zero.
_BEFORE_TWO_PADS: Final = frozenset("AQgw")
_BEFORE_ONE_PAD: Final = frozenset("AEIMQUYcgkosw048")


def _zero_pad_bits(text: str) -> bool:
    if text.endswith("=="):
        return text[-3] in _BEFORE_TWO_PADS
    if text.endswith("="):
        return text[-2] in _BEFORE_ONE_PAD
    return True


def note_key_id(name: str, public_key: bytes) -> int:
    """The note key id: SHA-256(name || 0x0A || 0x01 || public key)[:4], big-endian.

    "Ed25519 signatures" fixes the type byte 0x01 and the 32-byte RFC 8032 key encoding.
    """
    digest = sha256(name.encode("utf-8") + b"\n" + bytes([ED25519_TYPE]) + public_key)
    return int.from_bytes(digest[:_KEY_ID_SIZE], "big")


def vkey(name: str, public_key: bytes) -> str:
    """The verifier key text ``name+<8 hex key id>+base64(0x01 || public key)``."""
    _check_key_name(name, "key name")
    PublicKey(public_key)  # validates the length
    encoded = base64.b64encode(bytes([ED25519_TYPE]) + public_key).decode("ascii")
    return f"{name}+{note_key_id(name, public_key):08x}+{encoded}"


@dataclass(frozen=True)
class Verifier:
    """A trusted note key: its name, its note key id and its Ed25519 public key."""

    name: str
    key_id: int
    public_key: PublicKey

    def __post_init__(self) -> None:
        _check_key_name(self.name, "key name")
        expected = note_key_id(self.name, self.public_key.raw)
        if self.key_id != expected:
            raise FormatError(
                f"key id {self.key_id:08x} of {self.name!r} does not match its key ({expected:08x})"
            )

    @classmethod
    def from_vkey(cls, text: str) -> Verifier:
        # The name cannot contain "+", the base64 may: split at the first two only.
        parts = text.split("+", 2) if isinstance(text, str) else []
        if len(parts) != 3:
            raise FormatError("vkey must be name+keyid+key")
        name, hex_id, encoded = parts
        _check_key_name(name, "vkey name")
        if not _HEX_KEY_ID.fullmatch(hex_id):
            raise FormatError("vkey key id must be 8 lowercase hex digits")
        raw = decode_base64(encoded, "vkey key")
        if len(raw) != 1 + PUBLIC_KEY_SIZE or raw[0] != ED25519_TYPE:
            raise FormatError("vkey key must be the type byte 0x01 and a 32-byte Ed25519 key")
        return cls(name=name, key_id=int(hex_id, 16), public_key=PublicKey(raw[1:]))

    def to_vkey(self) -> str:
        return vkey(self.name, self.public_key.raw)

    def verify(self, message: bytes, signature: bytes) -> None:
        try:
            self.public_key.verify(message, signature)
        except SignatureError as exc:
            raise SignatureError(
                f"signature by known key {self.name}+{self.key_id:08x} does not verify"
            ) from exc


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key id, and the signature bytes (any algorithm)."""

    name: str
    key_id: int
    signature: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name, "signature key name")
        if not isinstance(self.key_id, int) or not 0 <= self.key_id < 2**32:
            raise FormatError("signature key id must be a uint32")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise FormatError("signature must be non-empty bytes")

    @classmethod
    def from_line(cls, line: str, *, what: str = "signature line") -> NoteSignature:
        # "Signatures": — <key name> base64(32-bit key ID || signature)
        if not line.startswith(SIGNATURE_PREFIX):
            raise FormatError(f"{what} does not start with an em dash and a space")
        parts = line[len(SIGNATURE_PREFIX) :].split(" ")
        if len(parts) != 2:
            raise FormatError(f"{what} must be '\u2014 name base64'")
        name, encoded = parts
        _check_key_name(name, f"{what} key name")
        raw = decode_base64(encoded, f"{what} signature")
        if len(raw) <= _KEY_ID_SIZE:
            raise FormatError(f"{what} signature is shorter than a key id and one byte")
        key_id = int.from_bytes(raw[:_KEY_ID_SIZE], "big")
        return cls(name=name, key_id=key_id, signature=raw[_KEY_ID_SIZE:])

    def to_line(self) -> str:
        raw = self.key_id.to_bytes(_KEY_ID_SIZE, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(raw).decode('ascii')}"


@dataclass(frozen=True)
class SignedNote:
    """A note text (ending in a newline) and its signature lines, unknown ones included."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        _check_text(self.text)
        if not self.signatures:
            raise FormatError("a signed note needs at least one signature line")
        if len(self.signatures) > MAX_SIGNATURES:
            raise LimitError(
                f"note has {len(self.signatures)} signatures, over the limit of {MAX_SIGNATURES}"
            )

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> SignedNote:
        """Strictly parse untrusted note bytes ("Format"); no signature is checked here."""
        if len(data) > max_bytes:
            raise LimitError(f"note is {len(data)} bytes, over the limit of {max_bytes}")
        try:
            whole = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"note is not valid UTF-8 (byte {exc.start})") from exc
        if _CONTROL.search(whole):
            raise FormatError("note contains a control character other than newline")
        # "Format": the text is separated from the signatures by the last empty line; the
        # text keeps its final newline, the blank line belongs to neither.
        split = whole.rfind("\n\n")
        if split < 0:
            raise FormatError("note has no blank line before its signatures")
        text, block = whole[: split + 1], whole[split + 2 :]
        if not block:
            raise FormatError("note has no signature lines")
        if not block.endswith("\n"):
            raise FormatError("note does not end with a newline")
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise LimitError(
                f"note has {len(lines)} signatures, over the limit of {MAX_SIGNATURES}"
            )
        signatures = tuple(
            NoteSignature.from_line(line, what=f"signature line {i + 1}")
            for i, line in enumerate(lines)
        )
        return cls(text=text, signatures=signatures)

    def to_bytes(self) -> bytes:
        lines = "".join(s.to_line() + "\n" for s in self.signatures)
        return (self.text + "\n" + lines).encode("utf-8")


def _signature_by(key: PrivateKey, name: str, text: str) -> NoteSignature:
    # "Ed25519 signatures": RFC 8032 over the note text (its UTF-8 bytes, final newline included).
    key_id = note_key_id(name, key.public_key.raw)
    return NoteSignature(name=name, key_id=key_id, signature=key.sign(text.encode("utf-8")))


def sign_note(text: str, name: str, key: PrivateKey) -> bytes:
    """A new note carrying ``text`` and one Ed25519 signature by ``key`` under ``name``."""
    _check_text(text)
    _check_key_name(name, "key name")
    return SignedNote(text=text, signatures=(_signature_by(key, name, text),)).to_bytes()


def add_signature(note: bytes, name: str, key: PrivateKey) -> bytes:
    """Cosign: append a signature by ``key``, replacing an earlier one by the same key.

    The existing signatures are kept as they are and not checked: a cosigner (a witness) that
    must only cosign what it trusts calls ``verify_note`` first.
    """
    _check_key_name(name, "key name")
    parsed = SignedNote.from_bytes(note)
    new = _signature_by(key, name, parsed.text)
    kept = tuple(s for s in parsed.signatures if (s.name, s.key_id) != (new.name, new.key_id))
    return SignedNote(text=parsed.text, signatures=(*kept, new)).to_bytes()


def verify_note(note: bytes, vkeys: list[str]) -> str:
    """Return the note text once a signature by a trusted key verifies ("Signatures").

    Signatures whose (name, key id) pair is not a trusted key are ignored, even if one of the
    two matches. Every signature from a trusted key must verify: one failure rejects the whole
    note. No verified trusted signature at all rejects it too.
    """
    verifiers = [Verifier.from_vkey(v) for v in vkeys]
    known = {(v.name, v.key_id): v for v in verifiers}
    parsed = SignedNote.from_bytes(note)
    message = parsed.text.encode("utf-8")
    verified = False
    for signature in parsed.signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is None:
            continue
        verifier.verify(message, signature.signature)
        verified = True
    if not verified:
        names = ", ".join(sorted(f"{v.name}+{v.key_id:08x}" for v in verifiers)) or "none"
        raise SignatureError(f"note carries no signature by a trusted key (trusted: {names})")
    return parsed.text
