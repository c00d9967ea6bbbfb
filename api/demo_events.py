"""The demo's event builders: the fields of each event type the story signs, as a ``Step``.

Each builder shapes one event type's fields as ``ledger.events`` reads them (material,
process, handover, receipt, lifecycle, assessment, profile) and the parts they share (a
quantity, a lot taken, a lot or an item made, a certificate, workforce figures). It holds no
story: the times, lots, delivery notes and figures are ``api.demo_story``'s, the workshops
``api.demo_cast``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Step:
    """One event of the story: who signs it, when, its fields, and the rule it is meant to
    break (None: it is meant to be applied)."""

    actor: str  # slug
    time: str
    fields: Mapping[str, Any]
    refused: str | None = None


def quantity(value: str, unit: str = "KGM") -> dict[str, str]:
    return {"value": value, "unit": unit}


def take(lot_id: str, value: str, unit: str = "KGM") -> dict[str, Any]:
    return {"lot": lot_id, "quantity": quantity(value, unit)}


def made(
    lot_id: str, material: str, value: str, unit: str = "KGM", per: str | None = None, **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"lot": lot_id, "material": material, "quantity": quantity(value, unit)}
    if per is not None:
        out["mass_per_unit"] = quantity(per)
    return out | extra


def certificate(scheme: str, cid: str, valid_from: str, valid_until: str) -> dict[str, str]:
    issuer = "Ente Certificazione Filiera (demo)"
    return dict(
        scheme=scheme, id=cid, issuer=issuer, valid_from=valid_from, valid_until=valid_until
    )


def material(actor: str, time: str, lot_id: str, material: str, value: str, **extra: Any) -> Step:
    fields = {"type": "material", "facility": "main", **made(lot_id, material, value, **extra)}
    return Step(actor, time, fields)


def process(
    actor: str, time: str, process: str, inputs: list[dict[str, Any]], **extra: Any
) -> Step:
    fields = {"type": "process", "process": process, "facility": "main", "inputs": inputs}
    return Step(actor, time, fields | extra)


def handover(
    actor: str,
    time: str,
    hid: str,
    to: str,
    lines: list[dict[str, Any]],
    *,
    km: str,
    mode: str = "road",
    refused: str | None = None,
) -> Step:
    fields = {
        "type": "handover",
        "id": hid,
        "to": f"urn:spola:actor:{to}",
        "lines": lines,
        "from_facility": "main",
        "to_facility": "main",
        "transport": {"mode": mode, "distance_km": km},
    }
    return Step(actor, time, fields, refused)


def receipt(actor: str, time: str, sender: str, hid: str, reason: str | None = None) -> Step:
    fields: dict[str, Any] = {
        "type": "receipt",
        "handover": {"sender": f"urn:spola:actor:{sender}", "id": hid},
        "accepted": reason is None,
        "facility": "main",
    }
    if reason is not None:
        fields["reason"] = reason
    return Step(actor, time, fields)


def lifecycle(
    actor: str, time: str, kind: str, item: str, facility: str = "main", **extra: Any
) -> Step:
    fields = {"type": "lifecycle", "kind": kind, "item": item, "facility": facility}
    return Step(actor, time, fields | extra)


def made_item(item_id: str, product: str, kg: str, **extra: Any) -> dict[str, Any]:
    return {"id": item_id, "product": product, "mass": quantity(kg)} | extra


def workforce(workers: int, hours: str, women: int) -> dict[str, Any]:
    return {"workers": workers, "hours": hours, "women": women}


def assessment(actor: str, time: str, answers: dict[str, str], **cited: str) -> Step:
    """A maturity self-assessment; ``cited`` maps a question to the certificate id backing it."""
    rows: list[dict[str, Any]] = []
    for question, answer in sorted(answers.items()):
        row: dict[str, Any] = {"question": question, "answer": answer}
        if question in cited:
            row["certificate"] = {"scheme": "RWS", "id": cited[question]}
        rows.append(row)
    fields = {"type": "assessment", "model": "2026.1", "date": time[:10], "answers": rows}
    return Step(actor, time, fields)


def profile(
    actor: str,
    time: str,
    offers: tuple[list[str], list[str]],
    certificates: list[dict[str, str]],
    contact: str,
    **more: Any,
) -> Step:
    """A directory profile; ``offers``: the catalogue processes offered and the materials
    handled."""
    fields = {
        "type": "profile",
        "processes": offers[0],
        "materials": offers[1],
        "certificates": certificates,
        "contact": contact,
        **more,
    }
    return Step(actor, time, fields)
