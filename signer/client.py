"""``LedgerClient``: the workshop terminal's library — sign, queue, sync, and watch the ledger.

Signing: each event is checked locally against the ledger's own schemas (``encode_event``),
given its key's next ``seq`` and ``prev``, signed, and stored in the offline queue in one
transaction. Nothing needs the network.

Sync checks the ledger it talks to, then sends the queue in batches, oldest first (halved while
the ledger answers 413), and stores each batch's receipts only once they and their checkpoints
verify, and finally watches the ledger's latest checkpoint (``signer.trust``: the steps). A
failure of those checks, a refusal of the terminal's own feed (409), or a wrong number of
receipts is an alarm: the ledger rewrote, forked or lost history, or the key signs elsewhere.
The alarm is stored, sync halts and stays halted until a person runs ``resume_after_alarm``.

A refusal (4xx) of one event — the ledger names its place in the batch, else the head is sent
alone to find out — sends the events before it first; the refusal is then recorded on the event
(``Queue.refuse``) and sync stops with ``BlockedQueueError``, one line naming the event and what
to do (``advice``; ``signer.refusals`` owns it and ``drop``).

A crash at any point is safe: events are sent again until their receipts are stored, and the
ledger answers a repeat with its original receipt (``duplicate``).

A busy or flaky ledger is retried, and a sync given a ``deadline`` stops at it
(``signer.retry``). One sync runs on a queue at a time (``Queue.sync_lock``; a second is refused
with ``SyncBusyError``), and the checkpoint it trusts is only ever replaced by the sync that
read it (``Queue.trust``): two syncs can never move it back to an older tree, behind which a
fork would go unseen.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ledger.envelope import sign_envelope
from ledger.errors import FormatError
from ledger.events import encode_event, event_time_now
from ledger.feed import payload_digest
from ledger.keys import PrivateKey
from ledger.receipt import Receipt
from signer import refusals
from signer.errors import (
    BlockedQueueError,
    LedgerAlarm,
    NotSentError,
    RateLimitedError,
    RefusedBatchError,
    RowError,
    SignerError,
    SyncHaltedError,
)
from signer.keyfile import TerminalKey
from signer.queue import PENDING, Queue, QueuedEvent, Refusal
from signer.retry import RetryPolicy
from signer.trust import LedgerChecks

if TYPE_CHECKING:  # httpx is imported only by the commands that talk to a ledger
    from signer.transport import Transport

__all__ = ["LedgerClient", "RetryPolicy", "Row", "SyncReport"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
HEADER_FIELDS: Final = ("v", "actor", "seq", "prev")  # the terminal's to set, never a row's
DEFAULT_BATCH: Final = 100
# Problem types that refuse one envelope for what it is, or for its key (RFC 9457 ``type``).
EVENT_REFUSALS: Final = frozenset(
    {"format", "signature", "unknown-key", "revoked-key", "key-owner", "too-large"}
)


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


class LedgerClient(LedgerChecks):
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

    # -- a refused event (``signer.refusals``) -----------------------------------------------

    def advice(self, event: QueuedEvent) -> str:
        """What to do about ``event``, refused by the ledger: the one clause ``sync``,
        ``queue`` and ``queue drop`` all give. A drop only where ``drop`` does it."""
        return refusals.advice(self.queue, event)

    def why_not_droppable(self, event: QueuedEvent) -> str | None:
        """None if ``event`` may be dropped and the rest of its feed re-signed; else why not,
        and what to do instead (``signer.refusals.why_not_droppable``)."""
        return refusals.why_not_droppable(self.queue, event)

    def drop(self, position: int, sign_with: Mapping[str, PrivateKey]) -> list[QueuedEvent]:
        """Drop the refused event at ``position``; re-sign each later pending event of its feed
        with its key (``sign_with[key_id]``), one seq lower, so that the feed is contiguous
        (``signer.refusals.drop``); the re-signed events, in feed order."""
        return refusals.drop(self.queue, position, sign_with)
