"""Queries over the domain projections: lots, items, holdings, custody and provenance traces.

Every answer is bounded: lists take a limit, and a trace walks the provenance graph upstream
breadth-first, in a fixed order, returning one page of nodes at a time with a cursor.
"""

from __future__ import annotations

import base64
import json
from collections import deque
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import Connection, select, union

from ledger.errors import NotFoundError
from ledger.rules import CustodyRecord, HandoverRecord, ItemRecord, LotRecord
from ledger.store.domain import (
    custody_from_row,
    handover_from_row,
    item_from_row,
    lot_from_row,
)
from ledger.store.schema import (
    actors,
    balances,
    custody,
    handovers,
    items,
    log_entries,
    lots,
    provenance,
)

TRACE_MAX_NODES: Final = 10_000  # the whole walk, across pages: a trace never reads more
# A lot's pending handovers read at most: a sender may split a lot into any number of them.
TRANSIT_LIMIT: Final = 200
Kind = Literal["lot", "item"]


@dataclass(frozen=True)
class LotView:
    record: LotRecord
    holders: list[tuple[str, str]]  # (holder, amount)
    in_transit: list[tuple[HandoverRecord, str]]  # (handover, amount of this lot)
    in_transit_complete: bool = True  # False: more than TRANSIT_LIMIT handovers are pending


def lot(conn: Connection, lot_id: str) -> LotView:
    row = conn.execute(select(lots).where(lots.c.id == lot_id)).first()
    if row is None:
        raise NotFoundError(f"no lot {lot_id}")
    holders = conn.execute(
        select(balances.c.holder, balances.c.amount)
        .where(balances.c.lot == lot_id)
        .order_by(balances.c.holder)
    ).all()
    # The lot's own "sent" custody rows name each handover of it (its sender and log index; a
    # handover names a lot on one line at most): found through the custody index, never by a
    # search of every handover's lines. They are read in the order of the index (action,
    # subject, idx) — the custody row's index is the handover's, by the join — so the read
    # stops at the page instead of sorting every handover of the lot.
    pending = conn.execute(
        select(handovers)
        .join(
            custody,
            (custody.c.source == handovers.c.sender)
            & (custody.c.idx == handovers.c.logged_at_index),
        )
        .where(custody.c.subject == lot_id, custody.c.kind == "lot", custody.c.action == "sent")
        .where(handovers.c.status == "pending")
        .order_by(custody.c.idx)
        .limit(TRANSIT_LIMIT + 1)
    ).all()
    transit = []
    for hrow in pending[:TRANSIT_LIMIT]:
        record = handover_from_row(hrow)
        for line in record.lines:
            if line.kind == "lot" and line.subject == lot_id and line.amount is not None:
                transit.append((record, format(line.amount, "f")))
    return LotView(
        lot_from_row(row),
        [(h.holder, h.amount) for h in holders],
        transit,
        in_transit_complete=len(pending) <= TRANSIT_LIMIT,
    )


def item(conn: Connection, item_id: str) -> ItemRecord:
    row = conn.execute(select(items).where(items.c.id == item_id)).first()
    if row is None:
        raise NotFoundError(f"no item {item_id}")
    return item_from_row(row)


def custody_history(conn: Connection, subject: str, *, limit: int) -> list[CustodyRecord]:
    rows = conn.execute(
        select(custody)
        .where(custody.c.subject == subject)
        .order_by(custody.c.idx, custody.c.n)
        .limit(limit)
    )
    return [custody_from_row(r) for r in rows]


@dataclass(frozen=True)
class Holdings:
    lots: list[tuple[LotRecord, str]]  # (lot, amount held)
    items: list[ItemRecord]  # held or owned
    outgoing: list[HandoverRecord]  # pending, sent by the actor
    incoming: list[HandoverRecord]  # pending, addressed to the actor


