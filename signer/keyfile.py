"""The terminal's key file: one Ed25519 key, encrypted with a passphrase, mode 0600.

Layout (JSON, one object)::

    {"format": "spola terminal key v1", "actor": "urn:spola:actor:…", "key_id": "…64 hex…",
     "public_key": "<base64>", "kdf": {"alg": "argon2id13", "salt": "<base64>",
     "opslimit": 2, "memlimit": 67108864}, "box": "<base64 nonce ‖ ciphertext>"}

The box key is argon2id (``nacl.pwhash.argon2id.kdf``) of the passphrase with the file's salt;
the box (``nacl.secret.SecretBox``, XSalsa20-Poly1305) holds the RFC 8785 bytes of
``{"actor", "seed"}``. The outer ``actor``, ``key_id`` and ``public_key`` let ``spola key show``
work without the passphrase; on unlocking they must equal what the box holds, so an edited file
is refused. The seed and the passphrase never appear in messages, logs or ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import nacl.exceptions
import nacl.secret
import nacl.utils
from nacl.pwhash import argon2id

from ledger.canonical import canonical_bytes
from ledger.errors import FormatError, LedgerError
from ledger.keys import PrivateKey, PublicKey
from signer.errors import KeyFileError
from signer.owners import why_not_yours

FORMAT: Final = "spola terminal key v1"
KDF_ALG: Final = "argon2id13"
MAX_FILE_BYTES: Final = 16 * 1024
# A damaged or hostile file must not make the terminal burn minutes or gigabytes.
_MAX_OPSLIMIT: Final = argon2id.OPSLIMIT_SENSITIVE
_MAX_MEMLIMIT: Final = argon2id.MEMLIMIT_SENSITIVE
_ACTOR: Final = re.compile(r"urn:spola:actor:[a-z0-9][a-z0-9-]{0,62}")  # as ledger.events


@dataclass(frozen=True)
class KdfCost:
    """argon2id work factors; ``INTERACTIVE`` by default (64 MiB, 2 passes)."""

    opslimit: int = argon2id.OPSLIMIT_INTERACTIVE
    memlimit: int = argon2id.MEMLIMIT_INTERACTIVE

    @classmethod
    def cheapest(cls) -> KdfCost:
        """libsodium's minimum: for tests only, never for a real key."""
        return cls(opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN)


@dataclass(frozen=True)
class KeyInfo:
    """What a key file says in the clear: whose key it is, and which."""

    actor: str
    public_key: PublicKey

    @property
    def key_id(self) -> str:
        return self.public_key.key_id


@dataclass(frozen=True)
class TerminalKey:
    """An unlocked key file: the actor and its signing key."""

    actor: str
    key: PrivateKey

    @property
    def info(self) -> KeyInfo:
        return KeyInfo(actor=self.actor, public_key=self.key.public_key)


def _box_key(passphrase: str, salt: bytes, cost: KdfCost) -> bytes:
    if not passphrase:
        raise KeyFileError("the passphrase must not be empty")
    return argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        passphrase.encode("utf-8"),
        salt,
        opslimit=cost.opslimit,
        memlimit=cost.memlimit,
    )


def _check_actor(actor: str) -> None:
    if not isinstance(actor, str) or not _ACTOR.fullmatch(actor):
        raise KeyFileError(f"{actor!r} is not an actor id (urn:spola:actor:<slug>)")


