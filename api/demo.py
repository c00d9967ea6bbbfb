"""The demo supply chain, signed by each workshop's own terminal key and appended through the
same path as every client's events (``LedgerStore.append``, as ``POST /v1/entries``).

``api.demo_cast``, ``api.demo_story`` and ``api.demo_events`` hold the story: ten fictional
workshops "(demo)" in real towns of the Lombardy fashion district and beyond, and one 2026
season of their events, from organic silk in Como to a recycled-wool cloth back in Biella, with
one refused double spend. This module registers the actors and their keys (the operator's
events), signs the story and appends it.

Idempotent and resumable:
- an actor already registered is not registered again (its profile is updated only if the
  demo's differs); a key already registered is not added again;
- the terminal keys live in ``$SPOLA_HOME/demo-keys/``, so a rerun signs with the same keys,
  and every story event has a fixed time, seq and prev: Ed25519 signatures are deterministic,
  so a rerun produces the very envelopes already logged, and the log answers each with its
  original receipt (``Receipt.duplicate``). A run that stopped halfway continues where it
  stopped; a complete one appends nothing.

A database whose demo actors hold keys that are not in ``demo-keys/`` (another home seeded it)
cannot be continued: ``DemoError`` says so instead of forking their feeds. A story edited after
it was logged (an older checkout seeded the database) would sign different events at seqs
already used, which the log keeps as equivocation evidence: ``DemoError`` says so before any of
it is appended, and an edited story is seeded into an empty database.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any, Final

from api.demo_cast import DEMO_ACTORS, SILK_MILL, DemoActor
from api.demo_events import Step
from api.demo_story import story
from api.operator import write_private
from ledger.envelope import Envelope, sign_envelope
from ledger.errors import LedgerError, NotFoundError
from ledger.events import encode_event
from ledger.feed import payload_digest
from ledger.keys import PrivateKey
from ledger.receipt import Receipt
from ledger.registry import ActorRecord
from ledger.store.ledger import LedgerStore

log = logging.getLogger(__name__)

BATCH: Final = 20  # envelopes per append: a stopped run loses at most one batch of work
ROTATING: Final = SILK_MILL  # the terminal that rotates its key before the season starts
ROTATION_TIME: Final = "2026-03-02T07:30:00Z"


class DemoError(LedgerError):
    """The demo cannot continue in this database with the keys in this home."""


def _terminal_key(home: Path, slug: str, generation: int) -> PrivateKey:
    folder = home / "demo-keys"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{slug}.{generation}.key"
    if path.exists():
        return PrivateKey.from_seed(base64.b64decode(path.read_text().strip()))
    key = PrivateKey.generate()
    write_private(path, base64.b64encode(key.seed).decode() + "\n")
    return key


def _signing_key(home: Path, slug: str) -> PrivateKey:
    """The key an actor's terminal signs the story with (after the rotation, for ROTATING)."""
    return _terminal_key(home, slug, 1 if slug == ROTATING else 0)


# -- the registry: the operator's events ------------------------------------------------------


def _registered(store: LedgerStore, actor: DemoActor) -> tuple[ActorRecord | None, set[str]]:
    try:
        record, keys = store.actor(actor.id)
    except NotFoundError:
        return None, set()
    return record, {k.key_id for k in keys}


def _same_profile(record: ActorRecord, wanted: dict[str, Any]) -> bool:
    signed = json.loads(record.profile)
    return {name: signed.get(name) for name in wanted} == wanted


def _add_key(store: LedgerStore, actor: DemoActor, key: PrivateKey) -> None:
    store.operator_event(
        {
            "type": "key",
            "op": "add",
            "subject": actor.id,
            "key_id": key.public_key.key_id,
            "public_key": key.public_key.to_base64(),
        }
    )


def _rotate(store: LedgerStore, actor: DemoActor, old: PrivateKey, new: PrivateKey) -> None:
    """The terminal rotates its own key: the first event of the old key's feed, signed by it."""
    fields: dict[str, Any] = {
        "v": 1,
        "type": "key",
        "actor": actor.id,
        "seq": 0,
        "prev": None,
        "time": ROTATION_TIME,
        "op": "rotate",
        "subject": actor.id,
        "key_id": new.public_key.key_id,
        "public_key": new.public_key.to_base64(),
        "replaces": old.public_key.key_id,
    }
    store.append([sign_envelope(encode_event(fields), old)])
    log.info("demo: %s rotated its terminal key", actor.id)


