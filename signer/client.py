"""``LedgerClient``: the workshop terminal's library — sign, queue, sync, and watch the ledger.

Signing: each event is checked locally against the ledger's own schemas (``encode_event``),
given its key's next ``seq`` and ``prev``, signed, and stored in the offline queue in one
transaction. Nothing needs the network.

Sync first checks that the ledger's latest checkpoint verifies with the log key this terminal
trusts (on first use, before that key is pinned): another server is sent nothing. It then sends
the queue in batches, oldest first (halved while the ledger answers 413), and for every answer:
1. the receipt's checkpoint must be signed by the log key this terminal trusts;
2. its inclusion proof must put this very envelope (its leaf hash) in that checkpoint's tree;
3. every checkpoint must be consistent (RFC 9162 §2.1.4) with the newest one this terminal has
   verified before — same size, same root; larger, a consistency proof; a new entry is never
   placed in a tree older than one already seen;
4. only then are the receipts and the newest checkpoint stored, in one transaction.
After the queue is empty the ledger's latest checkpoint is checked the same way, so a terminal
with nothing to send still notices a log that shrank or was rewritten. A read replica may trail
the primary for a moment: an older latest checkpoint, or a proof refused (400) for a tree it has
not replayed yet, is asked for again with the retry policy before it counts.
A failure of 1-3, a refusal of the terminal's own feed (409), or a wrong number of receipts is
an alarm: the ledger rewrote, forked or lost history, or the key signs elsewhere. The alarm is
stored, sync halts and stays halted until a person runs ``resume_after_alarm``.

A refusal (4xx) of one event — the ledger names its place in the batch, else the head is sent
alone to find out — sends the events before it first; the refusal is then recorded on the event
(``Queue.refuse``) and sync stops with ``BlockedQueueError``, one line naming the event and what
to do (``advice``, which ``spola queue`` and ``spola queue drop`` give too): ``drop`` removes it
and re-signs the later events of its feed, only if no request that may have put any of them in
the log went unanswered, and never for an event refused for its key — unknown, revoked, or
another actor's — whose feed the ledger refuses whole (``why_not_droppable``). A refused key
rotation is dropped alone: the new key's feed does not chain to it, and the operator registers
that key instead.

A crash at any point is safe: events are sent again until their receipts are stored, and the
ledger answers a repeat with its original receipt (``duplicate``).

A busy or flaky ledger: a timeout, a 5xx or a 429 is retried (``RetryPolicy``), waiting as long
as the ledger's ``Retry-After`` asks when it sends one (at most ``max_retry_after``); a 429 is
answered before the ledger reads the request, so its events are known not to be logged. A sync
given a ``deadline`` starts no request and no wait that would end past it (and its transport
ends a request under way there): it stops with ``DeadlineError``, and what it had no receipts
for stays queued. One sync runs on a queue at a time (``Queue.sync_lock``; a second is refused
with ``SyncBusyError``), and the checkpoint it trusts is only ever replaced by the sync that
read it (``Queue.trust``): two syncs can never move it back to an older tree, behind which a
fork would go unseen.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.envelope import sign_envelope
from ledger.errors import FormatError, LedgerError
from ledger.events import encode_event, event_time_now
from ledger.feed import payload_digest
from ledger.keys import PrivateKey
from ledger.proofs import verify_consistency
from ledger.receipt import Receipt
from signer.errors import (
    BlockedQueueError,
    DeadlineError,
    LedgerAlarm,
    NotSentError,
    NotSentInTimeError,
    QueueError,
    RateLimitedError,
    RefusedBatchError,
    RowError,
    SignerError,
    SyncHaltedError,
    TransportError,
)
from signer.keyfile import TerminalKey
from signer.queue import PENDING, Answer, Queue, QueuedEvent, Refusal

if TYPE_CHECKING:  # httpx is imported only by the commands that talk to a ledger
    from signer.transport import Transport

log = logging.getLogger(__name__)

T = TypeVar("T")
Progress = Callable[[int, int], None]
HEADER_FIELDS: Final = ("v", "actor", "seq", "prev")  # the terminal's to set, never a row's
DEFAULT_BATCH: Final = 100
# Problem types that refuse one envelope for what it is, or for its key (RFC 9457 ``type``).
EVENT_REFUSALS: Final = frozenset(
    {"format", "signature", "unknown-key", "revoked-key", "key-owner", "too-large"}
)
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


class _NotProvableYet(TransportError):
    """A proof refused (400) for a tree the ledger's read replica has not replayed yet."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base·2^n)),
    unless the ledger said how long (``Retry-After``): then that, at most ``max_retry_after``
    (a hostile or mistaken value must not stall a terminal for a day). ``clock`` is the one
    a sync's deadline is read on (``time.monotonic``); ``sleep`` waits on it."""

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    jitter: Callable[[], float] = field(default=random.random, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"a retry policy makes at least one attempt, not {self.attempts}")

    @classmethod
    def no_wait(cls, attempts: int = 6) -> RetryPolicy:
        """Retries without sleeping (tests, and a person pressing a button)."""
        return cls(attempts=attempts, sleep=lambda _: None)

    def delay(self, attempt: int) -> float:
        return float(self.jitter() * min(self.max_delay, self.base_delay * 2**attempt))

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: what the ledger asked, else backoff."""
        if retry_after is None or not math.isfinite(retry_after):
            return self.delay(attempt)
        return min(max(retry_after, 0.0), self.max_retry_after)


# A long sign's progress: the stage ("checked", then "signed"), rows done, rows in all.
SignProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SyncReport:
    sent: int = 0
    applied: int = 0
    not_applied: int = 0
    duplicates: int = 0
    tree_size: int = 0


@dataclass(frozen=True)
class Row:
    """An event to sign: its fields (without the header) and where it came from, for errors."""

    label: str  # "row 3", "--flags"
    fields: Mapping[str, Any]


class LedgerClient:
    def __init__(
        self,
        *,
        transport: Transport | None,
        key: TerminalKey | None,
        queue: Queue,
        log_vkey: str | None = None,
        batch_size: int = DEFAULT_BATCH,
        retry: RetryPolicy | None = None,
    ) -> None:
        """``key`` may be None to sync only; ``transport`` None to sign only (offline)."""
        if batch_size < 1:
            raise SignerError("batch size must be at least 1")
        self.transport = transport
        self.key = key
        self.queue = queue
        self.batch_size = batch_size
        self.retry = retry or RetryPolicy()
        self._log_vkey = log_vkey
        self._deadline: float | None = None  # on ``retry.clock``, while a sync runs

    # -- signing -----------------------------------------------------------------------------

    def _signing_key(self) -> TerminalKey:
        if self.key is None:
            raise SignerError("no key: unlock the terminal's key file to sign")
        return self.key

    def _payload(self, row: Row, seq: int, prev: str | None) -> bytes:
        key = self._signing_key()
        if present := [name for name in HEADER_FIELDS if name in row.fields]:
            raise RowError(f"{row.label}: {present[0]}: set by the terminal, not by the row")
        fields = {
            "v": 1,
            "actor": key.actor,
            "seq": seq,
            "prev": prev,
            **row.fields,
        }
        fields.setdefault("time", event_time_now())
        try:
            return encode_event(fields)
        except FormatError as exc:
            raise RowError(f"{row.label}: {exc}") from None

    def validate(self, rows: Sequence[Row], progress: SignProgress | None = None) -> None:
        """Check every row against the ledger's schemas; RowError names the first bad one."""
        for done, row in enumerate(rows, 1):
            self._payload(row, 0, None)
            if progress is not None:
                progress("checked", done, len(rows))

    def sign(self, rows: Sequence[Row], progress: SignProgress | None = None) -> list[int]:
        """Validate every row, then sign and queue them all in one transaction; positions.

        All or nothing: a bad row queues none, so a corrected file can be signed again.
        ``progress(stage, done, total)`` is told of each row "checked", then "signed".
        """
        key = self._signing_key()
        self.validate(rows, progress)
        positions = []
        key_id = key.key.public_key.key_id
        with self.queue.transaction():
            # Another command may have rotated this key since it was unlocked: an event after
            # the rotation is refused by the ledger, and holds up the whole queue behind it.
            if (successor := self.queue.rotated_to(key_id)) is not None:
                raise SignerError(
                    f"key {key_id[:16]}… was rotated to {successor[:16]}…: "
                    "sign with the terminal's new key"
                )
            for row in rows:
                seq, prev = self.queue.feed_head(key_id)
                payload = self._payload(row, seq, prev)
                positions.append(
                    self.queue.add(
                        key_id=key_id,
                        seq=seq,
                        kind=str(row.fields.get("type")),
                        envelope=sign_envelope(payload, key.key),
                        digest=payload_digest(payload),
                    )
                )
                if progress is not None:
                    progress("signed", len(positions), len(rows))
        return positions

    def rotate(self, new: PrivateKey, *, reason: str | None = None) -> int:
        """Queue a ``key`` ``rotate`` event signed by the current key; its queue position.

        The caller switches the terminal to ``new`` afterwards: the old key stops being valid
        once the ledger logs this event, and ``new`` starts its own feed at seq 0.
        """
        key = self._signing_key()
        fields: dict[str, Any] = {
            "type": "key",
            "op": "rotate",
            "subject": key.actor,
            "key_id": new.public_key.key_id,
            "public_key": new.public_key.to_base64(),
            "replaces": key.key.public_key.key_id,
        }
        if reason:
            fields["reason"] = reason
        return self.sign([Row(label="rotation", fields=fields)])[0]

    # -- sync --------------------------------------------------------------------------------

    def _transport(self) -> Transport:
        if self.transport is None:
            raise SignerError("no ledger to sync with")
        return self.transport

    def _retrying(self, what: str, call: Callable[[], T]) -> T:
        for attempt in range(self.retry.attempts):
            self._pause(0.0, f"no time left for {what}")
            try:
                return call()
            except NotSentInTimeError as exc:  # none left as the request was to go out
                raise self._stopped(str(exc)) from None
            except (TransportError, FormatError) as exc:
                # FormatError: an answer garbled on the way; nothing signed depends on it yet.
                if attempt + 1 == self.retry.attempts:
                    raise TransportError(
                        f"{what}: gave up after {self.retry.attempts} attempts: {exc}"
                    ) from exc
                asked = exc.retry_after if isinstance(exc, TransportError) else None
                wait = self.retry.wait(attempt, asked)
                self._pause(wait, f"{what} failed ({exc}); waiting {wait:.1f} s would end past it")
                log.warning("%s failed (%s); retrying in %.1f s", what, exc, wait)
                self.retry.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, wait: float, why: str) -> None:
        """Raise ``DeadlineError`` (``why``) if ``wait`` seconds from now is past the deadline."""
        if self._deadline is None or self.retry.clock() + wait < self._deadline:
            return
        raise self._stopped(why)

    def _stopped(self, why: str) -> DeadlineError:
        pending = self.queue.counts()[PENDING]
        return DeadlineError(
            f"sync stopped at its deadline: {why}; "
            f"{pending} event(s) still queued for the next sync"
        )

    def log_vkey(self) -> str:
        """The log key this terminal trusts: pinned in the queue, else given, else asked once."""
        pinned = self.queue.setting("log_vkey")
        if pinned is not None:
            if self._log_vkey is not None and self._log_vkey != pinned:
                raise SignerError(
                    f"this terminal trusts the log key {pinned}, not {self._log_vkey}"
                )
            return pinned
        vkey = self._log_vkey
        if vkey is None:
            vkey = self._retrying("fetching the log key", self._transport().log_key)
        # Pin only a key the ledger's own checkpoint verifies with: a mistyped --log-key, or a
        # page that is no ledger's, pinned for good would halt every sync with no way out.
        self._signs_with(vkey, "the key it states" if self._log_vkey is None else "--log-key")
        if self._log_vkey is None:
            log.warning("trusting log key %s on first use: compare it with the operator's", vkey)
        self.queue.set_setting("log_vkey", vkey)
        return vkey

    def _signs_with(self, vkey: str, whose: str) -> None:
        """Before anything is sent or trusted: the ledger's latest checkpoint verifies with
        ``vkey``. A server that does not is another one (a mistyped --ledger), not an alarm."""
        note = self._retrying("fetching the latest checkpoint", self._transport().checkpoint)
        try:
            verify_checkpoint(note, vkey)
        except LedgerError as exc:
            raise SignerError(
                f"the ledger's checkpoint does not verify with {whose} ({exc}): check --ledger "
                "and --log-key; nothing was sent or trusted"
            ) from None

    def _trusted(self, vkey: str) -> tuple[bytes, Checkpoint] | None:
        raw = self.queue.trusted_checkpoint()
        if raw is None:
            return None
        return raw, verify_checkpoint(raw, vkey)

    def halted(self) -> str | None:
        return self.queue.setting("halted")

    def resume_after_alarm(self) -> str | None:
        """A person has looked at the alarm and decided: lift the halt; the old reason.

        The checkpoint trusted before the alarm is forgotten too, so the next sync starts from
        what the ledger signs now. Every alarm stays in the queue's ``alarms`` record.
        """
        with self.queue.sync_lock():
            reason = self.halted()
            if reason is None:
                return None  # nothing to lift: forgetting the checkpoint would blind the terminal
            with self.queue.transaction():
                self.queue.clear_setting("halted")
                self.queue.clear_setting("checkpoint")
            return reason

    def sync(
        self, *, progress: Progress | None = None, deadline: float | None = None
    ) -> SyncReport:
        """Send every pending event; verify and store each receipt. Raises on the first stop.

        ``deadline``: an instant on ``retry.clock`` after which no request or wait starts
        (``DeadlineError``). Holds the queue's sync lock throughout (``SyncBusyError``)."""
        with self.queue.sync_lock():
            self._deadline = deadline
            try:
                return self._sync(progress)
            finally:
                self._deadline = None

    def _sync(self, progress: Progress | None) -> SyncReport:
        if reason := self.halted():
            raise SyncHaltedError(
                f"sync is halted by an alarm: {reason} "
                "(resolve it, then run `spola sync --resume-after-alarm`)"
            )
        first_use = self.queue.setting("log_vkey") is None
        vkey = self.log_vkey()  # on first use, checked before it is pinned
        if not first_use:
            self._signs_with(vkey, "the log key this terminal trusts")
        trusted = self._trusted(vkey)
        total = self.queue.counts()[PENDING]
        report = SyncReport(tree_size=0 if trusted is None else trusted[1].size)
        batch_size = self.batch_size
        while batch := self.queue.pending(limit=batch_size):
            try:
                receipts = self._submit(batch)
            except RefusedBatchError as exc:
                if exc.status == 413 and len(batch) > 1:
                    # Over the ledger's SPOLA_MAX_BATCH or body limit: halve until it fits.
                    batch_size = len(batch) // 2
                    log.warning("%s; sending %d events a request", exc, batch_size)
                    continue
                refused = self._refused_at(exc, len(batch))
                if refused is None:
                    raise
                if refused > 0:  # the events before it are sent first: it comes to the head
                    batch_size = refused
                    continue
                if len(batch) > 1 and exc.position is None:
                    batch_size = 1  # a ledger that does not say which: send the head alone
                    continue
                raise self._blocked(batch[0], exc) from exc
            try:
                answers, newest = self._verify(batch, receipts, vkey, trusted)
            except LedgerAlarm as alarm:
                self.queue.halt(str(alarm))
                log.error("ALARM: %s; sync is halted", alarm)
                raise
            self.queue.record(answers, newest[0])
            trusted = newest
            applied = sum(1 for a in answers if a.receipt.applied)
            report = SyncReport(
                sent=report.sent + len(batch),
                applied=report.applied + applied,
                not_applied=report.not_applied + len(batch) - applied,
                duplicates=report.duplicates + sum(1 for a in answers if a.receipt.duplicate),
                tree_size=trusted[1].size,
            )
            if progress is not None:
                progress(min(report.sent, total), max(total, report.sent))
        latest = self._watch(vkey, trusted)
        return dataclasses.replace(report, tree_size=latest.size)

    def _watch(self, vkey: str, trusted: tuple[bytes, Checkpoint] | None) -> Checkpoint:
        """Check the ledger's latest checkpoint against the trusted one, even with nothing to
        send: a log that shrank, forked or was rewritten since the last sync raises an alarm.

        A ledger with a read replica serves its checkpoint from there, which may trail the
        receipts the primary just signed: an older checkpoint is asked for again, with the
        retry policy's waits, and only a log still smaller after the last attempt has shrunk.
        """
        transport = self._transport()
        try:
            for attempt in range(self.retry.attempts):
                note = self._retrying("fetching the latest checkpoint", transport.checkpoint)
                try:
                    latest = verify_checkpoint(note, vkey)
                except LedgerError as exc:
                    raise LedgerAlarm(
                        f"the ledger's latest checkpoint does not verify: {exc}"
                    ) from exc
                if trusted is None or latest.size >= trusted[1].size:
                    break
                if attempt + 1 < self.retry.attempts:
                    wait = self.retry.delay(attempt)
                    self._pause(
                        wait,
                        f"waiting {wait:.1f} s more for the ledger's replica would end past it",
                    )
                    self.retry.sleep(wait)
            if trusted is not None:
                if latest.size < trusted[1].size:
                    raise LedgerAlarm(
                        f"the ledger's log shrank from {trusted[1].size} entries, as it signed "
                        f"before, to {latest.size}"
                    )
                self._check_consistent(trusted[1], latest)
        except LedgerAlarm as alarm:
            self.queue.halt(str(alarm))
            log.error("ALARM: %s; sync is halted", alarm)
            raise
        self.queue.trust(note)
        return latest

    @staticmethod
    def _refused_at(exc: RefusedBatchError, size: int) -> int | None:
        """The batch position of the one event a refusal is about; None if it is not about one
        event (a redirect, a refused request, a ledger that does not say which)."""
        if exc.status == 409 or not 400 <= exc.status < 500:
            return None
        if exc.position is not None:
            return exc.position if exc.position < size else None
        return 0 if exc.kind in EVENT_REFUSALS else None

    def _blocked(self, event: QueuedEvent, exc: RefusedBatchError) -> BlockedQueueError:
        """Record the ledger's refusal of the queue's head; the one line that says what now."""
        refusal = Refusal(status=exc.status, kind=exc.kind, detail=exc.detail, members=exc.members)
        self.queue.refuse(event.position, refusal)
        event = dataclasses.replace(event, refusal=refusal)
        what = (
            f"queued event {event.position} ({event.type}, seq {event.seq}) blocks the queue: "
            f"the ledger refused it ({refusal})"
        )
        return BlockedQueueError(
            f"{what}; {self.advice(event)}",
            status=exc.status,
            kind=exc.kind,
            detail=exc.detail,
            position=exc.position,
            members=exc.members,
        )

    # -- dropping a refused event ------------------------------------------------------------

    def advice(self, event: QueuedEvent) -> str:
        """What to do about ``event``, refused by the ledger: the one clause ``sync``,
        ``queue`` and ``queue drop`` all give. A drop only where ``drop`` does it."""
        if (why_not := self.why_not_droppable(event)) is not None:
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
        later = len(self.queue.feed_after(event.key_id, event.seq))
        return f"{drop} it and re-signs the {later} later event(s) of its feed"

    def why_not_droppable(self, event: QueuedEvent) -> str | None:
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
        later = self.queue.feed_after(event.key_id, event.seq)
        if (new := _rotates_to(event)) is not None:
            if later:
                return (
                    f"{where} rotates the key to {new[:16]}…, and {len(later)} later event(s) "
                    "of the old key's feed follow it: it cannot be dropped; ask the operator"
                )
        elif (why_not := self._key_refusal(event)) is not None:
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

    def _key_refusal(self, event: QueuedEvent) -> str | None:
        """Why no drop helps an event refused for its key, and who must do what; None if it
        was refused for something else."""
        assert event.refusal is not None
        kind, key = event.refusal.kind, event.key_id
        actor = str(_fields(event).get("actor"))
        if kind == "unknown-key":
            if self.queue.rotated_to(key) is not None:
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

    def drop(self, position: int, sign_with: Mapping[str, PrivateKey]) -> list[QueuedEvent]:
        """Drop the refused event at ``position``; re-sign each later pending event of its feed
        with its key (``sign_with[key_id]``), one seq lower, so that the feed is contiguous.
        Checked and done in one queue transaction, never while a sync runs (it may hold the
        old envelopes to send); the re-signed events, in feed order."""
        with self.queue.sync_lock(), self.queue.transaction():
            event = self.queue.event(position)
            if event is None:
                raise QueueError(f"no queued event at position {position}")
            if (why_not := self.why_not_droppable(event)) is not None:
                raise QueueError(why_not)
            later = self.queue.feed_after(event.key_id, event.seq)
            key = sign_with.get(event.key_id)
            if later and (key is None or key.public_key.key_id != event.key_id):
                raise SignerError(f"no key {event.key_id[:16]}… to re-sign the events after it")
            prev = self._prev(event)
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
            next_seq = self.queue.feed_head(event.key_id)[0] - 1
            self.queue.drop(event, resigned, head=(next_seq, prev))
        return self.queue.feed_after(event.key_id, event.seq - 1)

    def _prev(self, event: QueuedEvent) -> str | None:
        """The ``prev`` ``event`` was signed with: the digest of the feed's event before it,
        as queued (not as its own payload reads: that may be what was damaged)."""
        if event.seq == 0:
            return None
        before = self.queue.feed_after(event.key_id, event.seq - 2)[:1]
        if not before or before[0].seq != event.seq - 1:  # every signed event stays queued
            raise SignerError(f"the event before queued event {event.position} is not queued")
        return payload_digest(before[0].envelope().payload)

    def _submit(self, batch: Sequence[QueuedEvent]) -> list[Receipt]:
        transport = self._transport()
        envelopes = [event.envelope() for event in batch]
        positions = [event.position for event in batch]

        def send() -> list[Receipt]:
            self.queue.sending(positions)
            try:
                return transport.submit(envelopes)
            except (RateLimitedError, NotSentError):
                # Turned away unread, or never sent (no connection, no time left): none of
                # it is logged.
                self.queue.answered(positions)
                raise

        try:
            return self._retrying(f"sending {len(batch)} events", send)
        except RefusedBatchError as exc:
            self.queue.answered(positions)  # refused: the ledger wrote nothing of the batch
            if exc.status != 409:
                raise
            alarm = LedgerAlarm(
                f"the ledger refuses this terminal's own feed ({exc}): either it lost events it "
                "acknowledged, or this key signed elsewhere (a restored queue, a copied key)"
            )
            self.queue.halt(str(alarm))
            log.error("ALARM: %s; sync is halted", alarm)
            raise alarm from exc

    def _verify(
        self,
        batch: Sequence[QueuedEvent],
        receipts: Sequence[Receipt],
        vkey: str,
        trusted: tuple[bytes, Checkpoint] | None,
    ) -> tuple[list[Answer], tuple[bytes, Checkpoint]]:
        """Steps 1-3 of the module docstring; the answers and the newest checkpoint."""
        if len(receipts) != len(batch):
            raise LedgerAlarm(f"the ledger sent {len(receipts)} receipts for {len(batch)} events")
        seen: dict[bytes, Checkpoint] = {}
        indices: set[int] = set()
        answers = []
        for event, receipt in zip(batch, receipts, strict=True):
            what = f"queued event {event.position} (key {event.key_id[:16]}…, seq {event.seq})"
            try:
                checkpoint = receipt.verify(event.entry, vkey)
            except LedgerError as exc:
                raise LedgerAlarm(f"the receipt for {what} does not verify: {exc}") from exc
            if receipt.index in indices:
                raise LedgerAlarm(f"the ledger put two events at log index {receipt.index}")
            if trusted is not None and not receipt.duplicate and checkpoint.size < trusted[1].size:
                raise LedgerAlarm(
                    f"the ledger placed new {what} in a tree of {checkpoint.size} entries, "
                    f"older than the {trusted[1].size} it signed before"
                )
            indices.add(receipt.index)
            seen[receipt.checkpoint] = checkpoint
            answers.append(Answer(position=event.position, receipt=receipt))
        chain = sorted(
            [*seen.items(), *([trusted] if trusted is not None else [])],
            key=lambda pair: pair[1].size,
        )
        for older, newer in itertools.pairwise(chain):
            self._check_consistent(older[1], newer[1])
        return answers, chain[-1]

    def _check_consistent(self, older: Checkpoint, newer: Checkpoint) -> None:
        if older.size == newer.size:
            if older.root_hash != newer.root_hash:
                raise LedgerAlarm(
                    f"the ledger signed two different trees of {older.size} entries: a fork"
                )
            return
        if older.size == 0:
            return  # the empty tree is a prefix of every tree
        transport = self._transport()

        def fetch() -> list[bytes]:
            try:
                return transport.consistency_proof(older.size, newer.size)
            except RefusedBatchError as exc:
                if (exc.status, exc.kind) != (400, "proof"):
                    raise
                # A read replica that has not replayed the newer tree yet: ask again.
                raise _NotProvableYet(str(exc)) from exc

        try:
            proof = self._retrying("fetching a consistency proof", fetch)
            verify_consistency(older.size, newer.size, proof, older.root_hash, newer.root_hash)
        except DeadlineError:
            raise  # the terminal ran out of time: nothing the ledger said or signed
        except (RefusedBatchError, LedgerError) as exc:
            if isinstance(exc, TransportError) and not isinstance(exc.__cause__, _NotProvableYet):
                raise
            raise LedgerAlarm(
                f"the ledger's tree of {newer.size} entries does not extend the tree of "
                f"{older.size} it signed before (history rewritten, entries dropped or a "
                f"fork): {exc}"
            ) from exc


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
