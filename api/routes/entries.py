"""``POST /v1/entries``: submit one signed envelope or a batch, get receipts back; and each
entry's verdict: applied, or which domain rule it broke."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import SettingsDep, StoreDep
from api.group_commit import GroupCommit
from api.problems import BadRequest
from ledger.canonical import parse_json
from ledger.envelope import Envelope
from ledger.errors import FormatError, LedgerError, LimitError, RefusedEnvelope
from ledger.receipt import Receipt
from ledger.store.ledger import LedgerStore

router = APIRouter(prefix="/v1", tags=["log"])

_ENVELOPE_SCHEMA = {
    "type": "object",
    "required": ["payloadType", "payload", "signatures"],
    "properties": {
        "payloadType": {"type": "string", "example": "application/vnd.spola.event+json"},
        "payload": {"type": "string", "description": "base64 of the RFC 8785 payload bytes"},
        "signatures": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sig", "keyid"],
                "properties": {"keyid": {"type": "string"}, "sig": {"type": "string"}},
            },
        },
    },
}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        _ENVELOPE_SCHEMA,
                        {
                            "type": "object",
                            "required": ["envelopes"],
                            "properties": {
                                "envelopes": {"type": "array", "items": _ENVELOPE_SCHEMA}
                            },
                        },
                    ]
                }
            }
        },
    }
}


def _envelopes(body: Any, store: LedgerStore) -> tuple[list[Envelope], bool]:
    if not isinstance(body, dict):
        raise BadRequest('body must be a DSSE envelope or {"envelopes": [...]}')
    if "envelopes" not in body:
        return [Envelope.from_json(body)], False
    if set(body) != {"envelopes"} or not isinstance(body["envelopes"], list):
        raise BadRequest('a batch is {"envelopes": [...]} and nothing else')
    store.sequencer.check_batch_size(len(body["envelopes"]))  # before parsing any of them
    envelopes = []
    for position, item in enumerate(body["envelopes"]):
        try:
            envelopes.append(Envelope.from_json(item))
        except LedgerError as exc:
            raise RefusedEnvelope(position, exc) from exc
    return envelopes, True


@router.post(
    "/entries",
    summary="Append signed events",
    description=(
        'Submit one DSSE envelope, or `{"envelopes": [...]}`, each signed by a registered key. '
        'A batch is admitted atomically. The answer is the receipt (or `{"receipts": [...]}`): '
        "log index, leaf hash, the checkpoint that covers the entry and the inclusion proof."
    ),
    openapi_extra=_BODY,
    status_code=201,
)
async def post_entries(request: Request, store: StoreDep, settings: SettingsDep) -> JSONResponse:
    raw = await request.body()
    try:
        body = parse_json(raw, max_bytes=settings.max_body_bytes, max_depth=8, what="body")
    except LimitError as exc:
        raise BadRequest(str(exc), status=413) from exc
    except FormatError as exc:
        raise BadRequest(str(exc)) from exc
    envelopes, batch = _envelopes(body, store)
    if not batch:  # one envelope: it may share a batch with concurrent ones (api.group_commit)
        return _single(await _group_commit(request).submit(envelopes[0]))
    receipts = await run_in_threadpool(store.append, envelopes)
    return JSONResponse({"receipts": [r.to_json() for r in receipts]}, status_code=200)


def _group_commit(request: Request) -> GroupCommit:
    collector: GroupCommit = request.app.state.group_commit
    return collector


def _single(receipt: Receipt) -> JSONResponse:
    return JSONResponse(
        receipt.to_json(),
        status_code=200 if receipt.duplicate else 201,
        headers={"Location": f"/v1/log/entries?start={receipt.index}&end={receipt.index + 1}"},
    )


@router.get(
    "/entries/{index}/verdict",
    summary="Whether the entry's event was applied, and if not which rule it broke",
)
def get_verdict(store: StoreDep, index: Annotated[int, Path(ge=0, le=2**53 - 1)]) -> dict[str, Any]:
    stored = store.verdict(index)
    payload = json.loads(Envelope.from_bytes(stored.entry).payload)
    return {
        "index": index,
        "type": payload.get("type"),
        "actor": payload.get("actor"),
        "applied": stored.applied,
        "violation": None
        if stored.violation is None
        else {"rule": stored.violation.rule, "detail": stored.violation.detail},
        "logged_at": stored.logged_at,
    }
