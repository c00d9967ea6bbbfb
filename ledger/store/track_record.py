"""An actor's verified track record: figures derived only from its applied log entries.

``actor_history`` reads what the actor signed (making events, services, handovers sent) and the
handovers addressed to it, at most ``MAX_EVENTS`` of each, latest first. ``figures`` turns the
part inside the window into the directory's figures (``ledger.directory_event.FIGURES``), each
with the entries behind it:

- ``volumes``: kg consumed by each making event, by process and input material (provenance);
- ``partners``: distinct actors in accepted handovers, sent or received (a count, never names);
- ``acceptance``: settled handovers received, and the share the actor accepted;
- ``certified``: making events, and the share whose outputs carry a chain-of-custody claim;
- ``distance``: the mean distance of accepted handovers (declared, else great-circle between
  the facilities);
- ``services``: repairs, take-backs and recyclings the actor signed;
- ``maturity``: None here; the API fills in the level of the latest assessment, if any
  (``api.routes.maturity``), as scoring it needs the maturity model.
"""

from __future__ import annotations

import base64
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection, select

from ledger.events import ActorEvent, Event, parse_event
from ledger.geo import format_km as show_km
from ledger.geo import great_circle_km
from ledger.quantities import format_decimal
from ledger.store.reads import latest_of_types
from ledger.store.schema import handovers, log_entries, lots, provenance
from ledger.supply import HandoverEvent, LifecycleEvent, MaterialEvent, ProcessEvent

MAX_EVENTS: Final = 5000  # an actor's applied entries read, latest first
MAX_ENTRIES: Final = 50  # entry indexes listed per figure
OWN_TYPES: Final = ("material", "process", "lifecycle", "handover")
SERVICES: Final = ("repair", "take-back", "recycling")
SHARE: Final = Decimal("0.0001")
KG: Final = Decimal("0.001")


@dataclass(frozen=True)
class Figure:
    """One track-record figure: a JSON-ready value and the entries behind it."""

    value: Mapping[str, Any]
    entries: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        latest = sorted(set(self.entries), reverse=True)
        return dict(self.value) | {"entries": latest[:MAX_ENTRIES], "entries_total": len(latest)}


@dataclass(frozen=True)
class Received:
    index: int
    event: HandoverEvent
    status: str
    settled_at: int | None


@dataclass
class History:
    """The actor's applied events, split as the figures read them."""

    making: list[tuple[int, Event]] = field(default_factory=list)  # material, process, recycling
    services: list[tuple[int, LifecycleEvent]] = field(default_factory=list)
    sent: list[tuple[int, HandoverEvent, str]] = field(default_factory=list)  # with status
    received: list[Received] = field(default_factory=list)


def _payload(entry: bytes) -> bytes:
    return base64.b64decode(json.loads(bytes(entry))["payload"])


def _events(conn: Connection, where: Any) -> list[tuple[int, Event]]:
    rows = conn.execute(
        select(log_entries.c.idx, log_entries.c.entry)
        .where(where, log_entries.c.applied.is_(True))
        .order_by(log_entries.c.idx.desc())
        .limit(MAX_EVENTS)
    )
    return [(row.idx, parse_event(_payload(row.entry))) for row in rows]


def _handover_rows(conn: Connection, column: Any, actor_id: str) -> dict[int, Any]:
    rows = conn.execute(
        select(handovers.c.logged_at_index, handovers.c.status, handovers.c.settled_at_index)
        .where(column == actor_id)
        .order_by(handovers.c.logged_at_index.desc())
        .limit(MAX_EVENTS)
    )
    return {r.logged_at_index: r for r in rows}


def actor_history(conn: Connection, actor_id: str) -> History:
    history = History()
    sent = _handover_rows(conn, handovers.c.sender, actor_id)
    own = latest_of_types(conn, actor_id, OWN_TYPES, limit=MAX_EVENTS)
    for idx, event in ((i, parse_event(_payload(entry))) for i, entry in own):
        if isinstance(event, MaterialEvent | ProcessEvent):
            history.making.append((idx, event))
        elif isinstance(event, LifecycleEvent) and event.kind in SERVICES:
            history.services.append((idx, event))
            if event.kind == "recycling":
                history.making.append((idx, event))
        elif isinstance(event, HandoverEvent) and idx in sent:
            history.sent.append((idx, event, sent[idx].status))
    received = _handover_rows(conn, handovers.c.receiver, actor_id)
    if received:
        for idx, event in _events(conn, log_entries.c.idx.in_(sorted(received))):
            if isinstance(event, HandoverEvent):
                row = received[idx]
                history.received.append(Received(idx, event, row.status, row.settled_at_index))
    return history


