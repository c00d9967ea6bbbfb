"""The queue's SQLite file: opened, upgraded, written in transactions, and locked.

``QueueFile`` opens the file (creating the tables ``signer.records`` describes, and adding the
columns a file from an older terminal lacks) and writes it in explicit transactions. Two locks
guard it: SQLite's own write lock, which a transaction takes and another command waits for
(``busy`` when it waited long enough), and the sync lock (``hold_sync_lock``): an exclusive
lock on a file beside the queue, held by one sync (or drop, or lifting a halt) at a time, which
the system drops when the process ends, however it ends. A file or folder this user cannot
write — root's, after a ``sudo spola``; read-only — is told apart from a busy one
(``cannot_write``), and each error names the file and what to do.

What is stored, and when, is ``signer.queue``'s (``Queue``, a ``QueueFile``).
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from signer.errors import QueueError, SyncBusyError
from signer.owners import why_not_yours
from signer.records import ADDED_COLUMNS, SCHEMA

SYNC_LOCK_SUFFIX: Final = ".sync-lock"  # beside the queue file: held while a sync runs
# SQLite's primary result codes for a file this user cannot write, or a folder it cannot write
# its journal into (an extended code's low byte is its primary code).
_CANNOT_WRITE: Final = frozenset(
    {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM}
)
NOTHING_DONE: Final = "nothing was sent or changed"


class QueueFile:
    """The queue's SQLite file, opened (and upgraded) when created; ``transaction`` writes it."""

    def __init__(self, path: Path, *, busy_timeout: float) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            # isolation_level=None: transactions are the explicit BEGIN IMMEDIATE below.
            self._db = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout)
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            why = why_not_yours(path) if cannot_write(exc) else None
            if why is None:
                raise QueueError(f"cannot open the queue {path}: {exc}") from exc
            raise QueueError(
                f"cannot open the queue {path}: {why} and run this again; nothing was changed"
            ) from None
        self._depth = 0
        self._upgrade()

    def _upgrade(self) -> None:
        """Add the columns a queue file written by an older terminal lacks."""
        have = {
            (table, str(row[1]))
            for table in {table for table, _, _ in ADDED_COLUMNS}
            for row in self._db.execute(f"PRAGMA table_info({table})")
        }
        missing = [added for added in ADDED_COLUMNS if added[:2] not in have]
        if missing:
            with self.transaction():
                for table, name, decl in missing:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception (nested calls join)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # another command holds the write lock
            raise busy(self.path, exc) from None
        self._depth = 1
        try:
            yield
        except sqlite3.OperationalError as exc:
            self._db.execute("ROLLBACK")
            if cannot_write(exc):  # the file, or its folder, is not this user's to write
                raise unwritable(self.path, exc, "nothing was changed") from None
            raise
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            try:
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._db.execute("ROLLBACK")
                raise busy(self.path, exc) from None
        finally:
            self._depth = 0


@contextmanager
def hold_sync_lock(queue: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``queue.db.sync-lock`` beside the queue file ``queue``,
    without waiting: ``SyncBusyError`` if another process holds it. The file stays."""
    lock_path = queue.with_name(queue.name + SYNC_LOCK_SUFFIX)
    try:
        # Never through a symlink another user planted there (where the system has
        # O_NOFOLLOW): it would create or lock a file of their choosing.
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(lock_path, flags, 0o600)
    except OSError as exc:
        raise QueueError(
            f"cannot open the sync lock {lock_path}: {_why_lock(lock_path, exc)}"
        ) from None
    try:
        if not _lock_at_once(fd):
            raise SyncBusyError(
                f"another sync is running on the queue {queue}: run this one again when it is done"
            )
        yield
    finally:
        os.close(fd)  # and with it the lock


def _lock_at_once(fd: int) -> bool:
    """Lock the open file ``fd`` for this process alone, without waiting: False if another
    holds it. The system releases the lock when the file is closed or the process ends.
    ``flock`` on POSIX; ``msvcrt.locking`` of the first byte on Windows, which has no
    ``fcntl`` (imported here, not at the top: ``spola`` starts on both)."""
    if sys.platform == "win32":
        import msvcrt  # noqa: PLC0415

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl  # noqa: PLC0415

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def cannot_write(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed for want of the right to write the file or its folder."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _CANNOT_WRITE


def _why_lock(path: Path, exc: OSError) -> str:
    """Why the sync lock at ``path`` could not be opened, and what to do: one clause."""
    if isinstance(exc, PermissionError) and (why := why_not_yours(path)):
        return f"{why} and run this again; {NOTHING_DONE}"
    if path.is_symlink():  # O_NOFOLLOW: whoever planted it chose where it points
        return (
            "it is a symbolic link, which the lock is never opened through: remove it and run "
            f"this again; {NOTHING_DONE}"
        )
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return (
            "it is a folder, not the lock file a sync makes there: move it out of the way and "
            f"run this again; {NOTHING_DONE}"
        )
    return f"{exc.strerror or exc}; {NOTHING_DONE}"


def unwritable(queue: Path, exc: sqlite3.Error, done: str) -> QueueError:
    """The queue cannot be written by this user: whose it is and what to do; ``done``
    says what became of the command's work."""
    why = why_not_yours(queue)
    if why is None:
        return QueueError(f"cannot write to the queue {queue}: {exc}; {done}")
    return QueueError(f"cannot write to the queue {queue}: {why} and run this again; {done}")


def busy(
    queue: Path, exc: sqlite3.OperationalError, done: str = "nothing was changed"
) -> QueueError:
    """SQLite refused the write lock or a commit: another command holds it, or the queue
    cannot be written (a full disk, a file or folder not this user's)."""
    if cannot_write(exc):
        return unwritable(queue, exc, done)
    if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:  # a full disk
        return QueueError(f"cannot write to the queue {queue}: {exc}")
    return QueueError(
        f"the queue {queue} is busy ({exc}): another spola command is using it; "
        "run this one again when it is done"
    )
