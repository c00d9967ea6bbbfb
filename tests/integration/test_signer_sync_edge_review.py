"""Edges of the terminal's sync against a busy ledger: a deadline that passes just as a batch
would go out, a sync killed while it holds the queue's sync lock, a symlink planted at the
lock's path, and ``Retry-After`` values no ledger should send."""

from __future__ import annotations

import os
import signal
import socket
import subprocess  # nosec B404 # the test's own interpreter, fixed arguments
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

import signer.transport
from ledger.envelope import Envelope
from ledger.receipt import Receipt
from ledger.store.ledger import LedgerStore
from signer.client import LedgerClient, RetryPolicy
from signer.errors import (
    DeadlineError,
    QueueError,
    RateLimitedError,
    SyncBusyError,
    TransportError,
)
from signer.queue import APPLIED, NOT_APPLIED, PENDING, SYNC_LOCK_SUFFIX, Queue
from signer.transport import HttpTransport, retry_after
from tests.fake_ledger import StoreTransport
from tests.integration.api_support import running_api
from tests.integration.test_signer_busy_ledger import Clock, enrol, grow, lots, policy, register
from tests.integration.test_signer_sync import assert_logged_once
from tests.terminal import Terminal

pytestmark = pytest.mark.integration


# -- a deadline that passes as the batch would go out -----------------------------------------