def _share(part: int, whole: int) -> str | None:
    return None if whole == 0 else format_decimal((Decimal(part) / whole).quantize(SHARE))


Within = Callable[[Event], bool]


def figures(
    conn: Connection,
    history: History,
    everyone: Mapping[str, ActorEvent],
    within: Within,
) -> dict[str, Figure | None]:
    """Every figure of the track record over the events ``within`` accepts."""
    making = [(i, e) for i, e in history.making if within(e)]
    services = [(i, e) for i, e in history.services if within(e)]
    sent = [(i, e) for i, e, status in history.sent if within(e) and status == "accepted"]
    received = [r for r in history.received if within(r.event) and r.status != "pending"]
    accepted = [(r.index, r.event) for r in received if r.status == "accepted"]
    certified = [i for i, e in making if _certified(e)]
    counted = Counter(e.kind for _, e in services)
    partners = {e.to for _, e in sent} | {e.actor for _, e in accepted}
    return {
        "volumes": _volumes(conn, making),
        "partners": Figure({"count": len(partners)}, tuple(i for i, _ in sent + accepted)),
        "acceptance": Figure(
            {
                "share": _share(len(accepted), len(received)),
                "accepted": len(accepted),
                "received": len(received),
            },
            tuple(r.settled_at if r.settled_at is not None else r.index for r in received),
        ),
        "certified": Figure(
            {
                "share": _share(len(certified), len(making)),
                "certified": len(certified),
                "events": len(making),
            },
            tuple(certified),
        ),
        "distance": _distance(sent + accepted, everyone),
        "services": Figure(
            {kind: counted[kind] for kind in SERVICES}, tuple(i for i, _ in services)
        ),
        "maturity": None,
    }


def _certified(event: Event) -> bool:
    if isinstance(event, MaterialEvent):
        return event.claim is not None
    if isinstance(event, ProcessEvent):
        return any(o.claim for o in event.outputs) or any(i.claim for i in event.items)
    return False  # a recycled lot starts without a claim (ledger.rules)


def _volumes(conn: Connection, making: list[tuple[int, Event]]) -> Figure:
    process = {
        i: (e.process if isinstance(e, ProcessEvent) else "recycling")
        for i, e in making
        if not isinstance(e, MaterialEvent)
    }
    rows: list[Any] = []
    ordered = sorted(process)  # once: sorting it again for every chunk was quadratic
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        rows += conn.execute(
            select(
                provenance.c.idx, provenance.c.kind, provenance.c.subject, provenance.c.mass
            ).where(provenance.c.idx.in_(chunk), provenance.c.role == "input")
        ).all()
    lot_ids = sorted({r.subject for r in rows if r.kind == "lot"})
    material: dict[str, str] = {}
    for start in range(0, len(lot_ids), 500):
        found = conn.execute(
            select(lots.c.id, lots.c.material).where(lots.c.id.in_(lot_ids[start : start + 500]))
        )
        material.update((r.id, r.material) for r in found)
    kg: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in rows:
        kg[(process[r.idx], material.get(r.subject, "item"))] += Decimal(r.mass)
    by = [
        {"process": p, "material": m, "kg": format_decimal(v.quantize(KG))}
        for (p, m), v in sorted(kg.items())
    ]
    return Figure({"by_process": by}, tuple(sorted(process)))


def _facility_point(
    everyone: Mapping[str, ActorEvent], actor: str, facility: str | None
) -> tuple[Decimal, Decimal] | None:
    profile = everyone.get(actor)
    if profile is None or not profile.facilities:
        return None
    f = next((f for f in profile.facilities if f.id == facility), profile.facilities[0])
    return Decimal(f.lat), Decimal(f.lon)


def _distance(moved: list[tuple[int, HandoverEvent]], everyone: Mapping[str, ActorEvent]) -> Figure:
    total, counted, entries = Decimal(0), 0, []
    for idx, event in moved:
        declared = None if event.transport is None else event.transport.distance_km
        if declared is not None:
            total += Decimal(declared)
        else:
            a = _facility_point(everyone, event.actor, event.from_facility)
            b = _facility_point(everyone, event.to, event.to_facility)
            if a is None or b is None:
                continue
            total += great_circle_km(a[0], a[1], b[0], b[1])
        counted += 1
        entries.append(idx)
    mean = None if counted == 0 else show_km(total / counted)
    return Figure({"mean_km": mean, "handovers": counted}, tuple(entries))
