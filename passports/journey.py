"""The journey of a passport: the making steps, transport legs and life after sale behind it.

``build_journey`` walks a version's facts in log order and keeps the steps the product draws on:
each making event of its provenance walk (``passports.graph``), each accepted handover that moved
something the product is made of — a transport leg, with its distance and CO2e
(``scoring.transport``) — and each lifecycle event of the item itself. ``Places`` names the
actors and facilities those steps happened at, as the actors' profiles stood at the version's
index. The rest of the document — composition, certificates, circularity and short-chain figures
— is ``passports.build``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from ledger.catalogue import catalogue
from ledger.epcis_mapping import facility_identifier, party_identifier
from ledger.events import ActorEvent, Facility
from ledger.passport import Fact, PassportFacts
from ledger.quantities import format_decimal
from ledger.supply import (
    HandoverEvent,
    LifecycleEvent,
    LotLine,
    MaterialEvent,
    ProcessEvent,
    ReceiptEvent,
)
from passports.graph import ZERO, Walk
from passports.tiers import RESTRICTED
from scoring.mci import quantized
from scoring.transport import Step, leg

KG: Final = Decimal("0.001")


def kg_text(value: Decimal) -> str:
    """A mass in kg as the document writes it: to the gram."""
    return format_decimal(quantized(value, KG))


class Places:
    """Actors' names and facilities as their profiles stood at the version's index."""

    def __init__(self, actors: Mapping[str, ActorEvent]) -> None:
        self._actors = actors

    def facility(self, actor: str, facility: str | None) -> Facility | None:
        profile = self._actors.get(actor)
        if profile is None or not profile.facilities:
            return None
        for f in profile.facilities:
            if f.id == facility:
                return f
        return profile.facilities[0]

    def place(self, actor: str, facility: str | None) -> dict[str, Any]:
        profile = self._actors.get(actor)
        f = self.facility(actor, facility)
        return {
            "actor": actor,
            "name": actor if profile is None else profile.name,
            "party": party_identifier(actor, None if profile is None else profile.gln),
            "facility": None if f is None else f.name,
            "location": None if f is None else facility_identifier(actor, f.id, f.gln),
            "town": None if f is None else f.town,
            "region": None if f is None else f.region,
            "country": (None if profile is None else profile.country) if f is None else f.country,
            "lat": None if f is None else f.lat,
            "lon": None if f is None else f.lon,
        }

    def step(self, actor: str, facility: str | None, mass: Decimal) -> Step:
        place = self.place(actor, facility)
        return Step(region=place["region"], country=place["country"] or "", mass_kg=mass)


def build_journey(
    facts: PassportFacts, walk: Walk, places: Places
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], Any]]]:
    """The journey's steps in log order, and each transport step with its leg (None: no
    distance known) for the short-chain figures and data-quality flags."""
    steps: list[dict[str, Any]] = []
    legs: list[tuple[dict[str, Any], Any]] = []
    accepted = _accepted_handovers(facts.facts)
    for fact in facts.facts:
        event = fact.event
        when = {"index": fact.index, "date": event.time[:10]}
        if fact.index in walk.making:
            steps.append(when | _making_step(fact, places, walk))
        elif isinstance(event, HandoverEvent) and (event.actor, event.id) in accepted:
            moved = _moved(event, walk)
            if moved:
                step, transport = _transport_step(event, moved, places)
                steps.append(when | step | {"received_index": accepted[(event.actor, event.id)]})
                legs.append((steps[-1], transport))
        elif isinstance(event, LifecycleEvent) and event.item == facts.subject:
            steps.append(when | _lifecycle_step(event, places))
    return steps, legs


def _making_step(fact: Fact, places: Places, walk: Walk) -> dict[str, Any]:
    event = fact.event
    if isinstance(event, MaterialEvent):
        material = catalogue().material(event.material)
        name = event.material if material is None else material.name
        return {"kind": "origin", "what": name, "material": event.material,
                "at": places.place(event.actor, event.facility),
                RESTRICTED: {"lots": [event.lot]}}  # fmt: skip
    if isinstance(event, ProcessEvent):
        process = catalogue().process(event.process)
        made = [o.lot for o in event.outputs] + [i.id for i in event.items]
        return {"kind": "process", "what": event.process if process is None else process.name,
                "process": event.process, "at": places.place(event.actor, event.facility),
                RESTRICTED: {"made": [m for m in made if m in walk.nodes]}}  # fmt: skip
    assert isinstance(event, LifecycleEvent)
    at = places.place(event.actor, event.facility)
    made = [o.lot for o in event.outputs if o.lot in walk.nodes]
    return {"kind": "recycling", "what": "recycling", "at": at, RESTRICTED: {"made": made}}


def _accepted_handovers(facts: tuple[Fact, ...]) -> dict[tuple[str, str], int]:
    return {
        (f.event.handover.sender, f.event.handover.id): f.index
        for f in facts
        if isinstance(f.event, ReceiptEvent) and f.event.accepted
    }


def _moved(event: HandoverEvent, walk: Walk) -> dict[str, Decimal]:
    """The subjects this handover moved that the product draws on, with the kg it draws."""
    moved: dict[str, Decimal] = {}
    for line in event.lines:
        subject = line.lot if isinstance(line, LotLine) else line.item
        if subject in walk.nodes:
            moved[subject] = walk.nodes[subject]
    return moved


def _transport_step(
    event: HandoverEvent, moved: dict[str, Decimal], places: Places
) -> tuple[dict[str, Any], Any]:
    source = places.place(event.actor, event.from_facility)
    target = places.place(event.to, event.to_facility)
    mode = "road" if event.transport is None else event.transport.mode
    declared = None if event.transport is None else event.transport.distance_km
    coords = [
        (Decimal(p["lat"]), Decimal(p["lon"])) if p["lat"] else None for p in (source, target)
    ]
    mass = sum(moved.values(), ZERO)
    transport = None
    if declared is not None or None not in coords:
        transport = leg(
            mode,
            mass_kg=mass if mass > 0 else KG,
            distance_km=None if declared is None else Decimal(declared),
            origin=coords[0],
            destination=coords[1],
        )
    # Otherwise an end has no coordinates (an actor registered without a facility) and no
    # distance was declared: the leg is shown without one, and counts no km and no CO2e.
    step = {
        "kind": "transport",
        "what": f"{mode} transport",
        "from": source,
        "to": target,
        "mode": mode,
        "distance_km": None
        if transport is None
        else format_decimal(quantized(transport.km, Decimal("0.1"))),
        "distance_estimated": transport is not None and transport.estimated,
        RESTRICTED: {
            "delivery_note": event.id,
            "mass_kg": kg_text(mass),
            "moved": sorted(moved),
        },
    }
    return step, transport


def _lifecycle_step(event: LifecycleEvent, places: Places) -> dict[str, Any]:
    step: dict[str, Any] = {
        "kind": "lifecycle",
        "what": event.kind,
        "at": places.place(event.actor, event.facility),
    }
    if event.description is not None:
        step["description"] = event.description
    return step
