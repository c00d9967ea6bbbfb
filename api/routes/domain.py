"""Lots, items, holdings and provenance traces: the domain projections, read-only.

Lot and item identifiers are URNs (``urn:spola:lot:…``) or GS1 Digital Link paths; a Digital
Link is written after the prefix without its leading slash, e.g.
``/v1/lots/01/09506000134352/10/S26-0142``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from starlette.concurrency import run_in_threadpool

from api.deps import SettingsDep, StoreDep, given_once
from ledger.identifiers import DigitalLink
from ledger.quantities import format_decimal
from ledger.rules import CustodyRecord, Feedstock, HandoverRecord, ItemRecord, LotRecord
from ledger.store.ledger import LedgerStore
from ledger.store.queries import Kind, TraceNode
from ledger.supply import Claim

router = APIRouter(prefix="/v1", tags=["supply chain"], dependencies=[Depends(given_once)])

IdPath = Annotated[str, Path(min_length=1, max_length=130)]
Limit = Annotated[int, Query(ge=1, le=1000)]
HISTORY_LIMIT = 200


def _ident(raw: str) -> str:
    """A lot or item as the ledger names it: a URN as given; a Digital Link path (its leading
    slash is the route's) in the ledger's spelling, whichever percent-encoding the URI used."""
    return DigitalLink.parse("/" + raw).path() if raw.startswith("01/") else raw


def _claim(claim: Claim | None) -> dict[str, str] | None:
    return None if claim is None else claim.model_dump()


def _feedstock(f: Feedstock) -> dict[str, str]:
    return {
        "recycled": format_decimal(f.recycled),
        "reused": format_decimal(f.reused),
        "renewable": format_decimal(f.renewable),
    }


def lot_json(record: LotRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "material": record.material,
        "unit": record.unit,
        "mass_per_unit_kg": None
        if record.mass_per_unit is None
        else format_decimal(record.mass_per_unit),
        "origin": record.origin,
        "facility": record.facility,
        "made_by": record.made_by,
        "created_at_index": record.created_at_index,
        "claim": _claim(record.claim),
        "feedstock": _feedstock(record.feedstock),
    }


def item_json(record: ItemRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "product": record.product,
        "mass_kg": format_decimal(record.mass),
        "maker": record.maker,
        "owner": record.owner,
        "custodian": record.custodian,
        "status": record.status,
        "claim": _claim(record.claim),
        "feedstock": _feedstock(record.feedstock),
        "created_at_index": record.created_at_index,
        "updated_at_index": record.updated_at_index,
        "repairs": record.repairs,
        "rentals": record.rentals,
        "resales": record.resales,
    }


def handover_json(record: HandoverRecord) -> dict[str, Any]:
    return {
        "sender": record.sender,
        "id": record.id,
        "receiver": record.receiver,
        "status": record.status,
        "logged_at_index": record.logged_at_index,
        "settled_at_index": record.settled_at_index,
        "lines": [
            {"kind": line.kind, "id": line.subject}
            | ({} if line.amount is None else {"amount": format_decimal(line.amount)})
            for line in record.lines
        ],
    }


def custody_json(record: CustodyRecord) -> dict[str, Any]:
    return {
        "index": record.index,
        "action": record.action,
        "from": record.source,
        "to": record.target,
        "amount": None if record.amount is None else format_decimal(record.amount),
    }


@router.get("/lots/{lot_id:path}/trace", summary="Upstream provenance of a lot")
async def lot_trace(
    store: StoreDep,
    settings: SettingsDep,
    lot_id: IdPath,
    cursor: Annotated[int, Query(ge=0, le=10_000)] = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    return await run_in_threadpool(
        _trace, store, "lot", _ident(lot_id), cursor, min(limit, settings.max_page)
    )


@router.get("/items/{item_id:path}/trace", summary="Upstream provenance of an item")
async def item_trace(
    store: StoreDep,
    settings: SettingsDep,
    item_id: IdPath,
    cursor: Annotated[int, Query(ge=0, le=10_000)] = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    return await run_in_threadpool(
        _trace, store, "item", _ident(item_id), cursor, min(limit, settings.max_page)
    )


def _trace(store: LedgerStore, kind: Kind, subject: str, cursor: int, limit: int) -> dict[str, Any]:
    page, payloads = store.trace(kind, subject, cursor=cursor, limit=limit)
    actor_ids = sorted({p["actor"] for p in payloads.values()})
    actors = []
    for actor_id in actor_ids:
        record, _ = store.actor(actor_id)
        actors.append(_actor_summary(record.profile))
    return {
        "root": {"kind": page.root[0], "id": page.root[1]},
        "nodes": [_node_json(n) for n in page.nodes],
        "events": [{"index": i, **_event_summary(p)} for i, p in payloads.items()],
        "actors": actors,
        "next_cursor": page.next_cursor,
        "truncated": page.truncated,
    }


def _node_json(node: TraceNode) -> dict[str, Any]:
    return {
        "kind": node.kind,
        "id": node.id,
        "depth": node.depth,
        "made_at_index": node.made_at,
        "inputs": [{"kind": k, "id": i, "mass_kg": m} for k, i, m in node.inputs],
    }


_SUMMARY_FIELDS = ("type", "actor", "time", "process", "material", "facility", "kind", "lot")


def _event_summary(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: payload[k] for k in _SUMMARY_FIELDS if k in payload}


def _actor_summary(profile: bytes) -> dict[str, Any]:
    p = json.loads(profile)
    return {
        "id": p["id"],
        "name": p["name"],
        "roles": p["roles"],
        "country": p["country"],
        "region": p.get("region"),
        "facilities": p.get("facilities", []),
    }


@router.get("/lots/{lot_id:path}", summary="A lot: what it is, who holds how much, in transit")
def get_lot(store: StoreDep, lot_id: IdPath) -> dict[str, Any]:
    view = store.lot(_ident(lot_id))
    return {
        **lot_json(view.record),
        "holders": [{"holder": h, "amount": a} for h, a in view.holders],
        "in_transit": [
            {"handover": {"sender": h.sender, "id": h.id}, "to": h.receiver, "amount": amount}
            for h, amount in view.in_transit
        ],
        "in_transit_complete": view.in_transit_complete,
        **_history("custody", store, view.record.id),
    }


@router.get("/items/{item_id:path}", summary="An item: owner, custodian, status, history")
def get_item(store: StoreDep, item_id: IdPath) -> dict[str, Any]:
    record = store.item(_ident(item_id))
    return {**item_json(record), **_history("history", store, record.id)}


def _history(name: str, store: LedgerStore, subject: str) -> dict[str, Any]:
    """The first ``HISTORY_LIMIT`` custody changes of ``subject`` as ``name``, and whether that
    is all of them (``{name}_complete``): one row more is read to know."""
    rows = store.custody_history(subject, limit=HISTORY_LIMIT + 1)
    return {
        name: [custody_json(c) for c in rows[:HISTORY_LIMIT]],
        f"{name}_complete": len(rows) <= HISTORY_LIMIT,
    }


@router.get("/actors/{actor_id}/holdings", summary="What an actor holds, owns and has in transit")
def get_holdings(
    store: StoreDep,
    settings: SettingsDep,
    actor_id: Annotated[str, Path(max_length=80)],
    limit: Limit = 100,
) -> dict[str, Any]:
    # Each list is read one row past the limit, so that a list cut at the limit is said to be
    # cut (``complete``) rather than passed off as all the actor holds.
    limit = min(limit, settings.max_page)
    held = store.holdings(actor_id, limit=limit + 1)
    lists = (held.lots, held.items, held.outgoing, held.incoming)
    return {
        "actor": actor_id,
        "lots": [
            {"lot": lot_json(record), "amount": amount, "unit": record.unit}
            for record, amount in held.lots[:limit]
        ],
        "items": [item_json(i) for i in held.items[:limit]],
        "outgoing": [handover_json(h) for h in held.outgoing[:limit]],
        "incoming": [handover_json(h) for h in held.incoming[:limit]],
        "complete": all(len(rows) <= limit for rows in lists),
    }
