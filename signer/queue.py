"""The offline queue: a SQLite file in the terminal's home holding every event it signed.

This module owns the terminal's durable state, each change one SQLite transaction:
- ``events``: each signed envelope (its exact entry bytes), in signing order, with its state —
  ``pending`` until the ledger answers, then ``applied`` or ``not_applied`` — and the receipt;
- ``feeds``: per signing key, the next ``seq`` and the ``prev`` digest to sign with; updated in
  the same transaction as the event it chains, so a crash never leaves a fork or a gap;
- ``settings``: the log's vkey this terminal trusts, the latest checkpoint it verified, and
  ``halted`` — the reason sync stopped after an alarm, until a person lifts it;
- ``alarms``: every alarm ever raised, kept;
- ``refusals``: every refusal of a queued event by the ledger (status, problem type, detail,
  and the problem's members the terminal acts on), kept; the latest is also on the event,
  shown by ``spola queue``;
- ``dropped``: every event ``spola queue drop`` removed, and the envelope each re-signed event
  replaced, with its exact bytes: nothing leaves the queue unrecorded.

An event's ``sending`` is set while a request carrying it is out, and cleared by an answer
(receipts, or a refusal: the ledger writes nothing of a refused batch). Sent again while still
set — a timeout, a 5xx, a crash — it becomes ``unanswered`` for good: that request may have put
it in the log, so it is never re-signed.

The checkpoint the terminal trusts only moves from the one a sync read to one it verified to
extend it (``trust``, checked in the transaction that replaces it), and ``sync_lock`` lets one
sync at a time use the queue: two syncs at once could otherwise store an older tree over a
newer one.

It does not sign, talk to the ledger or verify proofs: ``signer.client`` does.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ledger.envelope import Envelope
from ledger.receipt import Receipt
from signer.errors import QueueError, SyncBusyError
from signer.owners import why_not_yours

PENDING: Final = "pending"
APPLIED: Final = "applied"
NOT_APPLIED: Final = "not_applied"
STATES: Final = (PENDING, APPLIED, NOT_APPLIED)
# Columns added after the first release: a queue file from before gains them, and a terminal
# from before, which names the columns it reads, reads a newer file as it always did.
_ADDED_COLUMNS: Final = (
    ("events", "sending", "INTEGER NOT NULL DEFAULT 0"),
    ("events", "unanswered", "INTEGER NOT NULL DEFAULT 0"),
    ("events", "refused_status", "INTEGER"),
    ("events", "refused_kind", "TEXT"),
    ("events", "refused_detail", "TEXT"),
    # A refusal's problem members, a JSON object of strings; NULL for none (and for a refusal
    # stored before they were kept).
    ("events", "refused_members", "TEXT"),
    ("refusals", "members", "TEXT"),
)
_COLUMNS: Final = (
    "position, key_id, seq, type, entry, state, log_index, rule, detail, "
    "sending, unanswered, refused_status, refused_kind, refused_detail, refused_members"
)
BUSY_TIMEOUT = 5.0  # seconds a command waits for another one's write (SQLite's busy timeout)
_UNREAD: Final = object()
SYNC_LOCK_SUFFIX: Final = ".sync-lock"  # beside the queue file: held while a sync runs
# SQLite's primary result codes for a file this user cannot write, or a folder it cannot write
# its journal into (an extended code's low byte is its primary code).
_CANNOT_WRITE: Final = frozenset(
    {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM}
)
_PROBE: Final = "INSERT OR REPLACE INTO settings (name, value) VALUES ('', '')"  # rolled back
NOTHING_DONE: Final = "nothing was sent or changed"

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    entry BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    log_index INTEGER,
    receipt TEXT,
    rule TEXT,
    detail TEXT,
    UNIQUE (key_id, seq)
);
CREATE TABLE IF NOT EXISTS refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    refused_at TEXT NOT NULL,
    position INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dropped (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dropped_at TEXT NOT NULL,
    position INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    entry BLOB NOT NULL,
    why TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_state ON events (state, position);
CREATE TABLE IF NOT EXISTS feeds (
    key_id TEXT PRIMARY KEY,
    next_seq INTEGER NOT NULL,
    prev TEXT
);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    raised_at TEXT NOT NULL,
    message TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class QueuedEvent:
    """One signed event in the queue and, once answered, the ledger's verdict on it."""

    position: int
    key_id: str
    seq: int
    type: str
    entry: bytes  # RFC 8785 bytes of the envelope: exactly the log entry
    state: str
    index: int | None = None
    rule: str | None = None
    detail: str | None = None
    sending: bool = False  # a request carrying it is out, or was when the terminal stopped
    unanswered: bool = False  # a request carrying it got no answer: it may be in the log
    refusal: Refusal | None = None  # the ledger's latest refusal of it

    def envelope(self) -> Envelope:
        return Envelope.from_bytes(self.entry)


