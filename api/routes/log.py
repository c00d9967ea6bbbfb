"""The log's public face: checkpoint, key, entries and proofs (what any client can re-derive)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse

from api.deps import SettingsDep, StoreDep, given_once
from api.problems import BadRequest
from ledger.store.ledger import LedgerStore
from ledger.store.reads import StoredEntry

router = APIRouter(prefix="/v1/log", tags=["log"], dependencies=[Depends(given_once)])

NonNegative = Annotated[int, Query(ge=0, le=2**53 - 1)]
CHUNK = 64  # entries read from the database at once for a page


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    summary="Latest checkpoint (C2SP tlog-checkpoint signed note)",
)
def get_checkpoint(store: StoreDep) -> PlainTextResponse:
    return PlainTextResponse(store.latest_checkpoint().decode("utf-8"))


@router.get(
    "/key",
    response_class=PlainTextResponse,
    summary="The log's C2SP verifier key: name+hexkeyid+base64(0x01||pubkey)",
)
def get_key(store: StoreDep) -> PlainTextResponse:
    return PlainTextResponse(store.log_vkey + "\n")


@router.get("/entries", summary="Entries start <= index < end, with their exact bytes")
def get_entries(
    store: StoreDep,
    settings: SettingsDep,
    start: NonNegative = 0,
    end: Annotated[int | None, Query(ge=1, le=2**53)] = None,
) -> dict[str, Any]:
    stop = start + min(100, settings.max_page) if end is None else end
    if stop <= start:
        raise BadRequest(f"end ({stop}) must be greater than start ({start})")
    if stop - start > settings.max_page:
        raise BadRequest(f"at most {settings.max_page} entries per page (asked {stop - start})")
    rows, size = _page(store, start, stop, settings.max_body_bytes)
    return {
        "entries": [
            {
                "index": row.index,
                "entry": base64.b64encode(row.entry).decode("ascii"),
                "leaf_hash": row.leaf_hash.hex(),
                "chain_hash": row.chain_hash.hex(),
                "applied": row.applied,
                "violation": None
                if row.violation is None
                else {"rule": row.violation.rule, "detail": row.violation.detail},
                "logged_at": row.logged_at,
            }
            for row in rows
        ],
        "tree_size": size,
    }


def _page(
    store: LedgerStore, start: int, stop: int, max_bytes: int
) -> tuple[list[StoredEntry], int]:
    """Entries ``[start, stop)`` up to ``max_bytes`` of entry bytes (one entry at least), and
    the tree size. Read ``CHUNK`` entries at a time: an entry may be 256 KiB, so a page of a
    thousand read at once could hold 256 MiB before a byte of it is answered."""
    rows: list[StoredEntry] = []
    spent, size, at = 0, 0, start
    while at < stop:
        chunk, size = store.entries_page(at, min(at + CHUNK, stop))
        for row in chunk:
            if rows and spent + len(row.entry) > max_bytes:
                return rows, size
            spent += len(row.entry)
            rows.append(row)
        if len(chunk) < min(CHUNK, stop - at):  # the log ends inside the chunk
            break
        at += CHUNK
    return rows, size


def _leaf_hash(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise BadRequest("leaf_hash must be 32 bytes, as 64 hex digits or base64")
    return raw


@router.get("/proof/inclusion", summary="RFC 9162 inclusion proof, by index or leaf hash")
def get_inclusion(
    store: StoreDep,
    index: NonNegative | None = None,
    leaf_hash: Annotated[str | None, Query(max_length=88)] = None,
    size: Annotated[int | None, Query(ge=1, le=2**53)] = None,
) -> dict[str, Any]:
    if (index is None) == (leaf_hash is None):
        raise BadRequest("give exactly one of index or leaf_hash")
    leaf = None if leaf_hash is None else _leaf_hash(leaf_hash)
    found, tree, proof = store.inclusion_proof_at(index, size, leaf=leaf)
    return {"index": found, "size": tree, "proof": _b64(proof)}


@router.get("/proof/consistency", summary="RFC 9162 consistency proof between two tree sizes")
def get_consistency(
    store: StoreDep,
    first: Annotated[int, Query(ge=1, le=2**53, description="RFC 9162: 0 < first <= second")],
    second: Annotated[int | None, Query(ge=1, le=2**53)] = None,
) -> dict[str, Any]:
    tree, proof = store.consistency_proof_at(first, second)
    return {"first": first, "second": tree, "proof": _b64(proof)}


@router.get("/receipts/{index}", summary="The receipt of the entry at index, rebuilt from the log")
def get_receipt(store: StoreDep, index: Annotated[int, Path(ge=0, le=2**53 - 1)]) -> dict[str, Any]:
    return store.receipt(index).to_json()
