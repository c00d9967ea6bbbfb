"""What to do about an event the ledger refused: the advice, and dropping it.

A refusal (4xx) of one event blocks the queue (``signer.client``); the refusal is recorded on
the event (``Queue.refuse``), and ``advice`` is the one clause naming what to do, which
``spola sync``, ``spola queue`` and ``spola queue drop`` all give. ``drop`` removes the event
and re-signs the later events of its feed, only if no request that may have put any of them in
the log went unanswered, and never for an event refused for its key — unknown, revoked, or
another actor's — whose feed the ledger refuses whole (``why_not_droppable``). A refused key
rotation is dropped alone: the new key's feed does not chain to it, and the operator registers
that key instead.

Functions over a ``Queue``: ``LedgerClient.advice``, ``why_not_droppable`` and ``drop`` call
them. This module does not talk to the ledger; the queue keeps what is dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from ledger.envelope import sign_envelope
from ledger.errors import FormatError
from ledger.events import encode_event
from ledger.feed import payload_digest
from ledger.keys import PrivateKey
from signer.errors import QueueError, SignerError
from signer.queue import PENDING, Queue, QueuedEvent

# Refused for its bytes alone (the ledger checks them before it looks for a logged copy): no
# request, however timed, could have logged such an event.
BYTES_REFUSED: Final = frozenset({"format"})
# 403 ``key-owner``, a key registered to another actor than the event claims: like
# ``unknown-key`` and ``revoked-key``, refused for its key (``_key_refusal``); the owner and the
# claim are the problem's members ``key_owner`` and ``claimed_actor`` (``Refusal.members``).
# A ledger from before ``key-owner`` answered this case with 403 ``signature``, no members, and
# this one sentence of ``ledger.registry.check_attribution`` as its detail. A queue keeps such
# refusals as they were answered (one stored by an earlier terminal is still blocking it), and
# a ledger and its terminals are upgraded each on its own: without this fallback their advice
# would be a drop that cures nothing. It reads the whole detail of a ``signature`` refusal
# only; any other ``signature`` is for the envelope's own bytes.
_EARLIER_KEY_OWNER: Final = re.compile(
    r"(?:envelopes\[\d{1,4}\]: )?key [0-9a-f]{64} belongs to (?P<owner>[^\s,]{1,200}), "
    r"but the event claims actor (?P<claim>[^\s,]{1,200})"
)


def advice(queue: Queue, event: QueuedEvent) -> str:
    """What to do about ``event``, refused by the ledger: the one clause ``sync``,
    ``queue`` and ``queue drop`` all give. A drop only where ``drop`` does it."""
    if (why_not := why_not_droppable(queue, event)) is not None:
        return why_not
    drop = f"`spola queue drop {event.position}` removes"
    if (new := _rotates_to(event)) is not None:
        assert event.refusal is not None  # why_not_droppable: only a refused event
        other = _other_actor(event)
        also = "" if other is None else f" and revokes the old one from {_owner(other)}"
        return (
            f"{drop} the rotation (kept in `spola queue --dropped`); then the operator "
            f"registers the terminal's new key {new[:16]}… (`spola key show`){also}, and "
            "the next sync sends its events"
        )
    later = len(queue.feed_after(event.key_id, event.seq))
    return f"{drop} it and re-signs the {later} later event(s) of its feed"


def why_not_droppable(queue: Queue, event: QueuedEvent) -> str | None:
    """None if ``event`` may be dropped and the rest of its feed re-signed; else why not,
    and what to do instead.

    Only an event the ledger definitively refused, and none that may be in the log: a
    re-signed seq beside a logged one would be an equivocation, and the ledger keeps that.
    A rotation refused for any reason may be dropped (its new key is then registered by
    the operator), but only as the last event of its feed: the old key signs nothing after
    it. Any other event refused for its key may not: its feed is refused whole.
    """
    where = f"queued event {event.position}"
    if (why_not := _refusal_problem(event)) is not None:
        return f"{where} {why_not}"
    assert event.refusal is not None
    later = queue.feed_after(event.key_id, event.seq)
    if (new := _rotates_to(event)) is not None:
        if later:
            return (
                f"{where} rotates the key to {new[:16]}…, and {len(later)} later event(s) "
                "of the old key's feed follow it: it cannot be dropped; ask the operator"
            )
    elif (why_not := _key_refusal(queue, event)) is not None:
        return f"{where} cannot be dropped: {why_not}"
    if any(e.state != PENDING for e in later):
        return f"later events of the feed of {where} are in the log: it cannot be dropped"
    if event.refusal.kind not in BYTES_REFUSED and any(
        e.sending or e.unanswered for e in (event, *later)
    ):
        return (
            f"{where} may be in the log (a request carrying it got no answer), so neither "
            "it nor the events after it can be re-signed; ask the operator"
        )
    return None


def _key_refusal(queue: Queue, event: QueuedEvent) -> str | None:
    """Why no drop helps an event refused for its key, and who must do what; None if it
    was refused for something else."""
    assert event.refusal is not None
    kind, key = event.refusal.kind, event.key_id
    actor = str(_fields(event).get("actor"))
    if kind == "unknown-key":
        if queue.rotated_to(key) is not None:
            where = f"`public_key` in retired-{key[:16]}.key"
        else:
            where = "`spola key show`"
        return (
            f"the ledger does not know its key {key}: once the operator registers it for "
            f"{actor} (`spola actor add-key`, its public key from {where}), the next sync "
            "sends it"
        )
    cured = (
        "the ledger refuses every event this key signed, so neither this event nor any "
        "queued after it can be sent, and re-signing them with that key cures nothing: keep "
        "this terminal's home (its queue holds them), and sign them again in a new home "
        f"with a new key (`spola key generate --home NEW --actor {actor}`) once the operator "
        "has registered that key (`spola actor add-key`)"
    )
    if kind == "revoked-key":
        return f"its key {key[:16]}… is revoked: {cured}"
    if (other := _other_actor(event)) is not None:
        owner, claim = other
        return (
            f"its key {key[:16]}… is registered to {owner or 'another actor'}, but the "
            f"events it signs claim {claim}, and a registered key cannot be moved to another "
            f"actor: the operator revokes it from {_owner(other)}; {cured}"
        )
    return None


def drop(queue: Queue, position: int, sign_with: Mapping[str, PrivateKey]) -> list[QueuedEvent]:
    """Drop the refused event at ``position``; re-sign each later pending event of its feed
    with its key (``sign_with[key_id]``), one seq lower, so that the feed is contiguous.
    Checked and done in one queue transaction, never while a sync runs (it may hold the
    old envelopes to send); the re-signed events, in feed order."""
    with queue.sync_lock(), queue.transaction():
        event = queue.event(position)
        if event is None:
            raise QueueError(f"no queued event at position {position}")
        if (why_not := why_not_droppable(queue, event)) is not None:
            raise QueueError(why_not)
        later = queue.feed_after(event.key_id, event.seq)
        key = sign_with.get(event.key_id)
        if later and (key is None or key.public_key.key_id != event.key_id):
            raise SignerError(f"no key {event.key_id[:16]}… to re-sign the events after it")
        prev = _prev(queue, event)
        resigned: list[tuple[QueuedEvent, bytes]] = []
        for old in later:
            fields = json.loads(old.envelope().payload)
            fields.update(seq=old.seq - 1, prev=prev)
            try:
                payload = encode_event(fields)
            except FormatError as exc:
                raise SignerError(
                    f"queued event {old.position} cannot be re-signed: {exc}"
                ) from None
            assert key is not None  # checked above: there are later events
            resigned.append((old, sign_envelope(payload, key).to_bytes()))
            prev = payload_digest(payload)
        next_seq = queue.feed_head(event.key_id)[0] - 1
        queue.drop(event, resigned, head=(next_seq, prev))
    return queue.feed_after(event.key_id, event.seq - 1)


def _prev(queue: Queue, event: QueuedEvent) -> str | None:
    """The ``prev`` ``event`` was signed with: the digest of the feed's event before it,
    as queued (not as its own payload reads: that may be what was damaged)."""
    if event.seq == 0:
        return None
    before = queue.feed_after(event.key_id, event.seq - 2)[:1]
    if not before or before[0].seq != event.seq - 1:  # every signed event stays queued
        raise SignerError(f"the event before queued event {event.position} is not queued")
    return payload_digest(before[0].envelope().payload)


def _refusal_problem(event: QueuedEvent) -> str | None:
    """Why the ledger's answer to ``event`` does not allow dropping it; None if it does."""
    if event.state != PENDING:
        return f"is in the log ({event.state.replace('_', ' ')}): it stays"
    if event.refusal is None:
        return "was not refused by the ledger: only a refused event can be dropped"
    return None


