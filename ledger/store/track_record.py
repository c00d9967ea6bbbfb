"""An actor's verified track record, the reads: what each actor's applied log entries say.

``histories`` reads what each actor signed (making events, services, handovers sent), the
handovers addressed to it and what its making events consumed, at most ``MAX_EVENTS`` of each,
latest first: a few queries for a whole set of actors, never one per actor. The figures of the
directory (``ledger.store.track_figures.figures``) are computed from the part of each
``History`` inside the window.

Each bound cuts the oldest entries: when one is reached, ``histories`` also reads the newest
entry each cut left out (``History.cut``, a few more queries, for those actors only), and a
figure is ``complete`` False when such an entry is not older than the window: it could have
counted. An entry older than the window cannot, so a cut of old entries only is no gap.

``assessed_by`` reads one actor's latest assessment signed by a day, for its profile's maturity.
"""

from __future__ import annotations

import base64
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection, and_, column, func, select, true, union_all, values

from ledger.assessment import AssessmentEvent
from ledger.events import Event, parse_event
from ledger.store.reads import latest_of_types
from ledger.store.schema import handovers, log_entries, lots, provenance
from ledger.supply import HandoverEvent, LifecycleEvent, MaterialEvent, ProcessEvent

MAX_EVENTS: Final = 5000  # an actor's applied entries read, latest first
ASSESSMENTS_READ: Final = 25  # an actor's assessments read at once, latest first
MAX_ASSESSMENTS: Final = 5000  # an actor's assessments read at most to find the one of a day
OWN_TYPES: Final = ("material", "process", "lifecycle", "handover")
SERVICES: Final = ("repair", "take-back", "recycling")


@dataclass(frozen=True)
class Received:
    index: int
    event: HandoverEvent
    status: str
    settled_at: int | None


@dataclass(frozen=True)
class Consumed:
    """A provenance input of a making event; ``material`` is the lot's, None for an item."""

    kind: str
    subject: str
    mass: Decimal
    material: str | None


@dataclass
class History:
    """The actor's applied events, split as the figures read them."""

    making: list[tuple[int, Event]] = field(default_factory=list)  # material, process, recycling
    services: list[tuple[int, LifecycleEvent]] = field(default_factory=list)
    sent: list[tuple[int, HandoverEvent, str]] = field(default_factory=list)  # with status
    received: list[Received] = field(default_factory=list)
    # making event index -> its provenance inputs
    consumed: defaultdict[int, list[Consumed]] = field(default_factory=lambda: defaultdict(list))
    # "own" entry type (OWN_TYPES), "sent" or "received" -> the newest event a bound left out
    cut: dict[str, Event] = field(default_factory=dict, compare=False)


@dataclass
class _Read:
    """What ``histories`` read of one actor, to tell whether a bound was reached: the entries
    of each kind read and the oldest index among them."""

    own: Counter[str] = field(default_factory=Counter)  # own entries read by type
    own_oldest: dict[str, int] = field(default_factory=dict)  # by type
    sent: list[int] = field(default_factory=list)  # handovers read, sent and received
    received: list[int] = field(default_factory=list)


def _payload(entry: bytes) -> bytes:
    return base64.b64decode(json.loads(bytes(entry))["payload"])


def _latest(partition: Any, order: Any, name: str = "rank") -> Any:
    """Each row's rank among the rows of its ``partition``, 1 the latest by ``order``:
    ``rank <= MAX_EVENTS`` keeps the latest ``MAX_EVENTS`` of every actor in one query."""
    return func.row_number().over(partition_by=partition, order_by=order.desc()).label(name)


def _since(batch: Any, kind: str) -> Any:
    """The ``MAX_EVENTS``-th latest applied entry of type ``kind`` of the ``batch`` row's actor,
    0 when it has fewer: all its latest ``MAX_EVENTS`` are at or after it. Found by walking
    ``MAX_EVENTS`` entries of the index back from the latest."""
    cutoff = (
        select(log_entries.c.idx)
        .where(log_entries.c.actor == batch.c.actor, log_entries.c.event_type == kind)
        .where(log_entries.c.applied == true())
        .order_by(log_entries.c.idx.desc())
        .offset(MAX_EVENTS - 1)
        .limit(1)
        .correlate(batch)
        .scalar_subquery()
    )
    return func.coalesce(cutoff, 0).label("since")