class LateTransport(HttpTransport):
    """An ``HttpTransport`` on ``clock`` whose submit starts only after the sync's deadline,
    as when recording the batch as sending waited for another command's write to the queue."""

    def __init__(self, *, clock: Clock, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.clock = clock
        self.late = False

    def submit(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        if self.late and self.deadline is not None:
            self.clock.now = self.deadline + 0.001
        return super().submit(envelopes)


def test_a_batch_never_sent_for_want_of_time_is_not_marked_may_be_logged(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The transport refuses to start a request with no time left: the batch never left, so
    # it is known not logged and stays droppable; before, it became "unanswered" for good.
    clock = Clock()
    monkeypatch.setattr(signer.transport, "time", types.SimpleNamespace(monotonic=clock))
    with running_api(database_url, tmp_path / "home") as api:
        transport = LateTransport(clock=clock, client=api.client)
        terminal = LedgerClient(
            transport=transport,
            key=enrol(api),
            queue=Queue(tmp_path / "queue.db"),
            retry=policy(clock),
        )
        terminal.sign(lots(0, 1))
        terminal.sync()  # the log key and a checkpoint pinned
        terminal.sign(lots(1, 2))
        transport.late = True
        transport.deadline = clock() + 60

        with pytest.raises(DeadlineError, match="2 event\\(s\\) still queued"):
            terminal.sync(deadline=transport.deadline)

        waiting = terminal.queue.pending(limit=10)
        assert len(waiting) == 2
        assert not any(e.sending or e.unanswered for e in waiting)
        transport.late, transport.deadline = False, None
        assert terminal.sync().applied == 2
        assert terminal.queue.counts()[APPLIED] == 3
        assert terminal.queue.counts()[PENDING] == 0


# -- a 429 on a read ---------------------------------------------------------------------------


class BusyReads(StoreTransport):
    """A ledger that turns away the first checkpoint and proof fetches 429 (Retry-After: 7)."""

    busy: set[str]

    def checkpoint(self) -> bytes:
        if "checkpoint" in self.busy:
            self.busy.discard("checkpoint")
            raise RateLimitedError("429 to /v1/log/checkpoint", retry_after=7.0)
        return super().checkpoint()

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        if "proof" in self.busy:
            self.busy.discard("proof")
            raise RateLimitedError("429 to /v1/log/proof/consistency", retry_after=7.0)
        return super().consistency_proof(first, second)


def test_a_429_on_the_checkpoint_or_a_proof_is_waited_out_and_is_no_alarm(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    clock = Clock()
    ledger = BusyReads(store)
    ledger.busy = set()
    terminal = LedgerClient(
        transport=ledger,
        key=register(store, operator),
        queue=Queue(tmp_path / "queue.db"),
        retry=policy(clock),
    )
    terminal.sign(lots(0, 1))
    terminal.sync()
    grow(store, operator, 3)  # the next receipts are in a larger tree: a proof is fetched
    terminal.sign(lots(1, 1))
    ledger.busy = {"checkpoint", "proof"}

    report = terminal.sync()

    assert report.applied == 1 and terminal.halted() is None
    assert ledger.busy == set() and clock.slept == [7.0, 7.0]
    assert terminal.queue.counts()[APPLIED] == 2


# -- receipts verified, then the checkpoint found changed --------------------------------------


class WriterMeanwhile(StoreTransport):
    """A truthful ledger; while it answers a batch, ``meanwhile`` runs (another writer)."""

    meanwhile: list[Callable[[], None]]

    def submit(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        receipts = super().submit(envelopes)
        while self.meanwhile:
            self.meanwhile.pop()()
        return receipts


def test_receipts_refused_storage_by_trust_are_sent_again_and_logged_once(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    # Queue.trust refuses the batch's transaction after its receipts verified: they are not
    # stored, so the events stay pending, and the next sync gets each one's original receipt.
    key = register(store, operator)
    ledger = WriterMeanwhile(store)
    ledger.meanwhile = []
    terminal = LedgerClient(
        transport=ledger, key=key, queue=Queue(tmp_path / "queue.db"), retry=RetryPolicy.no_wait()
    )
    terminal.sign(lots(0, 1))
    terminal.sync()
    terminal.sign(lots(1, 3))
    lockless = Queue(tmp_path / "queue.db")
    ledger.meanwhile = [
        lambda: lockless.set_setting("checkpoint", store.latest_checkpoint().decode())
    ]

    with pytest.raises(QueueError, match="changed while this sync ran"):
        terminal.sync()

    assert terminal.queue.counts()[PENDING] == 3
    report = terminal.sync()
    assert report.sent == 3 and report.duplicates == 3 and terminal.halted() is None
    assert terminal.queue.counts() == {PENDING: 0, APPLIED: 4, NOT_APPLIED: 0}
    assert_logged_once(store, key, 4)
    lockless.close()


# -- the sync lock ----------------------------------------------------------------------------

_HOLD_LOCK = """
import sys, time
from pathlib import Path
from signer.queue import Queue
with Queue(Path(sys.argv[1])).sync_lock():
    print("locked", flush=True)
    time.sleep(600)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_sync_killed_while_it_holds_the_lock_leaves_the_queue_unlocked(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    Queue(path).close()
    holder = subprocess.Popen(  # nosec B603 # this interpreter, a fixed script
        [sys.executable, "-c", _HOLD_LOCK, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        queue = Queue(path)
        with pytest.raises(SyncBusyError, match="another sync is running"), queue.sync_lock():
            pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        with queue.sync_lock():  # the system released it with the process
            pass
        queue.close()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="no O_NOFOLLOW here")
def test_the_sync_lock_never_follows_a_symlink_planted_at_its_path(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    queue = Queue(path)
    target = tmp_path / "elsewhere" / "chosen-by-someone-else"
    target.parent.mkdir()
    path.with_name(path.name + SYNC_LOCK_SUFFIX).symlink_to(target)

    with pytest.raises(QueueError, match="cannot open the sync lock"), queue.sync_lock():
        pass

    assert not target.exists()  # nothing created where the link points
    queue.close()


def test_the_sync_lock_file_is_the_owners_alone(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    queue = Queue(path)
    old = os.umask(0)
    try:
        with queue.sync_lock():
            pass
    finally:
        os.umask(old)
    mode = path.with_name(path.name + SYNC_LOCK_SUFFIX).stat().st_mode & 0o777
    assert mode == 0o600 or sys.platform == "win32"
    queue.close()


# -- Retry-After values no ledger should send ---------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "-5",
        "1.5",
        "99999999999999",
        "999999999999",
        "Wed, 21 Oct 2099 07:28:00 GMT",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "Wed, 21 Oct 2015 07:28:00 -0000",
        "10, 20",
        "garbage",
        "",
        "١٢",
        "x" * 10_000,
    ],
)
def test_any_retry_after_is_waited_at_most_the_cap_and_never_below_zero(value: str) -> None:
    retry = RetryPolicy(jitter=lambda: 1.0)
    asked = retry_after(value)
    for attempt in range(retry.attempts):
        assert 0.0 <= retry.wait(attempt, asked) <= retry.max_retry_after


# -- a batch whose connection could not be made --------------------------------------------


class UnreachableSubmit:
    """Reads from the ledger, but sends batches where nothing listens: a workshop's network
    dropping between the checkpoint fetch and the submit."""

    def __init__(self, reads: HttpTransport, nowhere: HttpTransport) -> None:
        self._reads, self._nowhere = reads, nowhere

    def submit(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        return self._nowhere.submit(envelopes)

    def __getattr__(self, name: str) -> object:
        return getattr(self._reads, name)


def test_a_batch_that_could_not_connect_is_known_not_logged_and_stays_droppable(
    database_url: str, tmp_path: Path
) -> None:
    # Nothing went out when the connection could not be made (refused, DNS, connect timeout):
    # the events are not "may be in the log". Before, the retry's second attempt already
    # marked them unanswered for good, and `spola queue drop` refused them thereafter.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: a connection is refused
    host, port = closed.getsockname()
    with running_api(database_url, tmp_path / "home") as api, closed:
        reads = HttpTransport(client=api.client)
        terminal = LedgerClient(
            transport=reads,
            key=enrol(api),
            queue=Queue(tmp_path / "queue.db"),
            retry=RetryPolicy.no_wait(attempts=3),
        )
        terminal.sign(lots(0, 1))
        terminal.sync()
        terminal.sign(lots(1, 2))
        nowhere = HttpTransport.connect(f"http://{host}:{port}", timeout=5)
        terminal.transport = UnreachableSubmit(reads, nowhere)  # type: ignore[assignment]
        for _ in range(2):
            with pytest.raises(TransportError, match="gave up after 3 attempts"):
                terminal.sync()
            waiting = terminal.queue.pending(limit=10)
            assert len(waiting) == 2
            assert not any(e.sending or e.unanswered for e in waiting)
        nowhere.close()
        terminal.transport = reads
        assert terminal.sync().applied == 2
