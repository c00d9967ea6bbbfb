"""EPCIS export reads: applied supply-chain entries, filtered, paged by log index.

Only applied entries are exported. An entry that broke a domain rule stays in the log as the
signed claim it is, but the ledger refused its effects, so no EPCIS event says it happened.
Registry entries (``actor``, ``key``) are not events of the supply chain and are not exported.

Filters: ``actor`` (the signer), ``item`` and ``lot`` (entries whose custody or provenance
rows name the subject), and a time range on the event's own ``time``, ``since`` ≤ time <
``until``. Pages follow the log: ``cursor`` is the first log index to read, and a page answers
the next one. Event times are not in log order (terminals sync late), so the time range is
checked entry by entry, and a page stops after reading ``SCAN_BUDGET`` entries: it can hold
fewer events than the limit, even none, and still have a next page.

Each event reads the actor profiles as they stood at its index, so a profile updated later (a
GLN added, a facility renamed) never changes the export, or the event hashes, of older events.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Select, func, select, union

from ledger.epcis import EXPORTED_TYPES, actors_named, subject_id, time_bound, to_epcis_event
from ledger.errors import FormatError, NotFoundError
from ledger.store.schema import actors, custody, handovers, items, log_entries, lots, provenance

SCAN_BUDGET: Final = 10_000  # entries one page reads at most
SCAN_CHUNK: Final = 500  # entries one query reads at least (fewer at the end of the budget)


@dataclass(frozen=True)
class EpcisFilter:
    actor: str | None = None
    item: str | None = None  # as stored: URN or Digital Link path
    lot: str | None = None
    since: datetime | None = None  # timezone-aware
    until: datetime | None = None

    @classmethod
    def parse(
        cls,
        *,
        actor: str | None = None,
        item: str | None = None,
        lot: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> EpcisFilter:
        """The filters as a client writes them: lots and items as URNs, Digital Link paths or
        URIs, times as RFC 3339. FormatError names the one that is malformed."""
        where = cls(
            actor=actor,
            item=None if item is None else subject_id(item),
            lot=None if lot is None else subject_id(lot),
            since=None if since is None else time_bound(since, "since"),
            until=None if until is None else time_bound(until, "until"),
        )
        if where.since is not None and where.until is not None and where.until <= where.since:
            raise FormatError(f"until: {until} is not after since {since}")
        return where

    def covers(self, time: str) -> bool:
        """Whether an event ``time`` (RFC 3339, ``Z``) lies in ``[since, until)``."""
        if self.since is None and self.until is None:
            return True
        instant = datetime.fromisoformat(time)
        return (self.since is None or self.since <= instant) and (
            self.until is None or instant < self.until
        )


@dataclass(frozen=True)
class EpcisPage:
    events: list[dict[str, Any]]
    entries: int  # log entries exported on this page
    next_cursor: int | None  # where the next page starts; None: nothing more to read
    scanned_to: int  # the first log index this page did not read (the log's size at the end)


def _payload(entry: bytes) -> dict[str, Any]:
    envelope = json.loads(entry)
    payload: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return payload


def _naming(kind: str, subject: str) -> Any:
    return union(
        select(custody.c.idx).where(custody.c.kind == kind, custody.c.subject == subject),
        select(provenance.c.idx).where(provenance.c.kind == kind, provenance.c.subject == subject),
    )


def _entries(where: EpcisFilter) -> Select[Any]:
    stmt = select(log_entries.c.idx, log_entries.c.entry).where(
        log_entries.c.applied.is_(True), log_entries.c.event_type.in_(EXPORTED_TYPES)
    )
    if where.actor is not None:
        stmt = stmt.where(log_entries.c.actor == where.actor)
    if where.item is not None:
        stmt = stmt.where(log_entries.c.idx.in_(_naming("item", where.item)))
    if where.lot is not None:
        stmt = stmt.where(log_entries.c.idx.in_(_naming("lot", where.lot)))
    return stmt.order_by(log_entries.c.idx)


@dataclass
class _Profiles:
    """Signed actor profiles as they stood at a log index, read once per page."""

    conn: Connection
    _latest: dict[str, tuple[int, dict[str, Any]] | None] = field(default_factory=dict)
    _history: dict[str, list[tuple[int, dict[str, Any]]]] | None = None

    def at(self, actor_id: str, index: int) -> dict[str, Any] | None:
        if actor_id not in self._latest:
            row = self.conn.execute(
                select(actors.c.updated_at_index, actors.c.profile).where(actors.c.id == actor_id)
            ).first()
            self._latest[actor_id] = (
                None if row is None else (row.updated_at_index, json.loads(bytes(row.profile)))
            )
        latest = self._latest[actor_id]
        if latest is None:
            return None
        if latest[0] < index:
            return latest[1]
        earlier = [p for i, p in self._versions().get(actor_id, []) if i < index]
        return earlier[-1] if earlier else None

    def _versions(self) -> dict[str, list[tuple[int, dict[str, Any]]]]:
        if self._history is None:
            self._history = {}
            rows = self.conn.execute(
                select(log_entries.c.idx, log_entries.c.entry)
                .where(log_entries.c.event_type == "actor", log_entries.c.applied.is_(True))
                .order_by(log_entries.c.idx)
            )
            for row in rows:
                profile = _payload(bytes(row.entry))
                self._history.setdefault(profile["id"], []).append((row.idx, profile))
        return self._history


def _handover(conn: Connection, payload: dict[str, Any]) -> dict[str, Any] | None:
    ref = payload.get("handover") or {}
    logged = conn.execute(
        select(handovers.c.logged_at_index).where(
            handovers.c.sender == ref.get("sender"), handovers.c.id == ref.get("id")
        )
    ).scalar()
    if logged is None:
        return None
    row = conn.execute(select(log_entries.c.entry).where(log_entries.c.idx == logged)).one()
    return _payload(bytes(row.entry))


def _scan(
    conn: Connection, where: EpcisFilter, cursor: int, limit: int
) -> tuple[list[tuple[int, dict[str, Any]]], int, bool]:
    """Entries in ``where`` from ``cursor``: (taken, first index not read, more to read)."""
    stmt = _entries(where)
    taken: list[tuple[int, dict[str, Any]]] = []
    position, budget = cursor, SCAN_BUDGET
    while len(taken) < limit and budget > 0:
        # At least SCAN_CHUNK rows a query: a time filter few entries meet would otherwise
        # read one row a query when the page has room for one event.
        want = min(max(limit - len(taken), SCAN_CHUNK), budget)
        rows = conn.execute(stmt.where(log_entries.c.idx >= position).limit(want)).all()
        for n, row in enumerate(rows, start=1):
            position, budget = row.idx + 1, budget - 1
            payload = _payload(bytes(row.entry))
            if where.covers(payload["time"]):
                taken.append((row.idx, payload))
            if len(taken) == limit:
                if n < len(rows):  # the page is full before the rows read: more follow
                    return taken, position, True
                break
        if len(rows) < want:
            return taken, position, False
    more = conn.execute(stmt.where(log_entries.c.idx >= position).limit(1)).first()
    return taken, position, more is not None


def check_filter(conn: Connection, where: EpcisFilter) -> None:
    """NotFoundError when the filter names an actor, item or lot the ledger does not know."""
    for what, table, value in (
        ("actor", actors, where.actor),
        ("item", items, where.item),
        ("lot", lots, where.lot),
    ):
        known = value is None or conn.execute(select(table.c.id).where(table.c.id == value)).first()
        if not known:
            raise NotFoundError(f"no {what} {value}")


def epcis_page(conn: Connection, where: EpcisFilter, *, cursor: int, limit: int) -> EpcisPage:
    """Up to ``limit`` applied supply-chain entries from log index ``cursor``, as EPCIS events."""
    check_filter(conn, where)
    taken, position, more = _scan(conn, where, cursor, limit)
    profiles = _Profiles(conn)
    events: list[dict[str, Any]] = []
    for index, payload in taken:
        named = {a: profiles.at(a, index) for a in actors_named(payload)}
        found = {a: p for a, p in named.items() if p is not None}
        handover = _handover(conn, payload) if payload["type"] == "receipt" else None
        events.extend(to_epcis_event(index, payload, found, handover=handover))
    if more:
        return EpcisPage(events, len(taken), position, position)
    # Nothing further meets the filter: the last page has read the log to its end, whether
    # or not the entries after the last one taken are exported.
    end = conn.execute(select(func.coalesce(func.max(log_entries.c.idx) + 1, 0))).scalar_one()
    return EpcisPage(events, len(taken), None, max(position, end))


def epcis_pages(
    conn: Connection, where: EpcisFilter, *, cursor: int = 0, limit: int = 1000
) -> Iterator[EpcisPage]:
    """Every page from ``cursor`` to the end of the log (the CLI's export)."""
    while True:
        page = epcis_page(conn, where, cursor=cursor, limit=limit)
        yield page
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
