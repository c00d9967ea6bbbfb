"""The figures of an actor's verified track record, from its ``History``: pure arithmetic.

``figures`` turns the part of a ``ledger.store.track_record.History`` inside the window into the
directory's figures (``ledger.directory_event.FIGURES``), each with the entries behind it:

- ``volumes``: kg consumed by each making event, by process and input material (provenance);
- ``partners``: distinct actors in accepted handovers, sent or received (a count, never names);
- ``acceptance``: settled handovers received, and the share the actor accepted;
- ``certified``: making events, and the share whose outputs carry a chain-of-custody claim;
- ``distance``: the mean distance of accepted handovers (declared, else great-circle between
  the facilities);
- ``services``: repairs, take-backs and recyclings the actor signed;
- ``maturity``: None here; for a profile the API fills in the level of the latest assessment
  signed by the window's end, if any (``Profile.assessment``, scored by
  ``api.routes.maturity``), as scoring it needs the maturity model.

A figure is ``complete`` False when a bound of ``histories`` left out an entry it reads
(``History.cut``) that is not older than the window: it could have counted. Nothing is read
from a database here; ``ledger.store.track_record`` reads the histories.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Final

from ledger.events import ActorEvent, Event
from ledger.geo import format_km as show_km
from ledger.geo import great_circle_km
from ledger.quantities import format_decimal
from ledger.store.track_record import SERVICES, Consumed, History
from ledger.supply import HandoverEvent, MaterialEvent, ProcessEvent

MAX_ENTRIES: Final = 50  # entry indexes listed per figure
SHARE: Final = Decimal("0.0001")
KG: Final = Decimal("0.001")


@dataclass(frozen=True)
class Figure:
    """One track-record figure: a JSON-ready value and the entries behind it."""

    value: Mapping[str, Any]
    entries: tuple[int, ...]
    # False: a bound of ``histories`` left out entries that may lie inside the window.
    complete: bool = True

    def to_json(self) -> dict[str, Any]:
        latest = sorted(set(self.entries), reverse=True)
        return dict(self.value) | {"entries": latest[:MAX_ENTRIES], "entries_total": len(latest)}


def _share(part: int, whole: int) -> str | None:
    return None if whole == 0 else format_decimal((Decimal(part) / whole).quantize(SHARE))


Within = Callable[[Event], bool]

# The entries each figure reads, as ``History.cut`` names the bounds that may leave them out.
READS: Final[Mapping[str, tuple[str, ...]]] = {
    "volumes": ("material", "process", "lifecycle"),
    "partners": ("sent", "received"),
    "acceptance": ("received",),
    "certified": ("material", "process", "lifecycle"),
    "distance": ("sent", "received"),
    "services": ("lifecycle",),
}


def figures(
    history: History,
    everyone: Mapping[str, ActorEvent],
    within: Within,
    before: Within | None = None,
) -> dict[str, Figure | None]:
    """Every figure of the track record over the events ``within`` accepts; a figure is not
    ``complete`` when a bound left out an entry it reads that ``before`` (older than the
    window) does not accept. Without ``before``, any entry left out makes it incomplete."""
    gaps = {k for k, e in history.cut.items() if before is None or not before(e)}
    found = _figures(history, everyone, within)
    return {
        name: figure
        if figure is None or gaps.isdisjoint(READS.get(name, ()))
        else replace(figure, complete=False)
        for name, figure in found.items()
    }


def _figures(
    history: History,
    everyone: Mapping[str, ActorEvent],
    within: Within,
) -> dict[str, Figure | None]:
    making = [(i, e) for i, e in history.making if within(e)]
    services = [(i, e) for i, e in history.services if within(e)]
    sent = [(i, e) for i, e, status in history.sent if within(e) and status == "accepted"]
    received = [r for r in history.received if within(r.event) and r.status != "pending"]
    accepted = [(r.index, r.event) for r in received if r.status == "accepted"]
    certified = [i for i, e in making if _certified(e)]
    counted = Counter(e.kind for _, e in services)
    partners = {e.to for _, e in sent} | {e.actor for _, e in accepted}
    return {
        "volumes": _volumes(making, history.consumed),
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


def _volumes(making: list[tuple[int, Event]], consumed: Mapping[int, list[Consumed]]) -> Figure:
    process = {
        i: (e.process if isinstance(e, ProcessEvent) else "recycling")
        for i, e in making
        if not isinstance(e, MaterialEvent)
    }
    rows = [(i, r) for i in sorted(process) for r in consumed.get(i, [])]
    material = {
        r.subject: r.material for _, r in rows if r.kind == "lot" and r.material is not None
    }
    kg: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for i, r in rows:
        kg[(process[i], material.get(r.subject, "item"))] += r.mass
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
