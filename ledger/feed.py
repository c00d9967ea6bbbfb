"""Feeds: each signing key chains its own events (DESIGN.md, Formats → Feeds).

A terminal signs offline, so the ledger cannot order its events; the terminal does. Event ``seq``
counts from 0 per key and ``prev`` is the hex SHA-256 of that key's previous payload (null at
seq 0). This module decides, from the feed's head and one new payload, whether the payload
continues the feed, repeats an event already logged, or contradicts one (equivocation).
Looking the head up is the store's job; the verifier replays the same function over a bundle.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum

from ledger.errors import EquivocationError, FeedError


def payload_digest(payload: bytes) -> str:
    """The hex SHA-256 that the next event of the same feed names as ``prev``."""
    return hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True)
class FeedHead:
    """The last event a key has in the log."""

    key_id: str
    seq: int
    digest: str  # payload_digest of the event at ``seq``
    index: int  # its log index

    @property
    def next_seq(self) -> int:
        return self.seq + 1


class Continuation(Enum):
    APPEND = "append"  # the next event of the feed
    DUPLICATE = "duplicate"  # exactly an event already logged: answer with its receipt


def check_continuation(
    head: FeedHead | None,
    *,
    key_id: str,
    seq: int,
    prev: str | None,
    digest: str,
    logged_digest: str | None = None,
    logged_index: int | None = None,
) -> Continuation:
    """Classify an event of feed ``key_id`` against the feed's head.

    ``logged_digest`` / ``logged_index`` describe the event already logged at (key_id, seq),
    when ``seq`` is below the head; the caller looks it up. Raises FeedError for a gap or a
    wrong ``prev``, EquivocationError for a different payload at a used seq.
    """
    next_seq = 0 if head is None else head.next_seq
    if seq < next_seq:
        if logged_digest is None or logged_index is None:
            raise FeedError(f"feed {key_id}: seq {seq} is logged but was not looked up")
        if logged_digest == digest:
            return Continuation.DUPLICATE
        raise EquivocationError(
            f"equivocation: key {key_id} already signed a different event at seq {seq} "
            f"(log index {logged_index}); the conflicting envelope is kept as evidence",
            key_id=key_id,
            seq=seq,
            existing_index=logged_index,
        )
    if seq > next_seq:
        raise FeedError(f"feed gap: key {key_id} expects seq {next_seq}, got {seq}")
    expected_prev = None if head is None else head.digest
    if prev != expected_prev:
        raise FeedError(
            f"feed fork: key {key_id} seq {seq} names prev {prev}, "
            f"but the previous event's digest is {expected_prev}"
        )
    return Continuation.APPEND
