"""A sync's requests to a busy or flaky ledger: ``RetryPolicy``, and retrying within a deadline.

A timeout, a 5xx or a 429 is retried (``RetryPolicy``), waiting as long as the ledger's
``Retry-After`` asks when it sends one (at most ``max_retry_after``); a 429 is answered before
the ledger reads the request, so its events are known not to be logged. A sync given a
``deadline`` starts no request and no wait that would end past it (and its transport ends a
request under way there): it stops with ``DeadlineError``, and what it had no receipts for stays
queued.

``Retrying`` is the part of ``signer.client.LedgerClient`` that makes those requests: it does
not decide what is sent, nor check what comes back (``signer.trust``).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from ledger.errors import FormatError
from signer.errors import DeadlineError, NotSentInTimeError, SignerError, TransportError
from signer.queue import PENDING, Queue

if TYPE_CHECKING:  # httpx is imported only by the commands that talk to a ledger
    from signer.transport import Transport

log = logging.getLogger(__name__)

T = TypeVar("T")


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


class Retrying:
    """A ``LedgerClient``'s requests to its ledger, retried by its policy within its deadline.

    ``LedgerClient.__init__`` sets the attributes; ``_deadline`` only while a sync runs."""

    transport: Transport | None
    queue: Queue
    retry: RetryPolicy
    _deadline: float | None  # on ``retry.clock``, while a sync runs

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
