"""The offline queue: a SQLite file in the terminal's home holding every event it signed.

``Queue`` owns the terminal's durable state, each change one SQLite transaction: the signed
events and their feeds' heads, the settings (the trusted log key and checkpoint, ``halted``),
and the records kept for good — alarms, the ledger's refusals, dropped envelopes. The tables
and the records read from them are ``signer.records``'; opening the file, its transactions and
its locks, ``QueueFile``'s (``signer.queue_file``).

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
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ledger.envelope import Envelope
from ledger.receipt import Receipt
from signer.errors import QueueError
from signer.queue_file import (
    NOTHING_DONE,
    SYNC_LOCK_SUFFIX,
    QueueFile,
    busy,
    cannot_write,
    hold_sync_lock,
    unwritable,
)
from signer.records import (
    APPLIED,
    EVENT_COLUMNS,
    NOT_APPLIED,
    PENDING,
    STATES,
    Answer,
    Dropped,
    QueuedEvent,
    Refusal,
    event_from_row,
    members_from_text,
    members_to_text,
)

__all__ = [
    "APPLIED",
    "BUSY_TIMEOUT",
    "NOT_APPLIED",
    "PENDING",
    "STATES",
    "SYNC_LOCK_SUFFIX",
    "Answer",
    "Dropped",
    "Queue",
    "QueuedEvent",
    "Refusal",
]

BUSY_TIMEOUT = 5.0  # seconds a command waits for another one's write (SQLite's busy timeout)
_UNREAD: Final = object()
_PROBE: Final = "INSERT OR REPLACE INTO settings (name, value) VALUES ('', '')"  # rolled back


class Queue(QueueFile):
    """The queue file. One writer at a time (SQLite's lock); a crash loses no committed event."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, busy_timeout=BUSY_TIMEOUT)
        self._checkpoint_read: str | object | None = _UNREAD  # see ``trust``

    @contextmanager
    def sync_lock(self) -> Iterator[None]:
        """Held for a whole sync (or a drop, or lifting a halt): another is refused at once.

        An exclusive ``flock`` on ``queue.db.sync-lock``: the system drops it when the process
        ends, however it ends, so a killed sync never leaves the queue locked. The file stays.
        A lock or queue this user cannot write (root's, after a ``sudo spola sync``; read-only)
        is a ``QueueError`` naming the file and what to do, before anything is sent.
        """
        with hold_sync_lock(self.path):
            self._check_writable()
            yield

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
            raise busy(self.path, exc, NOTHING_DONE) from None
        try:
            self._db.execute(_PROBE)
        except sqlite3.OperationalError as exc:
            if cannot_write(exc):
                raise unwritable(self.path, exc, NOTHING_DONE) from None
            raise
        finally:
            self._db.execute("ROLLBACK")

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
            f"SELECT {EVENT_COLUMNS} FROM events WHERE (? IS NULL OR state = ?) "  # noqa: S608 # nosec B608 # constant columns, values bound
            "ORDER BY position LIMIT ?",
            (state, state, limit),
        ).fetchall()
        return [event_from_row(row) for row in rows]

    def event(self, position: int) -> QueuedEvent | None:
        row = self._db.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE position = ?",  # noqa: S608 # nosec B608 # constant columns, values bound
            (position,),
        ).fetchone()
        return None if row is None else event_from_row(row)

    def feed_after(self, key_id: str, seq: int) -> list[QueuedEvent]:
        """Every queued event of the key's feed after ``seq``, in feed order."""
        rows = self._db.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE key_id = ? AND seq > ? "  # noqa: S608 # nosec B608 # constant columns, values bound
            "ORDER BY seq",
            (key_id, seq),
        ).fetchall()
        return [event_from_row(row) for row in rows]

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
            members = members_to_text(refusal.members)
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
            (str(at), int(pos), Refusal(int(st), str(k), str(d), members_from_text(m)))
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


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
