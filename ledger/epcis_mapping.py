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

docs/formats.md explains each choice.

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
    HandoverEvent,
    ItemLine,
    LifecycleEvent,
    Line,
    LotLine,
    LotOutput,
    MaterialEvent,
    ProcessEvent,
    ReceiptEvent,
)
from ledger.supply_fields import QuantityField

TIME_ZONE_OFFSET: Final = "+00:00"  # event times are UTC
DEFAULT_PROCESS_STEP: Final = "commissioning"  # CBV: new class-level identifiers are made
# (bizStep, disposition) of the lifecycle kinds that are one OBSERVE event; see the table above.
_LIFECYCLE: Final[dict[str, tuple[str, str | None]]] = {
    "rental": ("other", None),  # CBV 2.0 has no renting step
    "repair": ("repairing", "available"),
    "take-back": ("collecting", "returned"),
}

Actors = Mapping[str, Mapping[str, Any]]
Event = dict[str, Any]


# -- identifiers -------------------------------------------------------------------------------


def epc(subject: str) -> str:
    """The EPCIS identifier of a lot or item: a spola URN, or its GS1 Digital Link URI on
    id.gs1.org."""
    if subject.startswith("urn:"):
        return subject
    return DigitalLink.parse(subject).uri(GS1_RESOLVER)  # the QR code's spelling


def _slug(actor_id: str) -> str:
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
    return f"urn:spola:facility:{_slug(actor_id)}:{facility_id}"


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


# -- building blocks ---------------------------------------------------------------------------


def _given(key: str, value: Any) -> dict[str, Any]:
    """``{key: value}``, or nothing when there is no value (None or an empty list)."""
    return {} if value is None or value == [] else {key: value}


def _quantity_element(subject: str, q: QuantityField) -> dict[str, Any]:
    return {"epcClass": epc(subject), "quantity": quantity(q.value), "uom": q.unit}


def _lines(lines: Iterable[Line]) -> dict[str, Any]:
    items = [epc(line.item) for line in lines if isinstance(line, ItemLine)]
    lots = [
        _quantity_element(line.lot, line.quantity) for line in lines if isinstance(line, LotLine)
    ]
    return _given("epcList", items) | _given("quantityList", lots)


def _place(actors: Actors, actor_id: str, facility: str | None, *, biz: bool) -> dict[str, Any]:
    if facility is None:
        return {}
    where = {"id": location(actors, actor_id, facility)}
    return {"readPoint": where} | ({"bizLocation": where} if biz else {})


def _ends(
    kind: str, actors: Actors, actor_id: str, *, owning: bool, facility: str | None = None
) -> list[dict[str, str]]:
    """A sourceList or destinationList: the party (owning and/or possessing), the place."""
    who = party(actors, actor_id)
    out = [{"type": "owning_party", kind: who}] if owning else []
    out.append({"type": "possessing_party", kind: who})
    if facility is not None:
        out.append({"type": "location", kind: location(actors, actor_id, facility)})
    return out


def _desadv(sender: str, handover_id: str) -> dict[str, Any]:
    """The delivery note as a CBV despatch advice, shared by the shipping and receiving events."""
    urn = f"urn:spola:handover:{_slug(sender)}:{handover_id}"
    return {"bizTransactionList": [{"type": "desadv", "bizTransaction": urn}]}


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
    return _given("spola:certificate", [dict(zip(names, r, strict=True)) for r in rows])


def _new_lot(output: LotOutput) -> dict[str, Any]:
    return (
        {"spola:id": epc(output.lot), "spola:material": output.material}
        | _given("spola:massPerUnit", _amount(output.mass_per_unit))
        | _claim(output.claim)
    )


def _header(kind: str, time: str) -> Event:
    return {"type": kind, "eventTime": time, "eventTimeZoneOffset": TIME_ZONE_OFFSET}


# -- one builder per spola event type ----------------------------------------------------------