def write_key_file(
    path: Path, key: TerminalKey, passphrase: str, *, cost: KdfCost | None = None
) -> None:
    """Encrypt ``key`` under ``passphrase`` into a new file at ``path`` (mode 0600, exclusive)."""
    _check_actor(key.actor)
    cost = cost or KdfCost()
    salt = nacl.utils.random(argon2id.SALTBYTES)
    secret = canonical_bytes(
        {"actor": key.actor, "seed": base64.b64encode(key.key.seed).decode("ascii")}
    )
    box = nacl.secret.SecretBox(_box_key(passphrase, salt, cost)).encrypt(secret)
    document = {
        "format": FORMAT,
        "actor": key.actor,
        "key_id": key.key.public_key.key_id,
        "public_key": key.key.public_key.to_base64(),
        "kdf": {
            "alg": KDF_ALG,
            "salt": base64.b64encode(salt).decode("ascii"),
            "opslimit": cost.opslimit,
            "memlimit": cost.memlimit,
        },
        "box": base64.b64encode(bytes(box)).decode("ascii"),
    }
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(document, indent=2) + "\n")
        # On disk before anything relies on it (a rotation queued next, a key registered):
        # after a power cut the file must be whole, not empty.
        out.flush()
        os.fsync(out.fileno())
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _read_document(path: Path) -> dict[str, Any]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(f"no key file at {path}: run `spola key generate` first") from None
    if stat.S_IMODE(mode) & 0o077:
        raise KeyFileError(f"{path} is readable by others: chmod 600 it")
    try:
        with path.open("rb") as source:  # a pipe may never end: read one byte past the limit
            raw = source.read(MAX_FILE_BYTES + 1)
    except PermissionError:
        # A `sudo spola key rotate` leaves the new key file root's: say whose it is, and how
        # to give it back.
        why = why_not_yours(path) or "permission denied"
        raise KeyFileError(f"cannot read the key file {path}: {why}") from None
    try:
        if len(raw) > MAX_FILE_BYTES:
            raise ValueError("too large")
        document = json.loads(raw)
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError("not a spola terminal key")
    except ValueError:
        raise KeyFileError(f"{path} is not a spola terminal key file") from None
    return document


def read_key_info(path: Path) -> KeyInfo:
    """The actor and public key a key file names, without the passphrase (not authenticated)."""
    document = _read_document(path)
    try:
        info = KeyInfo(
            actor=str(document["actor"]),
            public_key=PublicKey.from_base64(str(document["public_key"])),
        )
    except (KeyError, LedgerError):
        raise KeyFileError(f"{path} is damaged: its public key cannot be read") from None
    if info.key_id != document.get("key_id"):
        raise KeyFileError(f"{path} is damaged: key_id is not the hash of its public key")
    return info


def _kdf_cost(kdf: Any) -> tuple[bytes, KdfCost]:
    if not isinstance(kdf, dict) or kdf.get("alg") != KDF_ALG:
        raise ValueError("unknown kdf")
    salt = base64.b64decode(kdf["salt"], validate=True)
    opslimit, memlimit = kdf["opslimit"], kdf["memlimit"]
    if len(salt) != argon2id.SALTBYTES or not all(isinstance(n, int) for n in (opslimit, memlimit)):
        raise ValueError("bad kdf parameters")
    if not argon2id.OPSLIMIT_MIN <= opslimit <= _MAX_OPSLIMIT:
        raise ValueError("opslimit out of range")
    if not argon2id.MEMLIMIT_MIN <= memlimit <= _MAX_MEMLIMIT:
        raise ValueError("memlimit out of range")
    return salt, KdfCost(opslimit=opslimit, memlimit=memlimit)


def read_key_file(path: Path, passphrase: str) -> TerminalKey:
    """Unlock the key file; KeyFileError for a wrong passphrase or an altered file."""
    info = read_key_info(path)
    document = _read_document(path)
    try:
        salt, cost = _kdf_cost(document.get("kdf"))
        box = base64.b64decode(str(document["box"]), validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise KeyFileError(f"{path} is damaged: its key derivation settings are invalid") from None
    try:
        secret = nacl.secret.SecretBox(_box_key(passphrase, salt, cost)).decrypt(box)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        # Poly1305 cannot tell a wrong passphrase from an edited box: say both, once.
        raise KeyFileError(
            f"cannot unlock {path}: wrong passphrase, or the file was altered"
        ) from None
    try:
        inner = json.loads(secret)
        key = PrivateKey.from_seed(base64.b64decode(inner["seed"], validate=True))
        actor = inner["actor"]
    except (KeyError, TypeError, ValueError, binascii.Error, FormatError):
        raise KeyFileError(f"{path} is damaged: the unlocked key cannot be read") from None
    if key.public_key != info.public_key or actor != info.actor:
        raise KeyFileError(f"{path} was altered: its clear fields do not match the locked key")
    return TerminalKey(actor=actor, key=key)
