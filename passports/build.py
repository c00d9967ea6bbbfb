"""Build one passport version from its facts: the document every format renders.

``build_passport(facts)`` returns a ``Passport``: the brand's declarations from the latest
passport event, and everything else derived from signed events — the composition by mass, the
journey (making steps, transport legs with distances and CO2e, the life after sale), the
certificates, circularity and short-chain figures, data-quality flags, and the log entries
behind every statement. The same facts always give the same bytes. The journey and the places it
names are assembled by ``passports.journey``.

Access tiers: values a competitor or a counterparty could misuse (lot identifiers, absolute
masses, delivery-note numbers) sit under a ``restricted`` key wherever they appear;
``Passport.public()`` removes every one of them (``passports.tiers``; DESIGN.md, Identifiers and
access).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

from ledger.canonical import canonical_bytes
from ledger.catalogue import catalogue
from ledger.passport import Fact, PassportEvent, PassportFacts
from ledger.quantities import format_decimal
from ledger.supply import (
    LifecycleEvent,
    MaterialEvent,
    ProcessEvent,
)
from passports.graph import ZERO, Graph, Origin, Walk
from passports.journey import Places, build_journey, kg_text
from passports.tiers import RESTRICTED, redact
from scoring.mci import quantized
from scoring.product import product_mci
from scoring.product_inputs import recycled_output_kg
from scoring.transport import FACTORS, local_shares

FORMAT: Final = "spola-passport/1"
FRACTION: Final = Decimal("0.0001")


def _fraction(value: Decimal) -> str:
    return format_decimal(quantized(value, FRACTION))


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
        redacted: dict[str, Any] = redact(dict(self.document))
        return redacted


def build_passport(facts: PassportFacts) -> Passport:
    issue = facts.issue
    event = issue.event
    assert isinstance(event, PassportEvent)
    graph = Graph(facts.facts)
    subject = facts.subject
    root_kg = graph.node_kg(subject) if subject in graph.made else ZERO
    walk = graph.walk(subject, root_kg)
    places = Places(facts.actors)
    journey, legs = build_journey(facts, walk, places)
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
        product[RESTRICTED] = {"mass_kg": kg_text(graph.item_mass[facts.subject])}
        claim = graph.item_claim.get(facts.subject)
        product["claim"] = None if claim is None else claim.model_dump()
    return product


def _composition(walk: Walk, places: Places) -> list[dict[str, Any]]:
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
                    "mass_kg": kg_text(kg),
                    "lots": sorted({o.lot for o, _ in parts if o.lot is not None}),
                },
            }
        )
    rows.sort(key=lambda r: (-Decimal(str(r["fraction"])), str(r["material"])))
    return rows


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
    walk: Walk, legs: list[tuple[dict[str, Any], Any]], places: Places
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
