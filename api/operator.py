"""The operator's home: the log key file and the log's origin (``spola init`` writes them).

``$SPOLA_HOME/operator.key`` holds the Ed25519 seed of the log key, base64, in a file only its
owner can read (mode 0600, created that way, never widened afterwards); ``$SPOLA_HOME/log.json``
holds the origin line of the log's checkpoints. The key never appears in logs or messages.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import LedgerError
from ledger.keys import PrivateKey

KEY_FILE = "operator.key"
LOG_FILE = "log.json"
KEY_HEADER = "spola operator key v1"
DEFAULT_ORIGIN = "spola.local/ledger"


class OperatorHomeError(LedgerError):
    """The operator's home is missing, incomplete, or its key file is not safe to use."""


@dataclass(frozen=True)
class Operator:
    key: PrivateKey
    origin: str


def init_home(home: Path, *, origin: str = DEFAULT_ORIGIN, exist_ok: bool = False) -> bool:
    """Create the log key and origin under ``home``; False if they existed and ``exist_ok``."""
    key_path, log_path = home / KEY_FILE, home / LOG_FILE
    if key_path.exists() or log_path.exists():
        if exist_ok:
            load_operator(home)  # refuse a half-made or unsafe home even then
            return False
        raise OperatorHomeError(
            f"{home} already holds a log key; refusing to overwrite it "
            "(`spola init --exist-ok` keeps it and succeeds)"
        )
    if not origin or any(c.isspace() or c == "+" for c in origin):
        raise OperatorHomeError(f"origin {origin!r} must be non-empty, without spaces or '+'")
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = PrivateKey.generate()
    write_private(key_path, f"{KEY_HEADER}\n{base64.b64encode(key.seed).decode()}\n")
    log_path.write_text(json.dumps({"origin": origin}, indent=2) + "\n")
    return True


def write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only (mode 0600 from the start, never widened)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def load_operator(home: Path) -> Operator:
    key_path, log_path = home / KEY_FILE, home / LOG_FILE
    if not key_path.exists() or not log_path.exists():
        raise OperatorHomeError(f"no log key in {home}: run `spola init` first")
    if stat.S_IMODE(key_path.stat().st_mode) & 0o077:
        raise OperatorHomeError(f"{key_path} is readable by others: chmod 600 it")
    lines = key_path.read_text().splitlines()
    try:
        if len(lines) != 2 or lines[0] != KEY_HEADER:
            raise ValueError("unexpected layout")
        key = PrivateKey.from_seed(base64.b64decode(lines[1], validate=True))
        origin = json.loads(log_path.read_text())["origin"]
    except (ValueError, LedgerError, binascii.Error, KeyError, TypeError) as exc:
        raise OperatorHomeError(f"{home} holds a damaged log key or log.json") from exc
    return Operator(key=key, origin=str(origin))