def _own(actor_ids: Sequence[str]) -> Any:
    """The actors' applied entries of ``OWN_TYPES`` (index, actor, rank), as
    ``ledger.store.reads.latest_of_types`` picks them for one actor: the latest ``MAX_EVENTS``
    of each type, then the latest ``MAX_EVENTS`` of those. One branch a type, so that each is
    one range of the index ``(actor, event_type, applied, idx)``, in its order: with the types
    in one ``IN`` list, a planner walks the actor's entries of every other type (a brand's
    passports) to keep that order. Each range starts at the actor's ``_since`` of the type, so
    a read stops after ``MAX_EVENTS`` entries of each (actor, type), however long the history:
    a window alone would read them all before cutting. The actors are named once a type (a
    ``VALUES`` list a branch: ``len(OWN_TYPES)`` lists)."""
    ids = [(actor_id,) for actor_id in dict.fromkeys(actor_ids)]
    branches = []
    for kind in OWN_TYPES:
        listed = values(column("actor", log_entries.c.actor.type), name=f"batch_{kind}")
        batch = listed.data(ids).cte()
        bounds = select(batch.c.actor, _since(batch, kind)).subquery()
        branches.append(
            select(log_entries.c.idx, log_entries.c.actor)
            .add_columns(_latest(log_entries.c.actor, log_entries.c.idx, "n"))
            .join_from(bounds, log_entries, log_entries.c.actor == bounds.c.actor)
            .where(log_entries.c.event_type == kind, log_entries.c.idx >= bounds.c.since)
            .where(log_entries.c.applied == true())  # "IS true" would not seek on PostgreSQL
        )
    by_type = union_all(*branches).subquery()
    return (
        select(by_type.c.idx, by_type.c.actor, _latest(by_type.c.actor, by_type.c.idx))
        .where(by_type.c.n <= MAX_EVENTS)
        .subquery()
    )


def _handovers(by: Any, actor_ids: Sequence[str]) -> Any:
    """The latest ``MAX_EVENTS`` handovers of each actor, sent (``by`` the sender column) or
    received (the receiver column). As for ``_own``, each actor's range of the index
    ``(sender|receiver, logged_at_index)`` starts at its ``MAX_EVENTS``-th latest handover
    that way (0 when it has fewer), so a read stops after ``MAX_EVENTS`` handovers however
    many the actor has; the window makes the exact cut."""
    ids = [(actor_id,) for actor_id in dict.fromkeys(actor_ids)]
    listed = values(column("actor", by.type), name=f"batch_{by.name}")
    batch = listed.data(ids).cte()
    cutoff = (
        select(handovers.c.logged_at_index)
        .where(by == batch.c.actor)
        .order_by(handovers.c.logged_at_index.desc())
        .offset(MAX_EVENTS - 1)
        .limit(1)
        .correlate(batch)
        .scalar_subquery()
    )
    bounds = select(batch.c.actor, func.coalesce(cutoff, 0).label("since")).subquery()
    rank = _latest(by, handovers.c.logged_at_index)
    ranged = (
        select(handovers, bounds.c.actor, rank)
        .join_from(bounds, handovers, by == bounds.c.actor)
        .where(handovers.c.logged_at_index >= bounds.c.since)
        .subquery()
    )
    return select(ranged).where(ranged.c.rank <= MAX_EVENTS).subquery()


def histories(conn: Connection, actor_ids: Sequence[str]) -> dict[str, History]:
    """The history of each of ``actor_ids``: four queries, however many actors and entries.
    The caller bounds ``actor_ids`` (``ledger.store.directory.BATCH``): the statements name
    them up to ``len(OWN_TYPES)`` times."""
    found = {actor_id: History() for actor_id in actor_ids}
    if not found:
        return found  # an empty VALUES list is not SQL
    own = _own(actor_ids)
    read = {actor_id: _Read() for actor_id in found}
    status = _sent_status(conn, actor_ids, read)
    _add_own(conn, own, status, found, read)
    _add_received(conn, actor_ids, found, read)
    _add_consumed(conn, own, found)
    for actor_id, history in found.items():
        history.cut.update(_cut(conn, actor_id, read[actor_id]))
    return found


