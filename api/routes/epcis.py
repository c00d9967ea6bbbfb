"""GS1 EPCIS 2.0 export: ``GET /v1/epcis/events``, applied supply-chain events as JSON-LD.

The body is an ``EPCISDocument`` that validates against the EPCIS 2.0 JSON schema; the next
page, when there is one, is in the ``Link`` header (RFC 8288, ``rel="next"``), so the document
itself carries nothing the schema does not know. Mapping and namespaces: ``ledger.epcis``;
filters and paging: ``ledger.store.epcis``.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.deps import SettingsDep, StoreDep
from ledger.epcis import creation_date_now, epcis_document
from ledger.store.epcis import EpcisFilter

router = APIRouter(prefix="/v1/epcis", tags=["EPCIS"])
EVENTS_PATH = "/v1/epcis/events"  # the next page's Link, on SPOLA_PUBLIC_BASE_URL

EPCIS_MEDIA_TYPE = "application/ld+json"
EPCIS_HEADERS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
Identifier = Annotated[str | None, Query(min_length=1, max_length=2048)]
Time = Annotated[str | None, Query(min_length=1, max_length=64)]


@router.get(
    "/events",
    summary="Applied supply-chain events as an EPCIS 2.0 document",
    response_class=Response,
    responses={200: {"content": {EPCIS_MEDIA_TYPE: {}}, "description": "An EPCISDocument"}},
)
def get_events(
    request: Request,
    *,
    store: StoreDep,
    settings: SettingsDep,
    actor: Annotated[str | None, Query(min_length=1, max_length=80)] = None,
    item: Identifier = None,
    lot: Identifier = None,
    since: Time = None,
    until: Time = None,
    cursor: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> Response:
    where = EpcisFilter.parse(actor=actor, item=item, lot=lot, since=since, until=until)
    page = store.epcis_events(where, cursor=cursor, limit=min(limit, settings.max_page))
    headers = dict(EPCIS_HEADERS)
    if page.next_cursor is not None:
        # On the public origin, as every link the service gives: not on the request's Host.
        query = request.url.include_query_params(cursor=page.next_cursor).query
        headers["Link"] = f'<{settings.public_base_url}{EVENTS_PATH}?{query}>; rel="next"'
    body = json.dumps(epcis_document(page.events, creation_date_now()), ensure_ascii=False)
    return Response(body, media_type=EPCIS_MEDIA_TYPE, headers=headers)
