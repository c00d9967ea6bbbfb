"""Handovers, receipts and the life after sale as EPCIS 2.0 events.

A handover is a shipping ObjectEvent and its receipt a receiving one, both naming the delivery
note as a despatch advice and the parties (and places) at either end; a sale, resale, rental,
repair or take-back is one OBSERVE ObjectEvent of the item; a recycling ends the item (DELETE)
and, when it makes lots, is also a TransformationEvent from the item to them. The mapping's
table, the identifiers and the building blocks every event shares are ``ledger.epcis_mapping``'s;
docs/formats.md explains each choice.
"""

from __future__ import annotations

from typing import Any, Final

from ledger.epcis_mapping import (
    DEFAULT_PROCESS_STEP,
    Actors,
    Event,
    actor_slug,
    epc,
    epc_lists,
    event_header,
    given,
    location,
    party,
    read_point,
    transformation_event,
)
from ledger.supply import HandoverEvent, ItemLine, LifecycleEvent, LotLine, ReceiptEvent

# (bizStep, disposition) of the lifecycle kinds that are one OBSERVE event (ledger.epcis_mapping).
_LIFECYCLE: Final[dict[str, tuple[str, str | None]]] = {
    "rental": ("other", None),  # CBV 2.0 has no renting step
    "repair": ("repairing", "available"),
    "take-back": ("collecting", "returned"),
}


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
    urn = f"urn:spola:handover:{actor_slug(sender)}:{handover_id}"
    return {"bizTransactionList": [{"type": "desadv", "bizTransaction": urn}]}


def handover_events(e: HandoverEvent, actors: Actors) -> list[Event]:
    lots = any(isinstance(line, LotLine) for line in e.lines)
    event = (
        event_header("ObjectEvent", e.time)
        | epc_lists(e.lines)
        | {"action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit"}
        | read_point(actors, e.actor, e.from_facility, biz=False)
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
    head = event_header("ObjectEvent", e.time) | epc_lists(handover.lines) | {"action": "OBSERVE"}
    if e.accepted:
        facility = e.facility if e.facility is not None else handover.to_facility
        return [
            head
            | {"bizStep": "receiving", "disposition": "in_progress"}
            | read_point(actors, e.actor, e.facility, biz=True)
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
        | read_point(actors, e.actor, e.facility, biz=False)
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
        event_header("ObjectEvent", e.time)
        | {"epcList": [epc(e.item)], "action": "DELETE"}
        | {"bizStep": "destroying", "disposition": "destroyed"}
        | read_point(actors, e.actor, e.facility, biz=False)
        | tail
    )
    if not e.outputs:
        return [ended]
    made = transformation_event(
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
    return step | given("sourceList", seller) | given("destinationList", buyer)


def lifecycle_events(e: LifecycleEvent, actors: Actors) -> list[Event]:
    tail: dict[str, Any] = {"spola:lifecycle": e.kind}
    if e.kind == "recycling":
        return _recycling(e, actors, tail)
    head = event_header("ObjectEvent", e.time) | {"epcList": [epc(e.item)], "action": "OBSERVE"}
    if e.kind in ("sale", "resale"):
        return [head | _sale(e, actors) | read_point(actors, e.actor, e.facility, biz=False) | tail]
    biz_step, disposition = _LIFECYCLE[e.kind]
    event = (
        head
        | {"bizStep": biz_step}
        | given("disposition", disposition)
        | read_point(actors, e.actor, e.facility, biz=e.kind != "rental")
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
