"""A terminal's home: its files, the passphrase, the queue opened, a key rotation finished.

A terminal's home (``--home``, else ``$SPOLA_TERMINAL_HOME``, else ``./.spola-terminal``) holds
``terminal.key`` (the encrypted key, mode 0600) and ``queue.db`` (the offline queue). The
passphrase comes from ``$SPOLA_KEY_PASSPHRASE`` or a prompt; it is never printed or logged.
The commands of ``signer.cli``, ``signer.key_commands`` and ``signer.queue_commands`` reach the
home through these functions.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from signer.errors import KeyFileError, QueueError
from signer.keyfile import TerminalKey, read_key_file, read_key_info
from signer.queue import Queue

KEY_FILE: Final = "terminal.key"
QUEUE_FILE: Final = "queue.db"
PASSPHRASE_ENV: Final = "SPOLA_KEY_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
HOME_ENV: Final = "SPOLA_TERMINAL_HOME"


def terminal_home(args: argparse.Namespace) -> Path:
    return Path(args.home or os.environ.get(HOME_ENV) or ".spola-terminal")


def ask_passphrase(*, confirm: bool = False) -> str:
    given = os.environ.get(PASSPHRASE_ENV)
    if given:
        return given
    if not sys.stdin.isatty():
        raise KeyFileError(f"no passphrase: set {PASSPHRASE_ENV} or run in a terminal")
    try:
        first = getpass.getpass("key passphrase: ")
        if confirm and getpass.getpass("again: ") != first:
            raise KeyFileError("the two passphrases differ")
    except EOFError:  # Ctrl-D at the prompt
        raise KeyFileError("no passphrase given") from None
    return first


@contextmanager
def open_queue(home: Path) -> Iterator[Queue]:
    """The terminal's queue, closed after use; a damaged file is one line, not a traceback."""
    queue = Queue(home / QUEUE_FILE)
    try:
        yield queue
    except sqlite3.DatabaseError as exc:
        raise QueueError(
            f"the queue {queue.path} cannot be used: {exc} (keep the file: it holds the events "
            "you signed and their receipts)"
        ) from None
    finally:
        queue.close()


def unlock(home: Path) -> TerminalKey:
    finish_rotation(home)
    return read_key_file(home / KEY_FILE, ask_passphrase())


def retire(home: Path, queue: Queue) -> None:
    """If the queue holds the rotation to ``terminal.key.new``, make it ``terminal.key`` and
    keep the old key as ``retired-….key``. Under the queue's write lock, so that two commands
    finishing one rotation do it once."""
    path, fresh = home / KEY_FILE, home / f"{KEY_FILE}.new"
    with queue.transaction():
        if not fresh.exists():
            return  # no rotation under way, or another command finished it
        if not path.exists():  # cut short between the two renames
            os.replace(fresh, path)
            return
        old = read_key_info(path)
        successor = queue.rotated_to(old.key_id)
        if successor is None:
            return  # not queued: the old key stays; `spola key rotate` starts again
        if read_key_info(fresh).key_id != successor:
            raise KeyFileError(f"{fresh} is not the key {successor[:16]}… the rotation names")
        os.replace(path, home / f"retired-{old.key_id[:16]}.key")
        os.replace(fresh, path)


def finish_rotation(home: Path) -> None:
    """Finish a ``key rotate`` cut short between queueing the rotation and renaming the files:
    once the rotation is queued the new key takes over (signing on with the old key would
    follow its own rotation, which the ledger refuses)."""
    if (home / f"{KEY_FILE}.new").exists():
        with open_queue(home) as queue:
            retire(home, queue)
