"""Build one passport version from its facts: the document every format renders.

``build_passport(facts)`` returns a ``Passport``: the brand's declarations from the latest
passport event, and everything else derived from signed events — the composition by mass, the
journey (making steps, transport legs with distances and CO2e, the life after sale), the
certificates, circularity and short-chain figures, data-quality flags, and the log entries
behind every statement. The same facts always give the same bytes.

Access tiers: values a competitor or a counterparty could misuse (lot identifiers, absolute
masses, delivery-note numbers) sit under a ``restricted`` key wherever they appear;
``Passport.public()`` removes every one of them (DESIGN.md, Identifiers and access).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

from ledger.canonical import canonical_bytes
from ledger.catalogue import catalogue
from ledger.epcis_mapping import facility_identifier, party_identifier
from ledger.events import ActorEvent, Facility
from ledger.passport import Fact, PassportEvent, PassportFacts
from ledger.quantities import format_decimal
from ledger.supply import (
    HandoverEvent,
    LifecycleEvent,
    LotLine,
    MaterialEvent,
    ProcessEvent,
    ReceiptEvent,
)
from passports.graph import ZERO, Graph, Origin, Walk
from scoring.mci import quantized
from scoring.product import product_mci
from scoring.product_inputs import recycled_output_kg
from scoring.transport import FACTORS, Step, leg, local_shares

FORMAT: Final = "spola-passport/1"
RESTRICTED: Final = "restricted"
FRACTION: Final = Decimal("0.0001")
KG: Final = Decimal("0.001")


def _fraction(value: Decimal) -> str:
    return format_decimal(quantized(value, FRACTION))


def _kg(value: Decimal) -> str:
    return format_decimal(quantized(value, KG))


@dataclass(frozen=True)
class Passport:
    """One version of one passport, as a JSON-ready document (every tier's fields)."""

    subject: str
    version: int
    document: Mapping[str, Any]

    def to_bytes(self) -> bytes:
        """RFC 8785 bytes of the whole document (restricted fields included)."""
        return canonical_bytes(dict(self.document))

    def public(self) -> dict[str, Any]:
        """The document without any ``restricted`` member, at any depth."""
        redacted: dict[str, Any] = _redact(dict(self.document))
        return redacted


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items() if k != RESTRICTED}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


class _Places:
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


def build_passport(facts: PassportFacts) -> Passport:
    issue = facts.issue
    event = issue.event
    assert isinstance(event, PassportEvent)
    graph = Graph(facts.facts)
    subject = facts.subject
    root_kg = graph.node_kg(subject) if subject in graph.made else ZERO
    walk = graph.walk(subject, root_kg)
    places = _Places(facts.actors)
    journey, legs = _journey(facts, graph, walk, places)
    origins = _composition(walk, places)
    document: dict[str, Any] = {
        "format": FORMAT,
        "subject": subject,
        "version": facts.version.number,
        "version_index": facts.version.index,
        "versions": [
            {"version": v.number, "index": v.index, "cause": v.cause} for v in facts.versions
        ],
        "issued_by": places.place(event.actor, None) | {"index": issue.index},
        "issued_at": event.time,
        "product": _product(facts, graph, event.product.model_dump(exclude_none=True)),
        "instructions": event.instructions.model_dump(exclude_none=True),
        "documents": [d.model_dump(exclude_none=True) for d in event.documents],
        "materials": origins,
        "journey": journey,
        "certificates": _certificates(facts.facts, walk),
        "circularity": _circularity(facts, walk),
        "short_chain": _short_chain(walk, legs, places),
        "data_quality": _quality(walk, legs),
        "entries": sorted(f.index for f in facts.facts),
    }
    if document["materials"]:  # the MCI from the same facts (docs/scoring.md, Product)
        score = product_mci(document, recycled_output_kg=recycled_output_kg(facts))
        document["circularity"]["mci"] = score.to_json()
    return Passport(subject, facts.version.number, document)


def _product(facts: PassportFacts, graph: Graph, declared: dict[str, Any]) -> dict[str, Any]:
    issue = facts.issue.event
    assert isinstance(issue, PassportEvent)
    dl = issue.link
    product = declared | {"gtin": dl.gtin, "granularity": dl.granularity}
    if dl.serial is not None:
        product["serial"] = dl.serial
    if dl.lot is not None:
        product["lot"] = dl.lot
    if facts.subject in graph.item_mass:
        product[RESTRICTED] = {"mass_kg": _kg(graph.item_mass[facts.subject])}
        claim = graph.item_claim.get(facts.subject)
        product["claim"] = None if claim is None else claim.model_dump()
    return product


def _composition(walk: Walk, places: _Places) -> list[dict[str, Any]]:
    """Materials by share of the product's origin mass, largest first."""
    total = walk.origin_mass
    by_material: dict[str, list[tuple[Origin, Decimal]]] = {}
    for origin, kg in walk.origins.items():
        by_material.setdefault(origin.material, []).append((origin, kg))
    rows = []
    for material, parts in by_material.items():
        kg = sum((k for _, k in parts), ZERO)
        row = catalogue().material(material)

        def weighted(pick: str, parts: list[tuple[Origin, Decimal]] = parts) -> str:
            mass = sum((k for _, k in parts), ZERO)
            share = sum((getattr(o, pick) * k for o, k in parts), ZERO)
            return _fraction(share / mass if mass else ZERO)

        rows.append(
            {
                "material": material,
                "name": material if row is None else row.name,
                "fraction": _fraction(kg / total if total else ZERO),
                "recycled": weighted("recycled"),
                "reused": weighted("reused"),
                "renewable": weighted("renewable"),
                "traced": all(o.lot is not None for o, _ in parts),
                "origins": [
                    places.place(o.actor, o.facility) | {"index": o.index}
                    for o, _ in sorted(parts, key=lambda p: p[0].index)
                ],
                RESTRICTED: {
                    "mass_kg": _kg(kg),
                    "lots": sorted({o.lot for o, _ in parts if o.lot is not None}),
                },
            }
        )
    rows.sort(key=lambda r: (-Decimal(str(r["fraction"])), str(r["material"])))
    return rows