def _other_actor(event: QueuedEvent) -> tuple[str | None, str] | None:
    """(the key's owner, the actor the event claims) if the ledger refused ``event`` for a key
    registered to another actor — the owner None if the ledger did not name it; else None."""
    refusal = event.refusal
    assert refusal is not None
    if refusal.kind == "key-owner":
        claim = refusal.members.get("claimed_actor") or str(_fields(event).get("actor"))
        return refusal.members.get("key_owner"), claim
    if refusal.kind == "signature" and (said := _EARLIER_KEY_OWNER.fullmatch(refusal.detail)):
        return said["owner"], said["claim"]
    return None


def _owner(other: tuple[str | None, str]) -> str:
    """Whom the operator revokes the key from."""
    return other[0] or "the actor it is registered to"


def _rotates_to(event: QueuedEvent) -> str | None:
    """The key id ``event`` rotates its key to, if it is a ``key`` ``rotate``; else None."""
    if event.type != "key":
        return None
    payload = _fields(event)
    return str(payload.get("key_id")) if payload.get("op") == "rotate" else None


def _fields(event: QueuedEvent) -> dict[str, Any]:
    """The queued event's payload fields; none of a damaged entry (the advice still shows)."""
    try:
        fields = json.loads(event.envelope().payload)
    except (FormatError, ValueError):
        return {}
    return fields if isinstance(fields, dict) else {}
