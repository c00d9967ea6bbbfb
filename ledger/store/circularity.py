"""An actor's material flows from the domain projections: what entered, what left, and its fate.

For the WBCSD Circular Transition Indicators (``scoring.company``) this module gathers, from
the applied entries only (the projections hold nothing else):

- inflows: lots the actor commissioned with its own material events, lots and items it received
  (accepted handovers), used items it took back or bought, and the untraced additions of its
  own processes — each with its feedstock fractions and chain-of-custody claim;
- outflows: lots it handed over (accepted), and items whose ownership it passed on (sale,
  resale) — each with what the log later says became of it (resold, recycled, and how much);
- the passports it issued, for the company MCI.

It reports facts, not scores: which fractions count as circular is ``scoring``'s rule. Every
query is bounded by ``limit``; ``truncated`` says when an answer hit it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

from sqlalchemy import Connection, and_, func, select

from ledger.errors import NotFoundError
from ledger.events import parse_event
from ledger.quantities import Quantity, unit
from ledger.store.schema import actors, custody, items, log_entries, lots, provenance
from ledger.supply import ProcessEvent

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)
InflowKind = Literal["material", "received", "taken-back", "bought-used", "untraced"]
OutflowKind = Literal["lot", "sold", "resold"]


@dataclass(frozen=True)
class InflowRecord:
    kind: InflowKind
    subject: str  # a lot, an item, or the material of an untraced addition
    mass_kg: Decimal
    recycled: Decimal
    reused: Decimal
    renewable: Decimal
    claim_scheme: str | None
    claim_fraction: Decimal | None
    index: int
    second_life: bool = False  # a used item: it was with a private person before


@dataclass(frozen=True)
class OutflowRecord:
    kind: OutflowKind
    subject: str
    mass_kg: Decimal
    recovered: Decimal  # the fraction the log shows was recovered
    fate: str  # how the log says it ended, in a few words
    entries: tuple[int, ...]  # the outflow entry, then the entries showing its fate


@dataclass
class ActorFlows:
    actor: str
    inflows: list[InflowRecord] = field(default_factory=list)
    outflows: list[OutflowRecord] = field(default_factory=list)
    passports: list[str] = field(default_factory=list)  # subjects it issued, in order
    truncated: bool = False


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _lot_kg(lot: Any, amount: str) -> Decimal:
    per = None if lot.mass_per_unit is None else Quantity(Decimal(lot.mass_per_unit), unit("KGM"))
    return Quantity(Decimal(amount), unit(lot.unit)).as_mass(per)


def actor_flows(conn: Connection, actor_id: str, *, limit: int) -> ActorFlows:
    """Everything the CTI and the company MCI of ``actor_id`` are computed from."""
    if conn.execute(select(actors.c.id).where(actors.c.id == actor_id)).first() is None:
        raise NotFoundError(f"unknown actor {actor_id}")
    flows = ActorFlows(actor_id)
    _lot_inflows(conn, flows, limit)
    _item_inflows(conn, flows, limit)
    _untraced_inflows(conn, flows, limit)
    _lot_outflows(conn, flows, limit)
    _item_outflows(conn, flows, limit)
    _passports(conn, flows, limit)
    return flows


def _rows(conn: Connection, query: Any, flows: ActorFlows, limit: int) -> list[Any]:
    rows = list(conn.execute(query.limit(limit + 1)).all())
    if len(rows) > limit:
        flows.truncated = True
    return rows[:limit]


def _lot_inflows(conn: Connection, flows: ActorFlows, limit: int) -> None:
    """Lots it made with material events, and lots delivered to it."""
    query = (
        select(custody.c.idx, custody.c.action, custody.c.amount, lots)
        .join(lots, lots.c.id == custody.c.subject)
        .where(custody.c.kind == "lot", custody.c.target == flows.actor)
        .where(
            (custody.c.action == "received")
            | and_(custody.c.action == "made", lots.c.made_by == "material")
        )
        .order_by(custody.c.idx, custody.c.n)
    )
    for row in _rows(conn, query, flows, limit):
        kind: InflowKind = "material" if row.action == "made" else "received"
        flows.inflows.append(
            InflowRecord(
                kind, row.id, _lot_kg(row, row.amount), Decimal(row.recycled),
                Decimal(row.reused), Decimal(row.renewable), row.claim_scheme,
                _dec(row.claim_fraction), row.idx,
            )
        )  # fmt: skip


def _item_inflows(conn: Connection, flows: ActorFlows, limit: int) -> None:
    """Items delivered to it, taken back by it, or bought used by it from a private person.

    A resale from a company passes the ownership only: the item enters the buyer with the
    handover that delivers it (``received``), as after a sale, and counts there, once."""
    query = (
        select(custody.c.idx, custody.c.action, items)
        .join(items, items.c.id == custody.c.subject)
        .where(custody.c.kind == "item", custody.c.target == flows.actor)
        .where(custody.c.action.in_(("received", "taken-back", "resold")))
        .where((custody.c.action != "resold") | custody.c.source.is_(None))
        .order_by(custody.c.idx, custody.c.n)
    )
    for row in _rows(conn, query, flows, limit):
        used = _was_with_a_person(conn, row.id, row.idx)
        kind: InflowKind = "bought-used"
        if row.action in ("received", "taken-back"):
            kind = "received" if row.action == "received" else "taken-back"
        second = used or kind != "received"
        flows.inflows.append(
            InflowRecord(
                kind, row.id, Decimal(row.mass), Decimal(row.recycled), Decimal(row.reused),
                Decimal(row.renewable), row.claim_scheme, _dec(row.claim_fraction), row.idx,
                second_life=second,
            )
        )  # fmt: skip


def _was_with_a_person(conn: Connection, item_id: str, before: int) -> bool:
    """Whether ``item_id`` was sold or resold to a private person before entry ``before``."""
    found = conn.execute(
        select(custody.c.idx)
        .where(custody.c.subject == item_id, custody.c.idx < before)
        .where(custody.c.action.in_(("sold", "resold")), custody.c.target.is_(None))
        .limit(1)
    ).first()
    return found is not None


def _untraced_inflows(conn: Connection, flows: ActorFlows, limit: int) -> None:
    """Additions its processes declared without a lot: material with no known feedstock."""
    query = (
        select(log_entries.c.idx, log_entries.c.entry)
        .where(log_entries.c.event_type == "process", log_entries.c.actor == flows.actor)
        .where(log_entries.c.applied.is_(True))
        .order_by(log_entries.c.idx)
    )
    for row in _rows(conn, query, flows, limit):
        payload = base64.b64decode(json.loads(bytes(row.entry))["payload"])
        event = parse_event(payload)
        if not isinstance(event, ProcessEvent):
            continue
        for extra in event.untraced:
            per = None if extra.mass_per_unit is None else extra.mass_per_unit.quantity
            kg = extra.quantity.quantity.as_mass(per)
            flows.inflows.append(
                InflowRecord("untraced", extra.material, kg, ZERO, ZERO, ZERO, None, None, row.idx)
            )


def _lot_outflows(conn: Connection, flows: ActorFlows, limit: int) -> None:
    """Lots it handed over and the receiver accepted."""
    query = (
        select(custody.c.idx, custody.c.amount, lots)
        .join(lots, lots.c.id == custody.c.subject)
        .where(custody.c.kind == "lot", custody.c.action == "received")
        .where(custody.c.source == flows.actor, custody.c.target != flows.actor)
        .order_by(custody.c.idx, custody.c.n)
    )
    for row in _rows(conn, query, flows, limit):
        recycled = row.made_by == "recycling"
        fate = "secondary raw material delivered to a producer" if recycled else (
            "intermediate: its recovery counts where it ends as a product"
        )  # fmt: skip
        kg = _lot_kg(row, row.amount)
        flows.outflows.append(
            OutflowRecord("lot", row.id, kg, ONE if recycled else ZERO, fate, (row.idx,))
        )


def _item_outflows(conn: Connection, flows: ActorFlows, limit: int) -> None:
    """Items whose ownership it passed on, with what became of each later."""
    query = (
        select(custody.c.idx, custody.c.action, items.c.id, items.c.mass)
        .join(items, items.c.id == custody.c.subject)
        .where(custody.c.kind == "item", custody.c.source == flows.actor)
        .where(custody.c.action.in_(("sold", "resold")))
        .order_by(custody.c.idx, custody.c.n)
    )
    for row in _rows(conn, query, flows, limit):
        mass = Decimal(row.mass)
        recovered, fate, later = _fate(conn, row.id, row.idx, mass, row.action == "resold")
        kind: OutflowKind = "resold" if row.action == "resold" else "sold"
        flows.outflows.append(OutflowRecord(kind, row.id, mass, recovered, fate, (row.idx, *later)))


def _fate(
    conn: Connection, item_id: str, after: int, mass: Decimal, resold: bool
) -> tuple[Decimal, str, tuple[int, ...]]:
    """(recovered fraction, fate, entries) of an item after the outflow at entry ``after``."""
    rows = conn.execute(
        select(custody.c.idx, custody.c.action)
        .where(custody.c.subject == item_id, custody.c.idx > after)
        .where(custody.c.action.in_(("recycled", "resold", "taken-back")))
        .order_by(custody.c.idx, custody.c.n)
    ).all()
    for row in rows:
        if row.action == "recycled":
            out = conn.execute(
                select(provenance.c.mass).where(
                    provenance.c.idx == row.idx, provenance.c.role == "output"
                )
            ).scalars()
            kg = sum((Decimal(m) for m in out), ZERO)
            share = min(ONE, kg / mass) if mass > 0 else ZERO
            return share, f"recycled into {kg} kg of new lots", (row.idx,)
    if resold:
        return ONE, "resold for a second life", ()
    resales = [r.idx for r in rows if r.action == "resold"]
    if resales:
        return ONE, "resold later for a second life", (resales[0],)
    taken = [r.idx for r in rows if r.action == "taken-back"]
    if taken:
        return ZERO, "taken back; what became of it is not in the ledger yet", (taken[0],)
    return ZERO, "in use or gone: no recovery in the ledger", ()


def _passports(conn: Connection, flows: ActorFlows, limit: int) -> None:
    """Subjects whose first passport the actor issued."""
    first = (
        select(custody.c.subject, func.min(custody.c.idx).label("first"))
        .where(custody.c.action == "passport")
        .group_by(custody.c.subject)
        .subquery()
    )
    query = (
        select(first.c.subject)
        .join(log_entries, log_entries.c.idx == first.c.first)
        .where(log_entries.c.actor == flows.actor)
        .order_by(first.c.subject)
    )
    flows.passports = [row.subject for row in _rows(conn, query, flows, limit)]
