"""The terminal's error tree: ``SignerError`` (a ``LedgerError``) and its narrow leaves.

The CLI prints any ``LedgerError`` as one line and exits 1, so every failure a workshop can meet
(a wrong passphrase, a bad CSV row, a ledger that does not answer, a ledger that lies) reaches
the person as one sentence, never a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping

from ledger.errors import LedgerError


class SignerError(LedgerError):
    """Root of every error the terminal raises."""


class KeyFileError(SignerError):
    """A key file that is missing, unsafe (readable by others), damaged, or locked with
    another passphrase."""


class RowError(SignerError):
    """An event to sign (a row of a file, or the flags) that the ledger's schemas refuse."""


class QueueError(SignerError):
    """The offline queue cannot be used as asked (another actor's queue, a damaged file)."""


class TransportError(SignerError):
    """The ledger could not be reached, timed out, failed (5xx) or was busy (429): worth
    retrying later — after ``retry_after`` seconds when the ledger said so (``Retry-After``)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(TransportError):
    """429: the ledger turned the request away before reading it; none of it was logged."""


class NotSentError(TransportError):
    """No byte of the request went out (the connection could not be made): none of it is
    logged, so its events stay droppable."""


class NotSentInTimeError(NotSentError):
    """The sync's deadline passed before a request went out: nothing of it was sent."""


class DeadlineError(SignerError):
    """Sync stopped at its deadline; the events it had not stored receipts for stay queued."""


class SyncBusyError(SignerError):
    """Another sync holds the queue's sync lock: two syncs at once are refused, not raced."""


class RefusedBatchError(SignerError):
    """The ledger refused a batch (4xx): retrying the same batch would not help."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        kind: str,
        detail: str = "",
        position: int | None = None,
        members: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.detail = detail or message
        self.position = position  # the refused envelope's place in the batch, if the ledger says
        # The problem's extension members the terminal acts on (``signer.transport.KEPT_MEMBERS``)
        self.members = dict(members or {})


class BlockedQueueError(RefusedBatchError):
    """The ledger refused the event at the head of the queue: nothing after it can be sent
    until it is accepted (a key registered) or dropped (``spola queue drop``)."""


class LedgerAlarm(SignerError):
    """The ledger contradicted what it signed before: a bad proof, a forked or rewritten
    history, a lost acknowledged event. Sync halts until a person decides."""


class SyncHaltedError(SignerError):
    """Sync is halted by an earlier alarm; ``spola sync --resume-after-alarm`` lifts it."""
