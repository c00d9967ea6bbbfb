"""What a terminal trusts of its ledger, and the checks every answer passes before it counts.

The log key is pinned on first use, and only once the ledger's latest checkpoint verifies with
it; after that, every sync first checks that the ledger's latest checkpoint verifies with the
pinned key: another server is sent nothing. For every answer to a batch:
1. the receipt's checkpoint must be signed by the log key this terminal trusts;
2. its inclusion proof must put this very envelope (its leaf hash) in that checkpoint's tree;
3. every checkpoint must be consistent (RFC 9162 §2.1.4) with the newest one this terminal has
   verified before — same size, same root; larger, a consistency proof; a new entry is never
   placed in a tree older than one already seen;
4. only then are the receipts and the newest checkpoint stored, in one transaction
   (``signer.client``, through ``Queue.record``).
After the queue is empty the ledger's latest checkpoint is checked the same way (``_watch``), so
a terminal with nothing to send still notices a log that shrank or was rewritten. A read replica
may trail the primary for a moment: an older latest checkpoint, or a proof refused (400) for a
tree it has not replayed yet, is asked for again with the retry policy before it counts.
A failure of 1-3 is a ``LedgerAlarm``: the ledger rewrote, forked or lost history.

``LedgerChecks`` is the part of ``signer.client.LedgerClient`` that runs these checks; it sends
no event and decides nothing about the queue's order.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.errors import LedgerError
from ledger.proofs import verify_consistency
from ledger.receipt import Receipt
from signer.errors import (
    DeadlineError,
    LedgerAlarm,
    RefusedBatchError,
    SignerError,
    TransportError,
)
from signer.queue import Answer, QueuedEvent
from signer.retry import Retrying

log = logging.getLogger(__name__)


class _NotProvableYet(TransportError):
    """A proof refused (400) for a tree the ledger's read replica has not replayed yet."""


class LedgerChecks(Retrying):
    """The log key and checkpoint a ``LedgerClient`` trusts, and steps 1-3 of the module
    docstring over the ledger's answers."""

    _log_vkey: str | None  # given to ``LedgerClient``, before one is pinned

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
