"""The terminal's key file: encrypted at rest, 0600, and refused when altered or mis-unlocked."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from ledger.keys import PrivateKey
from signer.errors import KeyFileError
from signer.keyfile import KdfCost, TerminalKey, read_key_file, read_key_info, write_key_file

ACTOR = "urn:spola:actor:conceria-test"
PASSPHRASE = "filo di seta 2026"


@pytest.fixture
def key() -> TerminalKey:
    return TerminalKey(actor=ACTOR, key=PrivateKey.generate())


@pytest.fixture
def path(tmp_path: Path, key: TerminalKey) -> Path:
    target = tmp_path / "home" / "terminal.key"
    write_key_file(target, key, PASSPHRASE, cost=KdfCost.cheapest())
    return target


def test_key_file_round_trips_with_its_passphrase(path: Path, key: TerminalKey) -> None:
    unlocked = read_key_file(path, PASSPHRASE)
    assert unlocked.actor == ACTOR
    assert unlocked.key.seed == key.key.seed
    assert read_key_info(path) == key.info  # readable without the passphrase


def test_key_file_is_created_owner_only(path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_seed_is_not_in_the_file_or_any_repr(path: Path, key: TerminalKey) -> None:
    seed = base64.b64encode(key.key.seed).decode()
    assert seed not in path.read_text()
    assert seed not in repr(key) and key.key.seed.hex() not in repr(key)


def test_wrong_passphrase_is_one_clear_error(path: Path) -> None:
    with pytest.raises(KeyFileError, match="wrong passphrase, or the file was altered"):
        read_key_file(path, "not the passphrase")


def test_flipped_ciphertext_bit_is_refused(path: Path) -> None:
    document = json.loads(path.read_text())
    box = bytearray(base64.b64decode(document["box"]))
    box[-1] ^= 1
    document["box"] = base64.b64encode(bytes(box)).decode()
    path.write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="altered"):
        read_key_file(path, PASSPHRASE)


def test_edited_clear_actor_is_refused(path: Path) -> None:
    document = json.loads(path.read_text())
    document["actor"] = "urn:spola:actor:someone-else"
    path.write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="clear fields do not match"):
        read_key_file(path, PASSPHRASE)


def test_swapped_public_key_is_refused(path: Path) -> None:
    other = PrivateKey.generate().public_key
    document = json.loads(path.read_text())
    document["public_key"], document["key_id"] = other.to_base64(), other.key_id
    path.write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="clear fields do not match"):
        read_key_file(path, PASSPHRASE)


def test_hostile_kdf_cost_is_refused_before_deriving(path: Path) -> None:
    document = json.loads(path.read_text())
    document["kdf"]["memlimit"] = 2**40
    path.write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="key derivation settings"):
        read_key_file(path, PASSPHRASE)


def test_key_file_readable_by_others_is_refused(path: Path) -> None:
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        read_key_file(path, PASSPHRASE)


def test_existing_key_file_is_never_overwritten(path: Path, key: TerminalKey) -> None:
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        write_key_file(path, key, PASSPHRASE, cost=KdfCost.cheapest())


def test_not_a_key_file_is_named(tmp_path: Path) -> None:
    junk = tmp_path / "terminal.key"
    junk.write_text("hello")
    junk.chmod(0o600)
    with pytest.raises(KeyFileError, match="not a spola terminal key"):
        read_key_info(junk)
    with pytest.raises(KeyFileError, match="spola key generate"):
        read_key_info(tmp_path / "missing.key")


def test_actor_must_be_an_actor_id(tmp_path: Path) -> None:
    bad = TerminalKey(actor="conceria", key=PrivateKey.generate())
    with pytest.raises(KeyFileError, match="not an actor id"):
        write_key_file(tmp_path / "k", bad, PASSPHRASE, cost=KdfCost.cheapest())


def test_key_file_is_on_disk_when_written(
    tmp_path: Path, key: TerminalKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    target = tmp_path / "home" / "terminal.key"
    write_key_file(target, key, PASSPHRASE, cost=KdfCost.cheapest())
    # a power cut after `key generate` (or a queued rotation) must not leave an empty key file
    assert target.stat().st_ino in synced and target.parent.stat().st_ino in synced
