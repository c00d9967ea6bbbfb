"""Passport queries: the list, each passport's versions, and the facts behind one version.

A passport needs no table of its own: the sequencer records every applied passport event as a
custody row with the action ``passport`` (``ledger.rules``), and a version is any later change
recorded on the subject (sold, repaired, resold …). ``facts`` gathers, for one version, the
applied entries that ``passports.build`` reads — and nothing after the version's log index, so
a version, once it exists, always builds to the same bytes.
"""

from __future__ import annotations

import base64
import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, and_, func, select

from ledger.errors import LimitError, NotFoundError
from ledger.events import ActorEvent, Event, parse_event
from ledger.passport import LIFECYCLE_CAUSES, Fact, PassportFacts, VersionRef
from ledger.store.queries import TRACE_MAX_NODES, made_at
from ledger.store.reads import chunks
from ledger.store.schema import custody, log_entries, provenance

# The custody actions that start a passport version: its issue, then each lifecycle cause.
VERSION_ACTIONS: Final = ("passport", *LIFECYCLE_CAUSES.values())
TRACE_ACTIONS: Final = ("sent", "received", "returned")  # handovers and receipts of upstream


@dataclass(frozen=True)
class PassportRow:
    subject: str
    issuer: str
    first_index: int
    latest_index: int
    product: str  # the name in the latest passport event


def _payload(entry: bytes) -> bytes:
    envelope = json.loads(bytes(entry))
    return base64.b64decode(envelope["payload"])


def _event_at(conn: Connection, index: int) -> Event:
    row = conn.execute(select(log_entries.c.entry).where(log_entries.c.idx == index)).one()
    return parse_event(_payload(row.entry))


def passport_list(
    conn: Connection, *, after: str | None, limit: int, subjects: Sequence[str] | None = None
) -> list[PassportRow]:
    """Passports in subject order, ``limit`` of them after the subject ``after``; with
    ``subjects``, only those of them that have a passport."""
    first = func.min(custody.c.idx).label("first")
    latest = func.max(custody.c.idx).label("latest")
    query = (
        select(custody.c.subject, first, latest)
        .where(custody.c.action == "passport")
        .group_by(custody.c.subject)
        .order_by(custody.c.subject)
        .limit(limit)
    )
    if after is not None:
        query = query.where(custody.c.subject > after)
    if subjects is not None:
        query = query.where(custody.c.subject.in_(subjects))
    rows = []
    for row in conn.execute(query).all():
        issue = _event_at(conn, row.latest)
        issuer_row = _event_at(conn, row.first)
        rows.append(
            PassportRow(
                row.subject,
                issuer_row.actor,
                row.first,
                row.latest,
                getattr(getattr(issue, "product", None), "name", ""),
            )
        )
    return rows


def passport_count(conn: Connection) -> int:
    """How many items have a passport: one read, no event parsed."""
    query = select(func.count(func.distinct(custody.c.subject))).where(
        custody.c.action == "passport"
    )
    return int(conn.execute(query).scalar_one())


def versions(conn: Connection, subject: str) -> list[VersionRef]:
    """Every version of the passport of ``subject``, oldest first; NotFoundError if none."""
    rows = conn.execute(
        select(custody.c.idx, custody.c.action)
        .where(custody.c.subject == subject, custody.c.action.in_(VERSION_ACTIONS))
        .order_by(custody.c.idx, custody.c.n)
    ).all()
    issued = [r.idx for r in rows if r.action == "passport"]
    if not issued:
        raise NotFoundError(f"no passport for {subject}")
    found: list[VersionRef] = []
    for row in rows:
        if row.idx < issued[0] or (found and found[-1].index == row.idx):
            continue
        found.append(VersionRef(len(found) + 1, row.idx, row.action))
    return found


def facts(conn: Connection, subject: str, version: int | None = None) -> PassportFacts:
    """The facts behind ``version`` (the latest when None) of the passport of ``subject``."""
    every = versions(conn, subject)
    if version is not None and not 1 <= version <= len(every):
        raise NotFoundError(f"the passport of {subject} has versions 1 to {len(every)}")
    chosen = every[-1] if version is None else every[version - 1]
    upto = chosen.index
    nodes, making = _upstream(conn, subject, upto)
    indexes = set(making)
    for chunk in chunks(sorted(nodes)):
        indexes.update(
            conn.execute(
                select(custody.c.idx).where(
                    custody.c.subject.in_(chunk),
                    custody.c.idx <= upto,
                    custody.c.action.in_(TRACE_ACTIONS),
                )
            ).scalars()
        )
    indexes.update(
        conn.execute(
            select(custody.c.idx).where(
                custody.c.subject == subject,
                custody.c.idx <= upto,
                custody.c.action.in_(VERSION_ACTIONS),
            )
        ).scalars()
    )
    return PassportFacts(
        subject=subject,
        versions=tuple(every[: chosen.number]),
        facts=tuple(_facts(conn, indexes)),
        actors=_actors(conn, upto),
    )


def _upstream(conn: Connection, subject: str, upto: int) -> tuple[set[str], set[int]]:
    """Every lot or item upstream of ``subject`` (itself included) and their making events."""
    seen = {subject}
    making: set[int] = set()
    queue = deque([subject])
    while queue:
        node = queue.popleft()
        made = made_at(conn, node)
        if made is None or made > upto:
            continue
        making.add(made)
        inputs = conn.execute(
            select(provenance.c.subject).where(
                and_(provenance.c.idx == made, provenance.c.role == "input")
            )
        ).scalars()
        for name in inputs:
            if name not in seen:
                if len(seen) >= TRACE_MAX_NODES:
                    # Built from part of its facts a passport would be wrong (and disagree with
                    # an auditor's bundle, which holds them all): refused as over the bound.
                    raise LimitError(
                        f"the provenance of {subject} spans more than {TRACE_MAX_NODES} "
                        "lots and items"
                    )
                seen.add(name)
                queue.append(name)
    # material events make lots without provenance rows: their custody "made" row names them
    making.update(
        idx
        for chunk in chunks(sorted(seen))
        for idx in conn.execute(
            select(custody.c.idx).where(
                custody.c.subject.in_(chunk), custody.c.action == "made", custody.c.idx <= upto
            )
        ).scalars()
    )
    return seen, making


def _facts(conn: Connection, indexes: set[int]) -> list[Fact]:
    found = []
    ordered = sorted(indexes)
    for start in range(0, len(ordered), 500):
        rows = conn.execute(
            select(log_entries.c.idx, log_entries.c.entry)
            .where(log_entries.c.idx.in_(ordered[start : start + 500]))
            .where(log_entries.c.applied.is_(True))
            .order_by(log_entries.c.idx)
        )
        found += [Fact(row.idx, parse_event(_payload(row.entry))) for row in rows]
    return found


def _actors(conn: Connection, upto: int) -> dict[str, ActorEvent]:
    rows = conn.execute(
        select(log_entries.c.entry)
        .where(log_entries.c.event_type == "actor", log_entries.c.idx <= upto)
        .where(log_entries.c.applied.is_(True))
        .order_by(log_entries.c.idx)
    )
    profiles: dict[str, ActorEvent] = {}
    for row in rows:
        event = parse_event(_payload(row.entry))
        if isinstance(event, ActorEvent):
            profiles[event.id] = event
    return profiles
