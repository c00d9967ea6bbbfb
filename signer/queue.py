"""The offline queue: a SQLite file in the terminal's home holding every event it signed.

This module owns the terminal's durable state, each change one SQLite transaction:
- ``events``: each signed envelope (its exact entry bytes), in signing order, with its state —
  ``pending`` until the ledger answers, then ``applied`` or ``not_applied`` — and the receipt;
- ``feeds``: per signing key, the next ``seq`` and the ``prev`` digest to sign with; updated in
  the same transaction as the event it chains, so a crash never leaves a fork or a gap;
- ``settings``: the log's vkey this terminal trusts, the latest checkpoint it verified, and
  ``halted`` — the reason sync stopped after an alarm, until a person lifts it;
- ``alarms``: every alarm ever raised, kept.

It does not sign, talk to the ledger or verify proofs: ``signer.client`` does.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ledger.envelope import Envelope
from ledger.receipt import Receipt
from signer.errors import QueueError

PENDING: Final = "pending"
APPLIED: Final = "applied"
NOT_APPLIED: Final = "not_applied"
STATES: Final = (PENDING, APPLIED, NOT_APPLIED)
BUSY_TIMEOUT = 5.0  # seconds a command waits for another one's write (SQLite's busy timeout)

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

    def envelope(self) -> Envelope:
        return Envelope.from_bytes(self.entry)


@dataclass(frozen=True)
class Answer:
    """The ledger's verified answer for one queued event."""

    position: int
    receipt: Receipt


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
            raise QueueError(f"cannot open the queue {path}: {exc}") from exc
        self._depth = 0

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

    def _busy(self, exc: sqlite3.OperationalError) -> QueueError:
        if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:  # a read-only file, a full disk
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
            "SELECT position, key_id, seq, type, entry, state, log_index, rule, detail "
            "FROM events WHERE (? IS NULL OR state = ?) ORDER BY position LIMIT ?",
            (state, state, limit),
        ).fetchall()
        return [_event(row) for row in rows]

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
        """Store verified receipts and the newest checkpoint they were checked against, at once."""
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
            self.set_setting("checkpoint", checkpoint.decode("utf-8"))

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
                (datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), message),
            )
            self.set_setting("halted", message)

    def alarms(self) -> list[tuple[str, str]]:
        rows = self._db.execute("SELECT raised_at, message FROM alarms ORDER BY id").fetchall()
        return [(str(at), str(message)) for at, message in rows]


def _event(row: tuple[object, ...]) -> QueuedEvent:
    position, key_id, seq, kind, entry, state, index, rule, detail = row
    assert isinstance(entry, bytes)
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
    )
