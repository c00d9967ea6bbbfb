"""``POST /v1/entries``: submit one signed envelope or a batch, get receipts back; and each
entry's verdict: applied, or which domain rule it broke.

A body is bounded before it is parsed: in bytes (``api.limits``), and in JSON values, by its
commas and opening brackets (``api.body_bounds``: no more than a batch of ``max_batch``
envelopes has). It is parsed off the event loop, and an envelope's key ids must be spola key
ids before any is looked up or quoted back. Signatures are verified, and payloads parsed after
them, by the sequencer (``ledger.store.sequencer``). The keys whose envelopes the log appended
are told to the per-key rate limit (``api.ratelimit``), which charges those alone; a body it
has already parsed, within the same bounds, is not parsed again."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.body_bounds import MAX_DEPTH, bound_values
from api.deps import SettingsDep, StoreDep
from api.group_commit import GroupCommit
from api.problems import BadRequest
from api.ratelimit import PARSED_BODY, record_appended
from ledger.canonical import parse_json
from ledger.envelope import Envelope
from ledger.errors import FormatError, LedgerError, LimitError, RefusedEnvelope
from ledger.receipt import Receipt
from ledger.store.ledger import LedgerStore

router = APIRouter(prefix="/v1", tags=["log"])

# A spola key id: the lowercase hex SHA-256 of the public key (``ledger.keys.key_id``).
_KEY_ID: Final = re.compile(r"[0-9a-f]{64}")
_KEY_ID_SHOWN: Final = 16  # characters of a refused key id quoted back

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


def _envelope(item: Any) -> Envelope:
    """The envelope ``item`` is; refused if a signature names a key id no spola key has,
    before the sequencer looks it up and names it, whole, in its refusal."""
    envelope = Envelope.from_json(item)
    for i, signature in enumerate(envelope.signatures):
        if signature.keyid and not _KEY_ID.fullmatch(signature.keyid):
            keyid = signature.keyid
            shown = keyid if len(keyid) <= _KEY_ID_SHOWN else f"{keyid[:_KEY_ID_SHOWN]}…"
            raise FormatError(
                f"signatures[{i}].keyid must be a key id, 64 lowercase hex characters (the "
                f"SHA-256 of the public key), not {shown!r} ({len(keyid)} characters)"
            )
    return envelope


def _read(
    raw: bytes, store: LedgerStore, max_bytes: int, parsed: tuple[bytes, Any] | None
) -> tuple[list[Envelope], bool]:
    """The envelopes of a request body, and whether it is a batch; refusals as problems.
    ``parsed``: the body and its value, if the rate limit has parsed it."""
    bound_values(raw, store.sequencer.max_batch)
    if parsed is not None and parsed[0] == raw:
        return _envelopes(parsed[1], store)
    try:
        body = parse_json(raw, max_bytes=max_bytes, max_depth=MAX_DEPTH, what="body")
    except LimitError as exc:
        raise BadRequest(str(exc), status=413) from exc
    except FormatError as exc:
        raise BadRequest(str(exc)) from exc
    return _envelopes(body, store)


def _envelopes(body: Any, store: LedgerStore) -> tuple[list[Envelope], bool]:
    if not isinstance(body, dict):
        raise BadRequest('body must be a DSSE envelope or {"envelopes": [...]}')
    if "envelopes" not in body:
        return [_envelope(body)], False
    if set(body) != {"envelopes"} or not isinstance(body["envelopes"], list):
        raise BadRequest('a batch is {"envelopes": [...]} and nothing else')
    store.sequencer.check_batch_size(len(body["envelopes"]))  # before parsing any of them
    envelopes = []
    for position, item in enumerate(body["envelopes"]):
        try:
            envelopes.append(_envelope(item))
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
    # Off the event loop: an 8 MiB body takes milliseconds to parse, which no other request
    # of this process should wait for.
    parsed = request.scope.get("state", {}).get(PARSED_BODY)
    envelopes, batch = await run_in_threadpool(_read, raw, store, settings.max_body_bytes, parsed)
    if not batch:  # one envelope: it may share a batch with concurrent ones (api.group_commit)
        receipt = await _group_commit(request).submit(envelopes[0])
        record_appended(request.scope, envelopes, [receipt])
        return _single(receipt)
    receipts = await run_in_threadpool(store.append, envelopes)
    record_appended(request.scope, envelopes, receipts)
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
