"""The offline queue's file: its SQLite tables, and the records ``Queue`` reads from them.

The tables (``SCHEMA``; ``ADDED_COLUMNS`` those a file from an older terminal gains):
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

The records are frozen dataclasses mapped from rows here (``event_from_row``); reading and
writing the file, in transactions, is ``signer.queue``'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

from ledger.envelope import Envelope
from ledger.receipt import Receipt

PENDING: Final = "pending"
APPLIED: Final = "applied"
NOT_APPLIED: Final = "not_applied"
STATES: Final = (PENDING, APPLIED, NOT_APPLIED)
# Columns added after the first release: a queue file from before gains them, and a terminal
# from before, which names the columns it reads, reads a newer file as it always did.
ADDED_COLUMNS: Final = (
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
EVENT_COLUMNS: Final = (
    "position, key_id, seq, type, entry, state, log_index, rule, detail, "
    "sending, unanswered, refused_status, refused_kind, refused_detail, refused_members"
)

SCHEMA: Final = """
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


def members_to_text(members: dict[str, str]) -> str | None:
    return json.dumps(members, sort_keys=True) if members else None


def members_from_text(text: object) -> dict[str, str]:
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


def event_from_row(row: tuple[object, ...]) -> QueuedEvent:
    position, key_id, seq, kind, entry, state, index, rule, detail = row[:9]
    sending, unanswered, refused_status, refused_kind, refused_detail, refused_members = row[9:]
    assert isinstance(entry, bytes)
    refusal = None
    if refused_status is not None:
        refusal = Refusal(
            int(str(refused_status)),
            str(refused_kind),
            str(refused_detail),
            members_from_text(refused_members),
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
