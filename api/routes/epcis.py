"""GS1 EPCIS 2.0 export: ``GET /v1/epcis/events``, applied supply-chain events as JSON-LD.

The body is an ``EPCISDocument`` that validates against the EPCIS 2.0 JSON schema; the next
page, when there is one, is in the ``Link`` header (RFC 8288, ``rel="next"``), so the document
itself carries nothing the schema does not know. Mapping and namespaces: ``ledger.epcis``;
filters and paging: ``ledger.store.epcis``.

A parameter the route does not take, or one given twice, is refused rather than ignored: the
EPCIS 2.0 query interface's own names (``GE_eventTime``, ``MATCH_epc``) or a misspelt filter
would otherwise answer every event of the log, which the client takes for the subset it asked
for; of two values, which one counts would be a guess.
"""

from __future__ import annotations

import json
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request, Response

from api.deps import SettingsDep, StoreDep
from api.escapes import MAX_NAME, printable
from api.problems import BadRequest
from ledger.epcis import creation_date_now, epcis_document, subject_id
from ledger.store.epcis import EpcisFilter

router = APIRouter(prefix="/v1/epcis", tags=["EPCIS"])
EVENTS_PATH = "/v1/epcis/events"  # the next page's Link, on SPOLA_PUBLIC_BASE_URL

EPCIS_MEDIA_TYPE = "application/ld+json"
EPCIS_HEADERS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
Identifier = Annotated[str | None, Query(min_length=1, max_length=2048)]
Time = Annotated[str | None, Query(min_length=1, max_length=64)]
PARAMETERS: Final = ("actor", "item", "lot", "since", "until", "cursor", "limit")


def parameters_once(request: Request) -> None:
    """Refuse a query parameter ``get_events`` does not take, or one given more than once."""
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        shown = printable(name[:MAX_NAME])
        if name not in PARAMETERS:
            raise BadRequest(
                f"query.{shown}: not a parameter of {EVENTS_PATH}, "
                f"which takes {', '.join(PARAMETERS)}"
            )
        if name in seen:
            raise BadRequest(f"query.{shown}: given more than once; give it once")
        seen.add(name)


@router.get(
    "/events",
    summary="Applied supply-chain events as an EPCIS 2.0 document",
    response_class=Response,
    responses={200: {"content": {EPCIS_MEDIA_TYPE: {}}, "description": "An EPCISDocument"}},
    dependencies=[Depends(parameters_once)],
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
    # Read here first so that a malformed Digital Link names its parameter.
    item = None if item is None else subject_id(item, "query.item")
    lot = None if lot is None else subject_id(lot, "query.lot")
    where = EpcisFilter.parse(actor=actor, item=item, lot=lot, since=since, until=until)
    page = store.epcis_events(where, cursor=cursor, limit=min(limit, settings.max_page))
    headers = dict(EPCIS_HEADERS)
    if page.next_cursor is not None:
        # On the public origin, as every link the service gives: not on the request's Host.
        query = request.url.include_query_params(cursor=page.next_cursor).query
        headers["Link"] = f'<{settings.public_base_url}{EVENTS_PATH}?{query}>; rel="next"'
    body = json.dumps(epcis_document(page.events, creation_date_now()), ensure_ascii=False)
    return Response(body, media_type=EPCIS_MEDIA_TYPE, headers=headers)
