"""GS1 EPCIS 2.0 export: applied supply-chain events as EPCIS events, CBV 2.0 hashes as IDs.

One applied spola event becomes one EPCIS event (two for a recycling that makes lots):
``ledger.epcis_mapping`` and ``ledger.epcis_custody`` build them, ``ledger.epcis_hash`` computes
each ``eventID``, and this module puts them together and into an ``EPCISDocument``. The
document's ``@context`` is the EPCIS 2.0 context and the ``spola`` prefix of the namespace
``urn:spola:ns:epcis:``, which holds every fact EPCIS has no field for; there is no
``@vocab``. docs/formats.md describes the mapping and the reasons for each CBV term.

Pure: the caller reads the log (``ledger.store.epcis``) and passes payloads and actor profiles.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import ValidationError

from ledger.canonical import canonical_bytes
from ledger.epcis_custody import handover_events, lifecycle_events, receipt_events
from ledger.epcis_hash import event_hash
from ledger.epcis_mapping import (
    Actors,
    Event,
    epc,
    location,
    material_events,
    party,
    process_events,
    quantity,
)
from ledger.errors import FormatError
from ledger.feed import payload_digest
from ledger.identifiers import DigitalLink
from ledger.supply import HandoverEvent, LifecycleEvent, MaterialEvent, ProcessEvent, ReceiptEvent

__all__ = [
    "CONTEXT",
    "EXPORTED_TYPES",
    "SPOLA_NAMESPACE",
    "actors_named",
    "creation_date_now",
    "document_chunks",
    "epc",
    "epcis_document",
    "event_hash",
    "location",
    "party",
    "quantity",
    "subject_id",
    "time_bound",
    "to_epcis_event",
]

EPCIS_CONTEXT_URL: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SPOLA_NAMESPACE: Final = "urn:spola:ns:epcis:"
CONTEXT: Final[list[Any]] = [EPCIS_CONTEXT_URL, {"spola": SPOLA_NAMESPACE}]
SCHEMA_VERSION: Final = "2.0"
EXPORTED_TYPES: Final = ("material", "process", "handover", "receipt", "lifecycle")
# RFC 3339 §5.6 date-time, once upper-cased: full-date "T" partial-time time-offset.
_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_MODELS: Final[dict[str, type[Any]]] = {
    "material": MaterialEvent,
    "process": ProcessEvent,
    "handover": HandoverEvent,
    "receipt": ReceiptEvent,
    "lifecycle": LifecycleEvent,
}


def subject_id(text: str, what: str | None = None) -> str:
    """A lot or item as the ledger stores it, from a URN, a Digital Link path or URI.

    ``what`` names the filter in the FormatError of a malformed Digital Link, so that a client
    giving both an item and a lot learns which of the two is wrong."""
    if text.startswith("urn:"):
        return text
    try:
        return DigitalLink.parse(text).path()
    except FormatError as exc:
        if what is None:
            raise
        raise FormatError(f"{what}: {exc}") from None


def time_bound(text: str, what: str) -> datetime:
    """A ``since``/``until`` filter: an RFC 3339 date-time with its offset."""
    instant = None
    # fromisoformat() takes far more than RFC 3339 (week dates, basic format, no seconds) and
    # not its lower-case "t" and "z" (§5.6): the grammar is checked first, on the upper case.
    if _RFC3339.fullmatch(text.upper()):
        try:
            instant = datetime.fromisoformat(text.upper())
        except ValueError:
            instant = None  # a month 13, a 25th hour, a leap second
    if instant is None:
        hint = ""
        if " " in text and _RFC3339.fullmatch(text.upper().replace(" ", "+")):
            # A query string decodes '+' as a space (HTML form encoding): "+01:00" arrived so.
            hint = "; in a query string write the offset's '+' as %2B"
        raise FormatError(
            f"{what}: {text!r} is not an RFC 3339 date-time such as 2026-11-26T09:30:00Z{hint}"
        )
    return instant


# -- the export --------------------------------------------------------------------------------


def actors_named(payload: Mapping[str, Any]) -> set[str]:
    """The actors whose profiles ``to_epcis_event`` reads for ``payload``."""
    named = {payload["actor"]}
    if isinstance(payload.get("to"), str):
        named.add(payload["to"])
    handover = payload.get("handover")
    if isinstance(handover, Mapping) and isinstance(handover.get("sender"), str):
        named.add(handover["sender"])
    return named


def _parse(payload: Mapping[str, Any]) -> Any:
    kind = payload.get("type")
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise FormatError(
            f"type: {kind!r} is not exported to EPCIS (only {', '.join(EXPORTED_TYPES)})"
        )
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise FormatError(f"{kind} event: {exc.errors()[0]['msg']}") from None


def to_epcis_event(
    index: int,
    payload: Mapping[str, Any],
    actors: Actors,
    *,
    handover: Mapping[str, Any] | None = None,
) -> list[Event]:
    """The EPCIS events for the applied event at log ``index`` (its signed ``payload``).

    ``actors`` maps actor URNs to their signed profiles (``actor`` payloads) as they stood at
    ``index``; a receipt also needs the ``handover`` payload it answers. Each event's
    ``eventID`` is its CBV 2.0 event hash.
    """
    e = _parse(payload)
    if isinstance(e, MaterialEvent):
        events = material_events(e, actors)
    elif isinstance(e, ProcessEvent):
        events = process_events(e, actors)
    elif isinstance(e, HandoverEvent):
        events = handover_events(e, actors)
    elif isinstance(e, ReceiptEvent):
        if handover is None:
            raise FormatError("a receipt is exported with the handover it answers")
        answered = _parse(handover)
        if not isinstance(answered, HandoverEvent) or (answered.actor, answered.id) != (
            e.handover.sender,
            e.handover.id,
        ):
            raise FormatError(f"the handover given is not {e.handover.sender} {e.handover.id}")
        events = receipt_events(e, actors, answered)
    else:
        events = lifecycle_events(e, actors)
    facts = {
        "spola:logIndex": index,
        "spola:eventType": e.type,
        "spola:actor": e.actor,
        "spola:payloadDigest": "sha-256:" + payload_digest(canonical_bytes(dict(payload))),
    }
    return [_identified(event | facts) for event in events]


def _identified(event: Event) -> Event:
    return {"type": event["type"], "eventID": event_hash(event, context=CONTEXT)} | event


def creation_date_now() -> str:
    """The current instant as an EPCIS ``creationDate`` (UTC, milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epcis_document(events: list[Event], creation_date: str) -> dict[str, Any]:
    """An ``EPCISDocument`` (EPCIS 2.0 JSON-LD) holding ``events``."""
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": SCHEMA_VERSION,
        "creationDate": creation_date,
        "epcisBody": {"eventList": events},
    }


def document_chunks(events: Iterable[Event], creation_date: str) -> Iterator[str]:
    """``epcis_document`` as JSON text, piece by piece, for exports too large to hold at once."""
    head = epcis_document([], creation_date)
    del head["epcisBody"]
    members = "".join(f"{json.dumps(k)}: {json.dumps(v)}, " for k, v in head.items())
    yield "{" + members + '"epcisBody": {"eventList": ['
    separator = "\n"
    for event in events:
        yield separator + json.dumps(event, ensure_ascii=False)
        separator = ",\n"
    yield "\n]}}\n"