def _journey(
    facts: PassportFacts, graph: Graph, walk: Walk, places: _Places
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], Any]]]:
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


def _making_step(fact: Fact, places: _Places, walk: Walk) -> dict[str, Any]:
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
    event: HandoverEvent, moved: dict[str, Decimal], places: _Places
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
            "mass_kg": _kg(mass),
            "moved": sorted(moved),
        },
    }
    return step, transport


def _lifecycle_step(event: LifecycleEvent, places: _Places) -> dict[str, Any]:
    step: dict[str, Any] = {
        "kind": "lifecycle",
        "what": event.kind,
        "at": places.place(event.actor, event.facility),
    }
    if event.description is not None:
        step["description"] = event.description
    return step


def _certificates(facts: tuple[Fact, ...], walk: Walk) -> list[dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for fact in facts:
        event = fact.event
        if fact.index not in walk.making or not isinstance(event, MaterialEvent | ProcessEvent):
            continue
        day = event.time[:10]
        for cert in event.certificates:
            key = (cert.scheme, cert.id)
            row = found.setdefault(
                key,
                cert.model_dump() | {"holder": event.actor, "valid_at_use": True, "entries": []},
            )
            row["entries"].append(fact.index)
            row["valid_at_use"] = row["valid_at_use"] and cert.valid_on(date.fromisoformat(day))
    schemes = catalogue().schemes
    out = []
    for (scheme, _), row in sorted(found.items()):
        known = schemes.get(scheme)
        row["scheme_name"] = scheme if known is None else known.name
        row["scheme_url"] = None if known is None else known.url
        out.append(row)
    return out


def _circularity(facts: PassportFacts, walk: Walk) -> dict[str, Any]:
    total = walk.origin_mass

    def share(pick: str) -> str:
        part = sum((getattr(o, pick) * kg for o, kg in walk.origins.items()), ZERO)
        return _fraction(part / total if total else ZERO)

    lifecycle = [
        f.event.kind
        for f in facts.facts
        if isinstance(f.event, LifecycleEvent) and f.event.item == facts.subject
    ]
    issue = facts.issue.event
    assert isinstance(issue, PassportEvent)
    return {
        "recycled_content": share("recycled"),
        "reused_content": share("reused"),
        "renewable_content": share("renewable"),
        "repairs": lifecycle.count("repair"),
        "resales": lifecycle.count("resale"),
        "rentals": lifecycle.count("rental"),
        "taken_back": "take-back" in lifecycle,
        "recycled": "recycling" in lifecycle,
        "repair_offered": issue.instructions.repair is not None,
        "take_back_offered": issue.instructions.take_back is not None,
    }


def _short_chain(
    walk: Walk, legs: list[tuple[dict[str, Any], Any]], places: _Places
) -> dict[str, Any]:
    known = [t for _, t in legs if t is not None]
    km = sum((t.km for t in known), ZERO)
    co2e = sum((t.co2e_kg for t in known), ZERO)
    tkm = sum((t.tkm for t in known), ZERO)
    origin_steps = [places.step(o.actor, o.facility, kg) for o, kg in walk.origins.items()]
    shares = local_shares(origin_steps) if origin_steps else None
    result: dict[str, Any] = {
        "transport_km": format_decimal(quantized(km, Decimal("0.1"))),
        "legs": len(legs),
        "co2e_kg": format_decimal(quantized(co2e, Decimal("0.0001"))),
        "factors_version": FACTORS.version,
        RESTRICTED: {"tkm": format_decimal(quantized(tkm, Decimal("0.000001")))},
    }
    if shares is not None:
        result["lombardy_share_by_mass"] = _share(shares.lombardy.by_mass)
        result["italy_share_by_mass"] = _share(shares.italy.by_mass)
    return result


def _share(value: Decimal | None) -> str | None:
    return None if value is None else _fraction(value)


def _quality(walk: Walk, legs: list[tuple[dict[str, Any], Any]]) -> list[dict[str, Any]]:
    flags: list[dict[str, Any]] = []
    total = walk.origin_mass
    untraced = [(o, kg) for o, kg in walk.origins.items() if o.lot is None]
    if untraced and total:
        part = sum((kg for _, kg in untraced), ZERO) / total
        flags.append({"code": "untraced-inputs", "share": _fraction(part),
                      "materials": sorted({o.material for o, _ in untraced}),
                      "entries": sorted({o.index for o, _ in untraced})})  # fmt: skip
    estimated = [step["index"] for step, t in legs if t is not None and t.estimated]
    if estimated:
        flags.append({"code": "estimated-distance", "entries": estimated})
    unknown = [step["index"] for step, t in legs if t is None]
    if unknown:
        flags.append({"code": "unknown-distance", "entries": unknown})
    return flags