def holdings(conn: Connection, actor_id: str, *, limit: int) -> Holdings:
    if conn.execute(select(actors.c.id).where(actors.c.id == actor_id)).first() is None:
        raise NotFoundError(f"unknown actor {actor_id}")
    # Each list is read a page at a time in the order of an index that starts with the actor
    # (balances (holder, lot), items (custodian, id) and (owner, id), handovers (sender | receiver,
    # status, logged_at_index)): never all the actor holds, nor every handover it ever signed.
    lot_rows = conn.execute(
        select(lots, balances.c.amount)
        .join(balances, balances.c.lot == lots.c.id)
        .where(balances.c.holder == actor_id)
        .order_by(balances.c.lot)  # the lot's id, by the join
        .limit(limit)
    ).all()

    # Held or owned: the first page of each, merged by the database (in its own collation),
    # as "custodian = ? OR owner = ?" read every item of the actor and sorted them all.
    held, owned = (
        select(select(items).where(column == actor_id).order_by(items.c.id).limit(limit).subquery())
        for column in (items.c.custodian, items.c.owner)
    )
    either = union(held, owned).subquery()
    item_rows = conn.execute(select(either).order_by(either.c.id).limit(limit)).all()

    def pending(column: Any) -> list[HandoverRecord]:
        rows = conn.execute(
            select(handovers)
            .where(column == actor_id, handovers.c.status == "pending")
            .order_by(handovers.c.logged_at_index)
            .limit(limit)
        )
        return [handover_from_row(r) for r in rows]

    return Holdings(
        lots=[(lot_from_row(r), r.amount) for r in lot_rows],
        items=[item_from_row(r) for r in item_rows],
        outgoing=pending(handovers.c.sender),
        incoming=pending(handovers.c.receiver),
    )


def payload_of(conn: Connection, index: int) -> dict[str, Any]:
    """The signed payload of entry ``index`` as JSON (the log verified it on admission)."""
    row = conn.execute(select(log_entries.c.entry).where(log_entries.c.idx == index)).one()
    envelope = json.loads(bytes(row.entry))
    payload: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return payload


@dataclass(frozen=True)
class TraceNode:
    kind: Kind
    id: str
    depth: int
    made_at: int | None  # log index of the event that made it
    inputs: list[tuple[Kind, str, str]]  # (kind, id, kg) consumed by that event


@dataclass(frozen=True)
class TracePage:
    root: tuple[Kind, str]
    nodes: list[TraceNode]
    next_cursor: int | None
    truncated: bool  # the walk reached TRACE_MAX_NODES


def _exists(conn: Connection, kind: Kind, subject: str) -> bool:
    table = lots if kind == "lot" else items
    return conn.execute(select(table.c.id).where(table.c.id == subject)).first() is not None


def made_at(conn: Connection, subject: str) -> int | None:
    """The log index of the event whose provenance outputs ``subject`` (a process or a
    recycling); None for a lot made by a material event, or an unknown subject."""
    index: int | None = conn.execute(
        select(provenance.c.idx)
        .where(provenance.c.subject == subject, provenance.c.role == "output")
        .order_by(provenance.c.idx)
        .limit(1)
    ).scalar()
    return index


def trace(conn: Connection, kind: Kind, subject: str, *, cursor: int, limit: int) -> TracePage:
    """Upstream provenance of a lot or item, breadth first; nodes ``[cursor, cursor+limit)``."""
    if not _exists(conn, kind, subject):
        raise NotFoundError(f"no {kind} {subject}")
    seen = {(kind, subject)}
    queue: deque[tuple[Kind, str, int]] = deque([(kind, subject, 0)])
    nodes: list[TraceNode] = []
    truncated = False
    while queue and len(nodes) < cursor + limit + 1:
        node_kind, node_id, depth = queue.popleft()
        made = made_at(conn, node_id)
        inputs: list[tuple[Kind, str, str]] = []
        if made is not None:
            rows = conn.execute(
                select(provenance.c.kind, provenance.c.subject, provenance.c.mass)
                .where(provenance.c.idx == made, provenance.c.role == "input")
                .order_by(provenance.c.n)
            )
            for r in rows:
                inputs.append((r.kind, r.subject, r.mass))
                if (r.kind, r.subject) not in seen:
                    if len(seen) >= TRACE_MAX_NODES:
                        truncated = True
                        continue
                    seen.add((r.kind, r.subject))
                    queue.append((r.kind, r.subject, depth + 1))
        nodes.append(TraceNode(node_kind, node_id, depth, made, inputs))
    page = nodes[cursor : cursor + limit]
    more = len(nodes) > cursor + limit
    return TracePage((kind, subject), page, cursor + limit if more else None, truncated)