def _sent_status(
    conn: Connection, actor_ids: Sequence[str], read: Mapping[str, _Read]
) -> dict[tuple[str, int], str]:
    """The status of each handover the actors sent, by (sender, index), among the latest
    ``MAX_EVENTS`` of each."""
    sent = _handovers(handovers.c.sender, actor_ids)
    status: dict[tuple[str, int], str] = {}
    for r in conn.execute(select(sent.c.actor, sent.c.logged_at_index, sent.c.status)):
        status[(r.actor, r.logged_at_index)] = r.status
        read[r.actor].sent.append(r.logged_at_index)
    return status


def _add_own(
    conn: Connection,
    own: Any,
    status: Mapping[tuple[str, int], str],
    found: Mapping[str, History],
    read: Mapping[str, _Read],
) -> None:
    """The actors' own entries (``_own``), split as the figures read them: making events,
    services, and the handovers sent with their ``status``."""
    rows = conn.execute(
        select(own.c.actor, own.c.idx, log_entries.c.entry, log_entries.c.event_type)
        .join_from(own, log_entries, log_entries.c.idx == own.c.idx)
        .where(own.c.rank <= MAX_EVENTS)
        .order_by(own.c.idx.desc())
    )
    for row in rows:
        history, idx, event = found[row.actor], row.idx, parse_event(_payload(row.entry))
        read[row.actor].own[row.event_type] += 1
        read[row.actor].own_oldest[row.event_type] = idx  # latest first: the last is the oldest
        if isinstance(event, MaterialEvent | ProcessEvent):
            history.making.append((idx, event))
        elif isinstance(event, LifecycleEvent) and event.kind in SERVICES:
            history.services.append((idx, event))
            if event.kind == "recycling":
                history.making.append((idx, event))
        elif isinstance(event, HandoverEvent) and (row.actor, idx) in status:
            history.sent.append((idx, event, status[(row.actor, idx)]))


def _add_received(
    conn: Connection,
    actor_ids: Sequence[str],
    found: Mapping[str, History],
    read: Mapping[str, _Read],
) -> None:
    """The latest ``MAX_EVENTS`` handovers addressed to each actor, those applied with their
    event."""
    received = _handovers(handovers.c.receiver, actor_ids)
    # Each chosen handover's entry by its index, one probe each: joined, a planner may walk
    # the log back from its end to the oldest handover chosen instead.
    entry = (
        select(log_entries.c.entry)
        .where(log_entries.c.idx == received.c.logged_at_index)
        .where(log_entries.c.applied == true())  # "IS true" would not seek on PostgreSQL
        .scalar_subquery()
    )
    rows = conn.execute(
        select(received.c.actor, received.c.status, received.c.settled_at_index)
        .add_columns(received.c.logged_at_index.label("idx"), entry.label("entry"))
        .order_by(received.c.logged_at_index.desc())
    )
    for row in rows:
        read[row.actor].received.append(row.idx)
        if row.entry is None:
            continue  # not applied
        event = parse_event(_payload(row.entry))
        if isinstance(event, HandoverEvent):
            found[row.actor].received.append(
                Received(row.idx, event, row.status, row.settled_at_index)
            )


def _newest_before(conn: Connection, statement: Any) -> Event | None:
    entry = conn.execute(statement.order_by(log_entries.c.idx.desc()).limit(1)).scalar()
    return None if entry is None else parse_event(_payload(entry))


