"""Keys and actors: the registry projection of the log's ``key`` and ``actor`` events."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.deps import SettingsDep, StoreDep, given_once
from ledger.registry import ActorRecord, KeyRecord

router = APIRouter(prefix="/v1", tags=["registry"], dependencies=[Depends(given_once)])


def key_json(record: KeyRecord) -> dict[str, Any]:
    return {
        "key_id": record.key_id,
        "public_key": base64.b64encode(record.public_key).decode("ascii"),
        "actor": record.actor,
        "valid_from_index": record.valid_from_index,
        "revoked_at_index": record.revoked_at_index,
    }


def actor_json(record: ActorRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "roles": list(record.roles),
        "registered_at_index": record.registered_at_index,
        "updated_at_index": record.updated_at_index,
    }


@router.get("/keys/{key_id}", summary="A signing key and the log indices it is valid for")
def get_key(
    store: StoreDep, key_id: Annotated[str, Path(pattern="^[0-9a-f]{64}$")]
) -> dict[str, Any]:
    return key_json(store.key(key_id))


@router.get(
    "/actors",
    summary="Registered actors, in registration order; Link rel=next unless the last page",
)
def list_actors(
    request: Request,
    *,
    response: Response,
    store: StoreDep,
    settings: SettingsDep,
    offset: Annotated[int, Query(ge=0, le=2**53 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=2**53 - 1)] = 100,
) -> dict[str, Any]:
    # The page is cut to SPOLA_MAX_PAGE; one more actor than the page is read, so that a page
    # with more after it links to the next (RFC 8288) instead of looking like the last.
    page = min(limit, settings.max_page)
    found = store.actors(offset=offset, limit=page + 1)
    if len(found) > page:
        # On the public origin, as every link the service gives: not on the request's Host.
        query = request.url.include_query_params(offset=offset + page).query
        response.headers["Link"] = f'<{settings.public_base_url}/v1/actors?{query}>; rel="next"'
    return {"actors": [actor_json(a) for a in found[:page]]}


@router.get("/actors/{actor_id}", summary="One actor: signed profile and key history")
def get_actor(store: StoreDep, actor_id: Annotated[str, Path(max_length=80)]) -> dict[str, Any]:
    record, keys = store.actor(actor_id)
    return {
        **actor_json(record),
        "profile": json.loads(record.profile),
        "keys": [key_json(k) for k in keys],
    }