def material_events(e: MaterialEvent, actors: Actors) -> list[Event]:
    feedstock = e.feedstock
    return [
        _header("ObjectEvent", e.time)
        | {
            "quantityList": [_quantity_element(e.lot, e.quantity)],
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
        }
        | _place(actors, e.actor, e.facility, biz=True)
        | {
            "ilmd": {
                "spola:material": e.material,
                "spola:feedstock": {
                    "spola:recycled": feedstock.recycled,
                    "spola:reused": feedstock.reused,
                    "spola:renewable": feedstock.renewable,
                },
            }
            | _given("spola:massPerUnit", _amount(e.mass_per_unit))
            | _claim(e.claim)
        }
        | _certificates(e.certificates)
    ]


def _transformation(
    e: ProcessEvent | LifecycleEvent,
    actors: Actors,
    *,
    inputs: Iterable[Line],
    outputs: list[LotOutput],
    step: str,
    facility: str | None,
) -> Event:
    items = e.items if isinstance(e, ProcessEvent) else []
    made = [
        {"spola:id": epc(i.id), "spola:product": i.product, "spola:mass": _amount(i.mass)}
        | _claim(i.claim)
        for i in items
    ]
    ilmd = _given("spola:lot", [_new_lot(o) for o in outputs]) | _given("spola:item", made)
    taken = _lines(inputs)
    return (
        _header("TransformationEvent", e.time)
        | _given("inputEPCList", taken.get("epcList"))
        | _given("inputQuantityList", taken.get("quantityList"))
        | _given("outputEPCList", [epc(i.id) for i in items])
        | _given("outputQuantityList", [_quantity_element(o.lot, o.quantity) for o in outputs])
        | {"bizStep": step, "disposition": "active"}
        | _place(actors, e.actor, facility, biz=True)
        | ({"ilmd": ilmd} if ilmd else {})
    )


def process_events(e: ProcessEvent, actors: Actors) -> list[Event]:
    row = catalogue().process(e.process)
    step = row.epcis_biz_step if row is not None and row.epcis_biz_step else DEFAULT_PROCESS_STEP
    event = _transformation(
        e, actors, inputs=e.inputs, outputs=e.outputs, step=step, facility=e.facility
    )
    untraced = [
        {"spola:material": u.material, "spola:quantity": _amount(u.quantity)}
        | _given("spola:massPerUnit", _amount(u.mass_per_unit))
        for u in e.untraced
    ]
    compliant = {True: "compliant", False: "not-compliant", None: None}
    chemicals = [
        {"spola:name": c.name, "spola:quantity": _amount(c.quantity)}
        | _given("spola:zdhcMrsl", compliant[c.zdhc_mrsl_compliant])
        for c in e.chemicals
    ]
    w = e.workforce
    workforce = (
        None
        if w is None
        else {"spola:workers": w.workers, "spola:hours": w.hours} | _given("spola:women", w.women)
    )
    return [
        event
        | {"spola:process": e.process}
        | _given("spola:untraced", untraced)
        | _given("spola:energyKwh", e.energy_kwh)
        | _given("spola:waterLitres", e.water_l)
        | _given("spola:chemical", chemicals)
        | _given("spola:workforce", workforce)
        | _certificates(e.certificates)
    ]


def handover_events(e: HandoverEvent, actors: Actors) -> list[Event]:
    lots = any(isinstance(line, LotLine) for line in e.lines)
    event = (
        _header("ObjectEvent", e.time)
        | _lines(e.lines)
        | {"action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit"}
        | _place(actors, e.actor, e.from_facility, biz=False)
        | _desadv(e.actor, e.id)
        | {
            "sourceList": _ends("source", actors, e.actor, owning=lots, facility=e.from_facility),
            "destinationList": _ends(
                "destination", actors, e.to, owning=lots, facility=e.to_facility
            ),
        }
    )
    if e.transport is not None:
        event["spola:transportMode"] = e.transport.mode
        if e.transport.distance_km is not None:
            event["spola:distanceKm"] = e.transport.distance_km
    return [event]


