"""How each spola event type becomes EPCIS 2.0 events: identifiers, fields, extensions.

One applied spola event becomes one EPCIS event (two for a recycling that makes lots):

| spola | EPCIS event | action | bizStep | disposition |
|---|---|---|---|---|
| material | ObjectEvent, quantityList, ILMD | ADD | commissioning | active |
| process | TransformationEvent, ILMD | — | the catalogue's (commissioning) | active |
| handover | ObjectEvent, source/destination | OBSERVE | shipping | in_transit |
| receipt, accepted | ObjectEvent, handover lines | OBSERVE | receiving | in_progress |
| receipt, rejected | ObjectEvent, handover lines | OBSERVE | receiving | returned |
| (re)sale to a person | ObjectEvent | OBSERVE | retail_selling | retail_sold |
| (re)sale to an actor | ObjectEvent, owning_party | OBSERVE | accepting | — |
| rental | ObjectEvent | OBSERVE | other | — |
| repair | ObjectEvent | OBSERVE | repairing | available |
| take-back | ObjectEvent | OBSERVE | collecting | returned |
| recycling | TransformationEvent item → lots | — | commissioning | active |
|  | and ObjectEvent | DELETE | destroying | destroyed |

docs/formats.md explains each choice. This module builds the making events (material, process)
and what every event shares: identifiers, places, parties, quantities and the event's parts;
``ledger.epcis_custody`` builds handovers, receipts and the life after sale.

Identifiers: a Digital Link path becomes its GS1 Digital Link URI on ``https://id.gs1.org``
(punctuation percent-encoded, as the GS1 grammar wants), a spola URN stays a URN.
Places: a facility with a GLN is ``https://id.gs1.org/414/{gln}``, otherwise
``urn:spola:facility:{actor-slug}:{facility}``; parties are ``https://id.gs1.org/417/{gln}`` or
the actor URN. Facts EPCIS has no field for (log index, signer, payload digest, certificates,
claims, feedstock …) are user extensions in the ``spola:`` namespace, which the document's
``@context`` declares (never ``@vocab``). Quantities are JSON numbers: exact integers up to 2^53,
otherwise the nearest double; the exact decimal stays in the signed payload, which
``spola:payloadDigest`` names. Each event's ``eventID`` is its CBV 2.0 event hash.

The public surface (the document, the event IDs) is ``ledger.epcis``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

from ledger.catalogue import catalogue
from ledger.epcis_identifiers import GS1_RESOLVER
from ledger.identifiers import DigitalLink
from ledger.supply import (
    Certificate,
    Claim,
    ItemLine,
    LifecycleEvent,
    Line,
    LotLine,
    LotOutput,
    MaterialEvent,
    ProcessEvent,
)
from ledger.supply_fields import QuantityField

TIME_ZONE_OFFSET: Final = "+00:00"  # event times are UTC
DEFAULT_PROCESS_STEP: Final = "commissioning"  # CBV: new class-level identifiers are made

Actors = Mapping[str, Mapping[str, Any]]
Event = dict[str, Any]


# -- identifiers -------------------------------------------------------------------------------


def epc(subject: str) -> str:
    """The EPCIS identifier of a lot or item: a spola URN, or its GS1 Digital Link URI on
    id.gs1.org."""
    if subject.startswith("urn:"):
        return subject
    return DigitalLink.parse(subject).uri(GS1_RESOLVER)  # the QR code's spelling


def actor_slug(actor_id: str) -> str:
    """The last part of an actor's URN: ``maison-navigli`` of ``urn:spola:actor:maison-navigli``."""
    return actor_id.rsplit(":", 1)[-1]


def location(actors: Actors, actor_id: str, facility_id: str) -> str:
    """A facility of ``actor_id``: its GLN (AI 414) when the profile gives one, else a URN."""
    for facility in actors.get(actor_id, {}).get("facilities", []):
        if facility.get("id") == facility_id and facility.get("gln"):
            return facility_identifier(actor_id, facility_id, facility["gln"])
    return facility_identifier(actor_id, facility_id, None)


def facility_identifier(actor_id: str, facility_id: str, gln: str | None) -> str:
    """The identifier of ``actor_id``'s facility ``facility_id``: ``https://id.gs1.org/414/{gln}``
    with a GLN, else ``urn:spola:facility:{actor-slug}:{facility_id}`` (the export's places and
    the passport's facilities alike)."""
    if gln:
        return f"{GS1_RESOLVER}/414/{gln}"
    return f"urn:spola:facility:{actor_slug(actor_id)}:{facility_id}"


def party(actors: Actors, actor_id: str) -> str:
    """An actor as a party: its GLN (AI 417) when the profile gives one, else its URN."""
    return party_identifier(actor_id, actors.get(actor_id, {}).get("gln"))


def party_identifier(actor_id: str, gln: str | None) -> str:
    """The identifier of the party ``actor_id``: ``https://id.gs1.org/417/{gln}`` with a GLN,
    else its URN (the export's parties and the passport's operator alike)."""
    return f"{GS1_RESOLVER}/417/{gln}" if gln else actor_id


def quantity(value: str) -> int | float:
    """A decimal string as the JSON number EPCIS wants: an int when exact, else a double."""
    number = Decimal(value)
    if number == number.to_integral_value() and abs(number) <= 2**53:
        return int(number)
    return float(number)  # correctly rounded to the nearest double


# -- building blocks, shared with ledger.epcis_custody -----------------------------------------


def given(key: str, value: Any) -> dict[str, Any]:
    """``{key: value}``, or nothing when there is no value (None or an empty list)."""
    return {} if value is None or value == [] else {key: value}