@dataclass(frozen=True)
class Refusal:
    """The ledger's refusal of one queued event: HTTP status, problem type, its detail, and
    the problem's members the terminal acts on (``signer.transport.KEPT_MEMBERS``)."""

    status: int
    kind: str
    detail: str
    members: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.kind}: {self.detail}"


@dataclass(frozen=True)
class Dropped:
    """An envelope removed from the queue: a dropped event, or one replaced by re-signing."""

    dropped_at: str
    position: int
    key_id: str
    seq: int
    type: str
    entry: bytes
    why: str


@dataclass(frozen=True)
class Answer:
    """The ledger's verified answer for one queued event."""

    position: int
    receipt: Receipt


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


class Queue:
    """The queue file. One writer at a time (SQLite's lock); a crash loses no committed event."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            # isolation_level=None: transactions are the explicit BEGIN IMMEDIATE below.
            self._db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT)
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            why = why_not_yours(path) if _cannot_write(exc) else None
            if why is None:
                raise QueueError(f"cannot open the queue {path}: {exc}") from exc
            raise QueueError(
                f"cannot open the queue {path}: {why} and run this again; nothing was changed"
            ) from None
        self._depth = 0
        self._checkpoint_read: str | object | None = _UNREAD  # see ``trust``
        self._upgrade()

    def _upgrade(self) -> None:
        """Add the columns a queue file written by an older terminal lacks."""
        have = {
            (table, str(row[1]))
            for table in {table for table, _, _ in _ADDED_COLUMNS}
            for row in self._db.execute(f"PRAGMA table_info({table})")
        }
        missing = [added for added in _ADDED_COLUMNS if added[:2] not in have]
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
            raise self._busy(exc) from None
        self._depth = 1
        try:
            yield
        except sqlite3.OperationalError as exc:
            self._db.execute("ROLLBACK")
            if _cannot_write(exc):  # the file, or its folder, is not this user's to write
                raise self._unwritable(exc, "nothing was changed") from None
            raise
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            try:
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._db.execute("ROLLBACK")
                raise self._busy(exc) from None
        finally:
            self._depth = 0

    @contextmanager
    def sync_lock(self) -> Iterator[None]:
        """Held for a whole sync (or a drop, or lifting a halt): another is refused at once.

        An exclusive ``flock`` on ``queue.db.sync-lock``: the system drops it when the process
        ends, however it ends, so a killed sync never leaves the queue locked. The file stays.
        A lock or queue this user cannot write (root's, after a ``sudo spola sync``; read-only)
        is a ``QueueError`` naming the file and what to do, before anything is sent.
        """
        lock_path = self.path.with_name(self.path.name + SYNC_LOCK_SUFFIX)
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
                    f"another sync is running on the queue {self.path}: "
                    "run this one again when it is done"
                )
            self._check_writable()
            yield
        finally:
            os.close(fd)  # and with it the lock

    def _check_writable(self) -> None:
        """Raise ``QueueError`` if this user cannot write the queue (a file or folder a
        ``sudo spola`` left to root, a read-only file): found before a sync sends anything,
        not after the ledger logged a batch whose receipts could then not be stored. A row
        written and rolled back, so that SQLite also opens its journal beside the file."""
        if self._depth:
            return  # inside a transaction: it holds the write lock already
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._busy(exc, NOTHING_DONE) from None
        try:
            self._db.execute(_PROBE)
        except sqlite3.OperationalError as exc:
            if _cannot_write(exc):
                raise self._unwritable(exc, NOTHING_DONE) from None
            raise
        finally:
            self._db.execute("ROLLBACK")

    def _unwritable(self, exc: sqlite3.Error, done: str) -> QueueError:
        """The queue cannot be written by this user: whose it is and what to do; ``done``
        says what became of the command's work."""
        why = why_not_yours(self.path)
        if why is None:
            return QueueError(f"cannot write to the queue {self.path}: {exc}; {done}")
        return QueueError(
            f"cannot write to the queue {self.path}: {why} and run this again; {done}"
        )

    def _busy(self, exc: sqlite3.OperationalError, done: str = "nothing was changed") -> QueueError:
        if _cannot_write(exc):
            return self._unwritable(exc, done)
        if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:  # a full disk
            return QueueError(f"cannot write to the queue {self.path}: {exc}")
        return QueueError(
            f"the queue {self.path} is busy ({exc}): another spola command is using it; "
            "run this one again when it is done"
        )

    # -- feeds and signed events -------------------------------------------------------------

    def feed_head(self, key_id: str) -> tuple[int, str | None]:
        """(next seq, prev) for the key's next event; (0, None) for a key that signed nothing."""
        row = self._db.execute(
            "SELECT next_seq, prev FROM feeds WHERE key_id = ?", (key_id,)
        ).fetchone()
        return (0, None) if row is None else (int(row[0]), row[1])

    def add(self, *, key_id: str, seq: int, kind: str, envelope: Envelope, digest: str) -> int:
        """Queue a signed event and move the key's feed head past it; its queue position."""
        with self.transaction():
            if self.feed_head(key_id)[0] != seq:
                raise QueueError(f"feed {key_id}: seq {seq} is not the feed's next")
            cursor = self._db.execute(
                "INSERT INTO events (key_id, seq, type, entry) VALUES (?, ?, ?, ?)",
                (key_id, seq, kind, envelope.to_bytes()),
            )
            self._db.execute(
                "INSERT INTO feeds (key_id, next_seq, prev) VALUES (?, ?, ?) "
                "ON CONFLICT (key_id) DO UPDATE SET next_seq = excluded.next_seq, "
                "prev = excluded.prev",
                (key_id, seq + 1, digest),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def rotated_to(self, key_id: str) -> str | None:
        """The key id a queued ``key`` ``rotate`` signed by ``key_id`` names; None if none is."""
        rows = self._db.execute(
            "SELECT entry FROM events WHERE key_id = ? AND type = 'key' ORDER BY position",
            (key_id,),
        ).fetchall()
        for (entry,) in rows:
            payload = json.loads(Envelope.from_bytes(entry).payload)
            if payload.get("op") == "rotate":
                return str(payload["key_id"])
        return None

    def pending(self, *, limit: int) -> list[QueuedEvent]:
        """The oldest ``limit`` events still waiting for the ledger's answer, in signing order."""
        return self.events(state=PENDING, limit=limit)

    def events(self, *, state: str | None = None, limit: int = 1000) -> list[QueuedEvent]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM events WHERE (? IS NULL OR state = ?) "  # noqa: S608 # nosec B608 # constant columns, values bound
            "ORDER BY position LIMIT ?",
            (state, state, limit),
        ).fetchall()
        return [_event(row) for row in rows]

    def event(self, position: int) -> QueuedEvent | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM events WHERE position = ?",  # noqa: S608 # nosec B608 # constant columns, values bound
            (position,),
        ).fetchone()
        return None if row is None else _event(row)

    def feed_after(self, key_id: str, seq: int) -> list[QueuedEvent]:
        """Every queued event of the key's feed after ``seq``, in feed order."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM events WHERE key_id = ? AND seq > ? "  # noqa: S608 # nosec B608 # constant columns, values bound
            "ORDER BY seq",
            (key_id, seq),
        ).fetchall()
        return [_event(row) for row in rows]

    # -- what the ledger answered ------------------------------------------------------------

    def sending(self, positions: Sequence[int]) -> None:
        """Before a request carrying ``positions`` goes out: one still marked sending from an
        earlier request got no answer to it, and may be in the log (``unanswered``)."""
        with self.transaction():
            for position in positions:
                self._db.execute(
                    "UPDATE events SET unanswered = 1 WHERE position = ? AND sending = 1",
                    (position,),
                )
                self._db.execute("UPDATE events SET sending = 1 WHERE position = ?", (position,))

    def answered(self, positions: Sequence[int]) -> None:
        """The request carrying ``positions`` was refused: the ledger wrote none of them."""
        with self.transaction():
            for position in positions:
                self._db.execute("UPDATE events SET sending = 0 WHERE position = ?", (position,))

    def refuse(self, position: int, refusal: Refusal) -> None:
        """Record the ledger's refusal of a queued event: kept, and shown on the event."""
        with self.transaction():
            row = self._db.execute(
                "SELECT key_id, seq FROM events WHERE position = ?", (position,)
            ).fetchone()
            if row is None:
                raise QueueError(f"no queued event at position {position}")
            members = _members_text(refusal.members)
            self._db.execute(
                "INSERT INTO refusals "
                "(refused_at, position, key_id, seq, status, kind, detail, members) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (_now(), position, *row, refusal.status, refusal.kind, refusal.detail, members),
            )
            self._db.execute(
                "UPDATE events SET refused_status = ?, refused_kind = ?, refused_detail = ?, "
                "refused_members = ? WHERE position = ?",
                (refusal.status, refusal.kind, refusal.detail, members, position),
            )

    def refusals(self) -> list[tuple[str, int, Refusal]]:
        """(when, queue position, refusal) of every refusal ever recorded, oldest first."""
        rows = self._db.execute(
            "SELECT refused_at, position, status, kind, detail, members FROM refusals ORDER BY id"
        ).fetchall()
        return [
            (str(at), int(pos), Refusal(int(st), str(k), str(d), _members(m)))
            for at, pos, st, k, d, m in rows
        ]

    def drop(
        self,
        event: QueuedEvent,
        resigned: Sequence[tuple[QueuedEvent, bytes]],
        *,
        head: tuple[int, str | None],
    ) -> None:
        """Remove ``event``; give each later event of its feed its re-signed entry (one seq
        lower); set the feed's head. Both old envelopes are kept in ``dropped``. The caller
        holds the transaction in which it checked that this is safe."""
        with self.transaction():
            why = f"dropped: refused by the ledger ({event.refusal})"
            self._keep(event, why)
            self._db.execute("DELETE FROM events WHERE position = ?", (event.position,))
            for old, entry in resigned:
                self._keep(old, f"re-signed as seq {old.seq - 1} after seq {event.seq} was dropped")
                self._db.execute(
                    "UPDATE events SET seq = ?, entry = ? WHERE position = ?",
                    (old.seq - 1, entry, old.position),
                )
            self._db.execute(
                "UPDATE feeds SET next_seq = ?, prev = ? WHERE key_id = ?",
                (head[0], head[1], event.key_id),
            )

    def _keep(self, event: QueuedEvent, why: str) -> None:
        self._db.execute(
            "INSERT INTO dropped (dropped_at, position, key_id, seq, type, entry, why) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (_now(), event.position, event.key_id, event.seq, event.type, event.entry, why),
        )

    def dropped(self) -> list[Dropped]:
        rows = self._db.execute(
            "SELECT dropped_at, position, key_id, seq, type, entry, why FROM dropped ORDER BY id"
        ).fetchall()
        return [
            Dropped(str(at), int(pos), str(key), int(seq), str(kind), bytes(entry), str(why))
            for at, pos, key, seq, kind, entry, why in rows
        ]

    def counts(self) -> dict[str, int]:
        found = dict(self._db.execute("SELECT state, count(*) FROM events GROUP BY state"))
        return {state: int(found.get(state, 0)) for state in STATES}

    def receipt(self, position: int) -> Receipt | None:
        row = self._db.execute(
            "SELECT receipt FROM events WHERE position = ?", (position,)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return Receipt.from_json(json.loads(row[0]))

    def record(self, answers: Sequence[Answer], checkpoint: bytes) -> None:
        """Store verified receipts and the newest checkpoint they were checked against, at once
        (``trust``: only in place of the one they were checked to extend)."""
        with self.transaction():
            for answer in answers:
                receipt = answer.receipt
                violation = receipt.violation
                self._db.execute(
                    "UPDATE events SET state = ?, log_index = ?, receipt = ?, rule = ?, "
                    "detail = ? WHERE position = ? AND state = ?",
                    (
                        APPLIED if receipt.applied else NOT_APPLIED,
                        receipt.index,
                        json.dumps(receipt.to_json(), sort_keys=True),
                        None if violation is None else violation.rule,
                        None if violation is None else violation.detail,
                        answer.position,
                        PENDING,
                    ),
                )
            self.trust(checkpoint)

    def trusted_checkpoint(self) -> bytes | None:
        """The checkpoint this terminal trusts (None before the first sync stored one); the one
        ``trust`` will replace, through this queue object."""
        note = self.setting("checkpoint")
        self._checkpoint_read = note
        return None if note is None else note.encode("utf-8")

    def trust(self, checkpoint: bytes) -> None:
        """Store ``checkpoint`` as the one trusted, in place of the one this queue object last
        read or stored (which the caller verified it extends).

        If another command stored a different one meanwhile, nothing is stored and the
        caller's transaction is rolled back: replacing a checkpoint nobody checked this one
        against could move the terminal back to an older tree, where a fork goes unseen."""
        with self.transaction():
            if self._checkpoint_read is _UNREAD:
                raise QueueError("the trusted checkpoint is replaced only after it is read")
            if self.setting("checkpoint") != self._checkpoint_read:
                raise QueueError(
                    "the checkpoint this terminal trusts changed while this sync ran (another "
                    "command stored one): nothing was recorded; run sync again"
                )
            text = checkpoint.decode("utf-8")
            self.set_setting("checkpoint", text)
            self._checkpoint_read = text

    # -- settings and alarms -----------------------------------------------------------------

    def setting(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, name: str, value: str) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO settings (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def clear_setting(self, name: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM settings WHERE name = ?", (name,))

    def halt(self, message: str) -> None:
        """Record an alarm and halt sync, in one transaction."""
        with self.transaction():
            self._db.execute(
                "INSERT INTO alarms (raised_at, message) VALUES (?, ?)",
                (_now(), message),
            )
            self.set_setting("halted", message)

    def alarms(self) -> list[tuple[str, str]]:
        rows = self._db.execute("SELECT raised_at, message FROM alarms ORDER BY id").fetchall()
        return [(str(at), str(message)) for at, message in rows]


def _cannot_write(exc: sqlite3.Error) -> bool:
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


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _members_text(members: dict[str, str]) -> str | None:
    return json.dumps(members, sort_keys=True) if members else None


def _members(text: object) -> dict[str, str]:
    """A refusal's members as stored; none of a value that is not a JSON object of strings
    (the advice then goes by the problem type alone)."""
    if not isinstance(text, str):
        return {}
    try:
        members = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(members, dict):
        return {}
    return {str(name): value for name, value in members.items() if isinstance(value, str)}


def _event(row: tuple[object, ...]) -> QueuedEvent:
    position, key_id, seq, kind, entry, state, index, rule, detail = row[:9]
    sending, unanswered, refused_status, refused_kind, refused_detail, refused_members = row[9:]
    assert isinstance(entry, bytes)
    refusal = None
    if refused_status is not None:
        refusal = Refusal(
            int(str(refused_status)),
            str(refused_kind),
            str(refused_detail),
            _members(refused_members),
        )
    return QueuedEvent(
        position=int(str(position)),
        key_id=str(key_id),
        seq=int(str(seq)),
        type=str(kind),
        entry=entry,
        state=str(state),
        index=None if index is None else int(str(index)),
        rule=None if rule is None else str(rule),
        detail=None if detail is None else str(detail),
        sending=bool(sending),
        unanswered=bool(unanswered),
        refusal=refusal,
    )
