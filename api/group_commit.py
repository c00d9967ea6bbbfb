"""Group commit: concurrent single-event submissions of one API process share one batch.

``GroupCommit`` owns the wait: each single-envelope ``POST /v1/entries`` hands its envelope to
``submit`` and awaits its own outcome. The first envelope of a group starts a timer of
``SPOLA_GROUP_COMMIT_MS``; when it fires, or when the group reaches ``max_batch``, the group is
appended as one sequencer batch — one transaction, one checkpoint — in a worker thread, while
the next group starts gathering. A window that ends while the previous group is still being
appended is extended until that group is answered. A request waits at most the window (or the
rest of the previous group's append, if longer) plus its own group's append.

``append_group`` owns the answers: each envelope gets the receipt or the error it would have
got alone, submitted in arrival order. The sequencer refuses a whole batch, but names every
refusal of its pass (``ledger.store.admission.Refusals``), so a refused group costs one more
pass, not one per refusal — n forged signatures are n verifications, not n(n+1)/2:

- found before the sequencer's lock (malformed envelope, bad signature, bad payload), each
  refusal is the envelope's own, whatever else the group holds: all are answered at once and
  the rest of the group is sent again, in one batch;
- found inside the lock, each refusal is the one its envelope gets after the admissible
  envelopes before it, as alone (the sequencer skips a refused envelope and judges the next
  without it, and keeps the evidence of every equivocation): all are answered at once and the
  admissible rest is appended in one batch — except an event at a seq that an earlier envelope
  of the group holds, which is sent again after that one is logged, where its answer (an
  equivocation, or a receipt if the other was refused after all) is its own.

So a group takes at most four passes when nothing else writes meanwhile (before the lock,
inside it, the admissible rest, the seqs held by the group). A refusal that names only its
first envelope (``RefusedEnvelope``) is answered by appending the envelopes before it as a group
of their own, then the refused one alone, then the rest. Any other failure of a group is
answered by appending its envelopes one by one. Resubmission is idempotent in the sequencer (a
logged envelope gets its original receipt back), so a retry never logs an envelope twice.

It lives in ``api/`` rather than ``ledger/store/`` because what it gathers is requests waiting
on the event loop; the store already appends batches atomically, across threads and processes,
and needs nothing new. Batches submitted as batches bypass it: they are one transaction already.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from api.settings import Settings
from ledger.envelope import Envelope
from ledger.errors import EquivocationError, RefusedEnvelope
from ledger.receipt import Receipt
from ledger.store.admission import Refusals

log = logging.getLogger(__name__)

Append = Callable[[Sequence[Envelope]], list[Receipt]]
Outcome = Receipt | Exception


def append_group(append: Append, envelopes: Sequence[Envelope]) -> list[Outcome]:
    """Append ``envelopes`` in as few batches as their refusals allow; one outcome each.

    An outcome is the envelope's receipt, or the exception a single submission of it raises
    (the cause of a ``RefusedEnvelope``, which names no position).
    """
    answered: dict[int, Outcome] = {}
    waiting: deque[list[int]] = deque([list(range(len(envelopes)))])  # batches to send, in order
    while waiting:
        group = [i for i in waiting.popleft() if i not in answered]
        if not group:
            continue
        try:
            receipts = append([envelopes[i] for i in group])
        except RefusedEnvelope as refused:
            own, admissible, later = _sorted_out(refused, group)
            answered.update(own)
            waiting.extendleft(reversed([batch for batch in (admissible, later) if batch]))
        except Exception as failed:
            if len(group) == 1:
                answered[group[0]] = failed
            else:  # whichever envelope caused it fails alone
                log.warning("group of %d failed (%s); appending one by one", len(group), failed)
                for i in group:
                    answered[i] = append_group(append, [envelopes[i]])[0]
        else:
            answered.update(zip(group, receipts, strict=True))
    return [answered[i] for i in range(len(envelopes))]


def _sorted_out(
    refused: RefusedEnvelope, group: list[int]
) -> tuple[dict[int, Outcome], list[int], list[int]]:
    """What a refusal of ``group`` says: the answers it gives (by envelope), the envelopes it
    found admissible (to append next, on their own), and those to send again after them."""
    if isinstance(refused, Refusals):
        own: dict[int, Outcome] = {group[p]: cause for p, cause in refused.own.items()}
        rest = [i for p, i in enumerate(group) if p not in refused.own and p not in refused.again]
        again = [group[p] for p in sorted(refused.again)]
        return (own, rest, again) if refused.checked else (own, [], rest + again)
    at = refused.position
    # Its error is its own when nothing came before it in the batch, or when it contradicts a
    # logged entry: an equivocation, whose evidence is kept (once: a second try would keep it
    # twice). Otherwise it is tried again after the others.
    if at == 0 or isinstance(refused.cause, EquivocationError):
        return {group[at]: refused.cause}, group[:at], group[at + 1 :]
    return {}, group[:at], group[at:]


@dataclass
class GroupStats:
    """What the groups of this process looked like so far: cheap counters (each group is also
    logged at DEBUG); clients see a group as receipts that share one checkpoint."""

    groups: int = 0
    envelopes: int = 0
    largest: int = 0


_Waiting = tuple[Envelope, "asyncio.Future[Outcome]"]


class GroupCommit:
    """Gathers the single envelopes of concurrent requests into sequencer batches.

    One group is appended at a time (a full one excepted): a group whose window ends while
    another is being appended keeps gathering until that one is done. The groups of one
    process would queue on the sequencer's lock anyway; waiting here instead makes them
    larger under load, so fewer transactions and checkpoints serve the same requests.
    """

    def __init__(self, append: Append, *, window_ms: int, max_batch: int) -> None:
        self._append = append
        self.window = window_ms / 1000
        self.max_batch = max_batch
        self.stats = GroupStats()
        self._pending: list[_Waiting] = []
        self._timer: asyncio.TimerHandle | None = None
        self._due = False  # the window has ended while a group was being appended
        self._appending = 0  # groups handed to a thread and not yet answered
        self._running: set[asyncio.Task[None]] = set()

    @classmethod
    def for_settings(cls, append: Append, settings: Settings) -> GroupCommit:
        """``SPOLA_GROUP_COMMIT_MS`` of window, groups of up to ``SPOLA_MAX_BATCH``."""
        return cls(append, window_ms=settings.group_commit_ms, max_batch=settings.max_batch)

    async def submit(self, envelope: Envelope) -> Receipt:
        """The receipt of ``envelope``, or the error it alone would raise."""
        if self.window <= 0 or self.max_batch < 2:
            outcome = (await run_in_threadpool(append_group, self._append, [envelope]))[0]
        else:
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[Outcome] = loop.create_future()
            self._pending.append((envelope, waiter))
            if len(self._pending) >= self.max_batch:
                self._close_group()
            elif self._timer is None and not self._due:
                self._timer = loop.call_later(self.window, self._window_ended)
            outcome = await waiter
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _window_ended(self) -> None:
        self._timer = None
        if self._appending:
            self._due = True  # closed as soon as the group being appended is answered
        else:
            self._close_group()

    def _close_group(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._due = False
        group, self._pending = self._pending, []
        if group:
            self._appending += 1
            task = asyncio.get_running_loop().create_task(self._commit(group))
            self._running.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._running.discard)

    async def _commit(self, group: list[_Waiting]) -> None:
        envelopes = [envelope for envelope, _ in group]
        try:
            outcomes = await run_in_threadpool(append_group, self._append, envelopes)
        except BaseException:
            self._appending -= 1
            for _, waiter in group:
                waiter.cancel()  # never left waiting (only a cancelled commit gets here)
            raise
        self._appending -= 1
        self.stats.groups += 1
        self.stats.envelopes += len(group)
        self.stats.largest = max(self.stats.largest, len(group))
        log.debug("group commit of %d envelopes", len(group))
        for (_, waiter), outcome in zip(group, outcomes, strict=True):
            if not waiter.done():  # a request whose client went away was cancelled
                waiter.set_result(outcome)
        if self._due and not self._appending:
            self._close_group()  # the next group's window ended while this one was appended
