"""Ed25519 keys (RFC 8032) and spola's key id.

This module owns the only code that touches PyNaCl's signing API: a public key that verifies
detached signatures, a private key that makes them, and ``key_id``, the name every other format
uses for a public key (DESIGN.md, Formats → Envelope: the DSSE ``keyid``). It does not read or
write key files and does not decide which keys are trusted; callers pass the keys they trust.

Private keys never appear in ``repr``/``str``, in exception messages or in logs: only their
public key id does.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Final, NoReturn

import nacl.exceptions
import nacl.signing

from ledger.errors import FormatError, SignatureError
from ledger.hashing import sha256

PUBLIC_KEY_SIZE: Final = 32  # RFC 8032 §5.1.5: the encoded public key A is 32 octets
SEED_SIZE: Final = 32  # RFC 8032 §5.1.5: the private key is 32 octets of random data
SIGNATURE_SIZE: Final = 64  # RFC 8032 §5.1.6: the signature R || S is 64 octets


def key_id(public_key: bytes) -> str:
    """spola's key id: the lowercase hex SHA-256 of the raw 32-byte Ed25519 public key."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise FormatError(
            f"Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes, got {len(public_key)}"
        )
    return sha256(public_key).hex()


@dataclass(frozen=True)
class PublicKey:
    """A raw 32-byte Ed25519 public key."""

    raw: bytes
    _verify_key: nacl.signing.VerifyKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes):
            raise FormatError(f"Ed25519 public key must be bytes, not {type(self.raw).__name__}")
        if len(self.raw) != PUBLIC_KEY_SIZE:
            raise FormatError(
                f"Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes, got {len(self.raw)}"
            )
        # Built once: verifying is the ledger's hottest path.
        object.__setattr__(self, "_verify_key", nacl.signing.VerifyKey(self.raw))

    def __repr__(self) -> str:
        return f"PublicKey(key_id={self.key_id!r})"

    @property
    def key_id(self) -> str:
        return key_id(self.raw)

    def verify(self, message: bytes, signature: bytes) -> None:
        """Verify a detached RFC 8032 signature over ``message``; raise SignatureError if not."""
        if len(signature) != SIGNATURE_SIZE:
            raise SignatureError(
                f"Ed25519 signature must be {SIGNATURE_SIZE} bytes, got {len(signature)}"
                f" (key {self.key_id})"
            )
        try:
            self._verify_key.verify(message, signature)
        except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
            # BadSignatureError is a CryptoError; a point that does not decode is one too.
            raise SignatureError(f"signature by key {self.key_id} does not verify") from exc

    def to_base64(self) -> str:
        """Standard, padded base64 (RFC 4648 §4) of the raw key."""
        return base64.b64encode(self.raw).decode("ascii")

    @classmethod
    def from_base64(cls, text: str) -> PublicKey:
        """Parse the standard, padded base64 of a raw key; anything else is a FormatError."""
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise FormatError("public key is not base64") from exc
        # RFC 4648 §3.5: refuse non-canonical encodings (stray pad bits), so one key has one text.
        if base64.b64encode(raw).decode("ascii") != text:
            raise FormatError("public key is not canonical padded base64")
        return cls(raw)


class PrivateKey:
    """An Ed25519 signing key. Its seed is reachable only through the ``seed`` property."""

    __slots__ = ("_public_key", "_signing_key")

    def __init__(self, signing_key: nacl.signing.SigningKey) -> None:
        self._signing_key = signing_key
        self._public_key = PublicKey(bytes(signing_key.verify_key))

    @classmethod
    def generate(cls) -> PrivateKey:
        """A fresh key from the operating system's CSPRNG (libsodium's randombytes)."""
        return cls(nacl.signing.SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> PrivateKey:
        """The key derived from a 32-byte RFC 8032 seed (the private key proper)."""
        if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
            # The length is safe to report; the seed's contents never are.
            size = len(seed) if isinstance(seed, bytes) else type(seed).__name__
            raise FormatError(f"Ed25519 seed must be {SEED_SIZE} bytes, got {size}")
        try:
            return cls(nacl.signing.SigningKey(seed))
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            # ``from None``: the foreign exception is not chained, so nothing can echo the seed.
            raise FormatError("Ed25519 seed is not usable") from None

    @property
    def seed(self) -> bytes:
        """The 32-byte seed, for the key file writer only. Never log or display it."""
        return bytes(self._signing_key)

    @property
    def public_key(self) -> PublicKey:
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        """The 64-byte detached RFC 8032 signature over ``message`` (deterministic)."""
        return bytes(self._signing_key.sign(message).signature)

    def __repr__(self) -> str:
        return f"PrivateKey(key_id={self._public_key.key_id!r})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        # Pickling would copy the seed into whatever stores the pickle: refuse it.
        raise TypeError("PrivateKey cannot be pickled; write it with the key file writer")