def _quantity_element(subject: str, q: QuantityField) -> dict[str, Any]:
    return {"epcClass": epc(subject), "quantity": quantity(q.value), "uom": q.unit}


def epc_lists(lines: Iterable[Line]) -> dict[str, Any]:
    """The items of ``lines`` as an epcList, their lots as a quantityList (each when any)."""
    items = [epc(line.item) for line in lines if isinstance(line, ItemLine)]
    lots = [
        _quantity_element(line.lot, line.quantity) for line in lines if isinstance(line, LotLine)
    ]
    return given("epcList", items) | given("quantityList", lots)


def read_point(actors: Actors, actor_id: str, facility: str | None, *, biz: bool) -> dict[str, Any]:
    """Where it happened: the facility as readPoint, and as bizLocation too when ``biz``."""
    if facility is None:
        return {}
    where = {"id": location(actors, actor_id, facility)}
    return {"readPoint": where} | ({"bizLocation": where} if biz else {})


def _amount(q: QuantityField | None) -> dict[str, str] | None:
    return None if q is None else {"spola:value": q.value, "spola:unit": q.unit}


def _claim(claim: Claim | None) -> dict[str, Any]:
    if claim is None:
        return {}
    fields = (claim.model, claim.scheme, claim.certified_fraction)
    names = ("spola:model", "spola:scheme", "spola:certifiedFraction")
    return {"spola:claim": dict(zip(names, fields, strict=True))}


def _certificates(certificates: list[Certificate]) -> dict[str, Any]:
    names = ("spola:scheme", "spola:id", "spola:issuer", "spola:validFrom", "spola:validUntil")
    rows = [(c.scheme, c.id, c.issuer, c.valid_from, c.valid_until) for c in certificates]
    return given("spola:certificate", [dict(zip(names, r, strict=True)) for r in rows])


def _new_lot(output: LotOutput) -> dict[str, Any]:
    return (
        {"spola:id": epc(output.lot), "spola:material": output.material}
        | given("spola:massPerUnit", _amount(output.mass_per_unit))
        | _claim(output.claim)
    )


def event_header(kind: str, time: str) -> Event:
    """The members every EPCIS event opens with: its type and when it happened (UTC)."""
    return {"type": kind, "eventTime": time, "eventTimeZoneOffset": TIME_ZONE_OFFSET}


# -- the making events -------------------------------------------------------------------------


def material_events(e: MaterialEvent, actors: Actors) -> list[Event]:
    feedstock = e.feedstock
    return [
        event_header("ObjectEvent", e.time)
        | {
            "quantityList": [_quantity_element(e.lot, e.quantity)],
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
        }
        | read_point(actors, e.actor, e.facility, biz=True)
        | {
            "ilmd": {
                "spola:material": e.material,
                "spola:feedstock": {
                    "spola:recycled": feedstock.recycled,
                    "spola:reused": feedstock.reused,
                    "spola:renewable": feedstock.renewable,
                },
            }
            | given("spola:massPerUnit", _amount(e.mass_per_unit))
            | _claim(e.claim)
        }
        | _certificates(e.certificates)
    ]


def transformation_event(
    e: ProcessEvent | LifecycleEvent,
    actors: Actors,
    *,
    inputs: Iterable[Line],
    outputs: list[LotOutput],
    step: str,
    facility: str | None,
) -> Event:
    """A TransformationEvent: ``inputs`` consumed, lots and items made (with their ILMD)."""
    items = e.items if isinstance(e, ProcessEvent) else []
    made = [
        {"spola:id": epc(i.id), "spola:product": i.product, "spola:mass": _amount(i.mass)}
        | _claim(i.claim)
        for i in items
    ]
    ilmd = given("spola:lot", [_new_lot(o) for o in outputs]) | given("spola:item", made)
    taken = epc_lists(inputs)
    return (
        event_header("TransformationEvent", e.time)
        | given("inputEPCList", taken.get("epcList"))
        | given("inputQuantityList", taken.get("quantityList"))
        | given("outputEPCList", [epc(i.id) for i in items])
        | given("outputQuantityList", [_quantity_element(o.lot, o.quantity) for o in outputs])
        | {"bizStep": step, "disposition": "active"}
        | read_point(actors, e.actor, facility, biz=True)
        | ({"ilmd": ilmd} if ilmd else {})
    )


def process_events(e: ProcessEvent, actors: Actors) -> list[Event]:
    row = catalogue().process(e.process)
    step = row.epcis_biz_step if row is not None and row.epcis_biz_step else DEFAULT_PROCESS_STEP
    event = transformation_event(
        e, actors, inputs=e.inputs, outputs=e.outputs, step=step, facility=e.facility
    )
    untraced = [
        {"spola:material": u.material, "spola:quantity": _amount(u.quantity)}
        | given("spola:massPerUnit", _amount(u.mass_per_unit))
        for u in e.untraced
    ]
    compliant = {True: "compliant", False: "not-compliant", None: None}
    chemicals = [
        {"spola:name": c.name, "spola:quantity": _amount(c.quantity)}
        | given("spola:zdhcMrsl", compliant[c.zdhc_mrsl_compliant])
        for c in e.chemicals
    ]
    w = e.workforce
    workforce = (
        None
        if w is None
        else {"spola:workers": w.workers, "spola:hours": w.hours} | given("spola:women", w.women)
    )
    return [
        event
        | {"spola:process": e.process}
        | given("spola:untraced", untraced)
        | given("spola:energyKwh", e.energy_kwh)
        | given("spola:waterLitres", e.water_l)
        | given("spola:chemical", chemicals)
        | given("spola:workforce", workforce)
        | _certificates(e.certificates)
    ]