def _cut(conn: Connection, actor: str, read: _Read) -> dict[str, Event]:
    """The newest entry of each kind that a bound left out of the actor's history: none when
    no bound was reached (fewer entries read than it), so an actor under every bound costs no
    query. ``own`` keeps, of each type, its latest entries (a suffix of the index): what it left
    out of a type is older than the oldest it kept of that type or, when it kept none, than the
    oldest it kept at all. A sent handover counts only with its status, so ``sent`` leaves out
    the handovers older than either cut (own handover entries, handovers sent)."""
    applied = (
        select(log_entries.c.entry)
        .where(log_entries.c.actor == actor)
        .where(log_entries.c.applied == true())  # "IS true" would not seek on PostgreSQL
    )
    found: dict[str, Event] = {}
    own_full = read.own.total() >= MAX_EVENTS
    oldest = min(read.own_oldest.values(), default=None)
    floors: dict[str, int] = {}
    for kind in OWN_TYPES:
        if (own_full or read.own[kind] >= MAX_EVENTS) and oldest is not None:
            floors[kind] = read.own_oldest.get(kind, oldest)
            event = _newest_before(
                conn,
                applied.where(log_entries.c.event_type == kind, log_entries.c.idx < floors[kind]),
            )
            if event is not None:
                found[kind] = event
    sent_floor = max(
        floors.get("handover", 0), min(read.sent) if len(read.sent) >= MAX_EVENTS else 0
    )
    for name, by, floor in (
        ("sent", handovers.c.sender, sent_floor),
        ("received", handovers.c.receiver, min(read.received, default=0)),
    ):
        if floor == 0 or (name == "received" and len(read.received) < MAX_EVENTS):
            continue
        # One seek of the index (sender|receiver, logged_at_index) below the floor, then its
        # entry by index: the handover the cut left out first, applied or not, as the cut
        # counted it (its time is what the window is asked about).
        newest = (
            select(handovers.c.logged_at_index)
            .where(by == actor, handovers.c.logged_at_index < floor)
            .order_by(handovers.c.logged_at_index.desc())
            .limit(1)
            .scalar_subquery()
        )
        event = _newest_before(conn, select(log_entries.c.entry).where(log_entries.c.idx == newest))
        if event is not None:
            found[name] = event
    return found


def _add_consumed(conn: Connection, own: Any, found: Mapping[str, History]) -> None:
    """What the actors' making events consumed (``provenance`` inputs), each lot input with its
    material: a superset of what ``_volumes`` reads, which keeps the events in the window."""
    rows = conn.execute(
        select(
            own.c.actor,
            provenance.c.idx,
            provenance.c.kind,
            provenance.c.subject,
            provenance.c.mass,
            lots.c.material,
        )
        .join_from(own, provenance, provenance.c.idx == own.c.idx)
        .outerjoin(lots, and_(provenance.c.kind == "lot", lots.c.id == provenance.c.subject))
        .where(own.c.rank <= MAX_EVENTS, provenance.c.role == "input")
        .order_by(provenance.c.idx, provenance.c.n)
    )
    for row in rows:
        found[row.actor].consumed[row.idx].append(
            Consumed(row.kind, row.subject, Decimal(row.mass), row.material)
        )


def signed_by(on: date) -> Callable[[Event], bool]:
    """Whether an event was signed on or before the day ``on`` (its signed time, UTC)."""
    day = on.isoformat()
    return lambda event: event.time[:10] <= day


def assessed_by(
    conn: Connection, actor_id: str, on: date
) -> tuple[tuple[int, AssessmentEvent] | None, bool]:
    """The actor's latest applied assessment signed on or before ``on`` — by its signed time:
    its ``date`` (the day its answers speak of) may be earlier, but the log held it only from
    then — as (index, event), None when there is none; and False when ``MAX_ASSESSMENTS`` were
    read, all signed later, and older ones were left unread. Read latest first,
    ``ASSESSMENTS_READ`` at a time: today's profile reads one page."""
    signed, upto = signed_by(on), None
    for _ in range(MAX_ASSESSMENTS // ASSESSMENTS_READ):
        rows = latest_of_types(conn, actor_id, ("assessment",), limit=ASSESSMENTS_READ, upto=upto)
        for index, entry in rows:
            event = parse_event(_payload(entry))
            if isinstance(event, AssessmentEvent) and signed(event):
                return (index, event), True
        if len(rows) < ASSESSMENTS_READ:
            return None, True
        upto = rows[-1][0] - 1
    return None, False