def receipt_events(e: ReceiptEvent, actors: Actors, handover: HandoverEvent) -> list[Event]:
    sender = e.handover.sender
    lots = any(isinstance(line, LotLine) for line in handover.lines)
    head = _header("ObjectEvent", e.time) | _lines(handover.lines) | {"action": "OBSERVE"}
    if e.accepted:
        facility = e.facility if e.facility is not None else handover.to_facility
        return [
            head
            | {"bizStep": "receiving", "disposition": "in_progress"}
            | _place(actors, e.actor, e.facility, biz=True)
            | _desadv(sender, e.handover.id)
            | {
                "sourceList": _ends(
                    "source", actors, sender, owning=lots, facility=handover.from_facility
                ),
                "destinationList": _ends(
                    "destination", actors, e.actor, owning=lots, facility=facility
                ),
            }
        ]
    return [
        head
        | {"bizStep": "receiving", "disposition": "returned"}
        | _place(actors, e.actor, e.facility, biz=False)
        | _desadv(sender, e.handover.id)
        | {
            "sourceList": _ends("source", actors, e.actor, owning=False),
            "destinationList": _ends(
                "destination", actors, sender, owning=False, facility=handover.from_facility
            ),
            "spola:reason": e.reason,
        }
    ]


def _recycling(e: LifecycleEvent, actors: Actors, tail: dict[str, Any]) -> list[Event]:
    """The item ends (DELETE); the lots made from it come out of a transformation."""
    ended = (
        _header("ObjectEvent", e.time)
        | {"epcList": [epc(e.item)], "action": "DELETE"}
        | {"bizStep": "destroying", "disposition": "destroyed"}
        | _place(actors, e.actor, e.facility, biz=False)
        | tail
    )
    if not e.outputs:
        return [ended]
    made = _transformation(
        e,
        actors,
        inputs=[ItemLine(item=e.item)],
        outputs=e.outputs,
        step=DEFAULT_PROCESS_STEP,
        facility=e.facility,
    )
    return [made | tail, ended]


def _sale(e: LifecycleEvent, actors: Actors) -> dict[str, Any]:
    """Ownership passes: to a private person (never named) at retail, or to an actor."""
    seller = _ends("source", actors, e.actor, owning=True)[:1] if e.kind == "sale" else []
    if e.to is None:
        step: dict[str, Any] = {"bizStep": "retail_selling", "disposition": "retail_sold"}
        buyer = []
    else:
        step = {"bizStep": "accepting"}
        buyer = _ends("destination", actors, e.to, owning=True)[:1]
    return step | _given("sourceList", seller) | _given("destinationList", buyer)


def lifecycle_events(e: LifecycleEvent, actors: Actors) -> list[Event]:
    tail: dict[str, Any] = {"spola:lifecycle": e.kind}
    if e.kind == "recycling":
        return _recycling(e, actors, tail)
    head = _header("ObjectEvent", e.time) | {"epcList": [epc(e.item)], "action": "OBSERVE"}
    if e.kind in ("sale", "resale"):
        return [head | _sale(e, actors) | _place(actors, e.actor, e.facility, biz=False) | tail]
    biz_step, disposition = _LIFECYCLE[e.kind]
    event = (
        head
        | {"bizStep": biz_step}
        | _given("disposition", disposition)
        | _place(actors, e.actor, e.facility, biz=e.kind != "rental")
    )
    if e.kind == "rental":
        event["sourceList"] = _ends("source", actors, e.actor, owning=False)
        tail["spola:until"] = str(e.until)
    elif e.kind == "take-back":
        event["destinationList"] = _ends(
            "destination", actors, e.actor, owning=True, facility=e.facility
        )
    elif e.kind == "repair":
        tail["spola:description"] = str(e.description)
    return [event | tail]