def enrol_actors(store: LedgerStore, home: Path) -> int:
    """Register the demo actors and their terminal keys where missing; entries appended."""
    appended = 0
    for actor in DEMO_ACTORS:
        record, keys = _registered(store, actor)
        wanted = actor.profile()
        if record is None:
            store.operator_event({"type": "actor", "op": "register", **wanted})
            appended += 1
        elif not _same_profile(record, wanted):
            store.operator_event({"type": "actor", "op": "update", **wanted})
            appended += 1
        first = _terminal_key(home, actor.slug, 0)
        if not keys:
            _add_key(store, actor, first)
            appended += 1
        elif first.public_key.key_id not in keys:
            raise DemoError(
                f"{actor.id} is registered with keys that are not in {home / 'demo-keys'}; "
                "seed the demo into an empty database, or with the home that seeded it"
            )
        if actor.slug == ROTATING:
            second = _terminal_key(home, actor.slug, 1)
            if second.public_key.key_id not in keys:
                _rotate(store, actor, first, second)
                appended += 1
    return appended


# -- the story: the terminals' events ---------------------------------------------------------


def story_envelopes(home: Path) -> list[tuple[Step, Envelope]]:
    """Every story event signed by its actor's terminal, each feed chained from seq 0.

    The same home gives the same envelopes, byte for byte, on every call.
    """
    keys: dict[str, PrivateKey] = {}
    heads: dict[str, tuple[int, str | None]] = {}
    signed = []
    for step in story():
        if step.actor not in keys:
            keys[step.actor] = _signing_key(home, step.actor)
        seq, prev = heads.get(step.actor, (0, None))
        header = {"v": 1, "actor": f"urn:spola:actor:{step.actor}", "seq": seq, "prev": prev}
        payload = encode_event({**header, "time": step.time, **step.fields})
        signed.append((step, sign_envelope(payload, keys[step.actor])))
        heads[step.actor] = (seq + 1, payload_digest(payload))
    return signed


def _describe(step: Step) -> str:
    fields = step.fields
    names = (fields.get(k) for k in ("id", "kind", "process", "lot", "handover"))
    what = next((n["id"] if isinstance(n, dict) else n for n in names if n), "")
    return f"{fields['type']} {what} by urn:spola:actor:{step.actor}"


def _report(step: Step, receipt: Receipt) -> None:
    """Say what a new entry's verdict means for the story (nothing when all went as planned)."""
    violation = receipt.violation
    rule = None if violation is None else violation.rule
    if rule != step.refused:
        log.warning(
            "demo: entry %d, %s, has verdict %s where the story expects %s",
            receipt.index,
            _describe(step),
            rule or "applied",
            step.refused or "applied",
        )
    elif violation is not None:
        log.warning(
            "demo: entry %d, %s, is logged but not applied, as the story plans: rule %s: %s "
            "(GET /v1/entries/%d/verdict)",
            receipt.index,
            _describe(step),
            violation.rule,
            violation.detail,
            receipt.index,
        )


def append_story(store: LedgerStore, signed: list[tuple[Step, Envelope]]) -> int:
    """Append the signed story in batches; the number of entries that were new."""
    appended = 0
    size = min(BATCH, store.sequencer.max_batch)
    for start in range(0, len(signed), size):
        chunk = signed[start : start + size]
        receipts = store.append([envelope for _, envelope in chunk])
        for (step, _), receipt in zip(chunk, receipts, strict=True):
            if not receipt.duplicate:
                appended += 1
                _report(step, receipt)
    return appended


def refuse_edited_story(store: LedgerStore, signed: list[tuple[Step, Envelope]]) -> None:
    """Refuse a story that differs from the one this database logged, before any of it is
    appended: its events would sign seqs already used, and the log would keep each as evidence
    of equivocation against the demo's workshops. Each feed's logged head must be the story's
    event at that seq (its digest chains every event before it)."""
    story_digests: dict[str, dict[int, tuple[str, Step]]] = {}
    for step, envelope in signed:
        seq = json.loads(envelope.payload)["seq"]
        feed = story_digests.setdefault(envelope.signatures[0].keyid, {})
        feed[seq] = (payload_digest(envelope.payload), step)
    heads = store.feed_heads(set(story_digests))
    for key_id, head in sorted(heads.items()):
        told = story_digests[key_id].get(head.seq)
        if told is None or told[0] != head.digest:
            # The story's actor of this key (a key the story signs with has an event in it).
            actor = f"urn:spola:actor:{next(iter(story_digests[key_id].values()))[1].actor}"
            raise DemoError(
                f"this database holds another version of the demo story ({actor}'s event at "
                f"seq {head.seq}, log index {head.index}, differs from this one's): seed the "
                "demo into an empty database (a new SPOLA_DATABASE_URL, or remove the old file)"
            )


def seed_demo(store: LedgerStore, home: Path) -> int:
    """Register the demo actors and keys, append the story; the number of entries appended."""
    signed = story_envelopes(home)
    refuse_edited_story(store, signed)
    appended = enrol_actors(store, home)
    return appended + append_story(store, signed)
