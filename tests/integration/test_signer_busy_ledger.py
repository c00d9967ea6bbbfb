"""The terminal against a busy or flaky ledger: a rate limit answered 429 with ``Retry-After``,
a ledger that keeps timing out past the sync's deadline, and two syncs on one queue at once
(cron and a person) racing to store the checkpoint the terminal trusts."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI

from api.ratelimit import RateLimit
from ledger.checkpoint import verify_checkpoint
from ledger.store.ledger import LedgerStore
from signer.client import LedgerClient, RetryPolicy, Row
from signer.errors import DeadlineError, QueueError, SyncBusyError, TransportError
from signer.keyfile import TerminalKey
from signer.queue import APPLIED, NOT_APPLIED, PENDING, Queue
from signer.transport import HttpTransport
from tests.fake_ledger import FaultyTransport, StoreTransport
from tests.integration.api_support import Api, route_terminal_to, running_api
from tests.integration.test_signer_http import enrol as enrolled
from tests.integration.test_signer_sync import assert_logged_once
from tests.integration.test_signer_sync import register as registered
from tests.supply import material
from tests.terminal import Terminal
from tests.terminal import run_cli as run

pytestmark = pytest.mark.integration

SLUG = "lanificio-busy"


@dataclass
class Clock:
    """The terminal's clock and sleep (and the rate limiter's clock): time passes only when
    the terminal waits."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def policy(clock: Clock, attempts: int = 6) -> RetryPolicy:
    # jitter 1: the backoff's own waits are its ceiling, 0.5 s doubling
    return RetryPolicy(attempts=attempts, sleep=clock.sleep, jitter=lambda: 1.0, clock=clock)


def lots(start: int, count: int) -> list[Row]:
    return [
        Row(label=f"row {i}", fields=material(f"urn:spola:lot:{SLUG}:L{i}"))
        for i in range(start, start + count)
    ]


def register(store: LedgerStore, operator: Terminal) -> TerminalKey:
    return registered(store, operator, SLUG)


def enrol(api: Api) -> TerminalKey:
    return enrolled(api, SLUG)


def rate_limits_on(api: Api, clock: Clock) -> None:
    """Run the app's rate limiter on ``clock``: its buckets refill as the terminal waits.
    The clock goes on from the monotonic time the buckets were filled at, never back."""
    clock.now = max(clock.now, time.monotonic())
    node = api.client.app
    while not isinstance(node, RateLimit):
        node = node.middleware_stack if isinstance(node, FastAPI) else node.app  # type: ignore[attr-defined]
    node.clients.clock = node.keys.clock = clock


def rate_limited_terminal(
    api: Api, tmp_path: Path, clock: Clock, attempts: int = 6
) -> LedgerClient:
    """An enrolled terminal sending one event a request to ``api``, whose rate limits (and the
    terminal's waits) run on ``clock``."""
    rate_limits_on(api, clock)
    return LedgerClient(
        transport=HttpTransport(client=api.client),
        key=enrol(api),
        queue=Queue(tmp_path / "queue.db"),
        batch_size=1,
        retry=policy(clock, attempts=attempts),
    )


# -- 429 and Retry-After, against the real rate limiter -------------------------------------


def test_rate_limited_sync_waits_as_long_as_the_ledger_asks_then_sends_everything(
    database_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    with running_api(database_url, tmp_path / "home", rate_per_key=6) as api:
        terminal = rate_limited_terminal(api, tmp_path, clock)
        terminal.sign(lots(0, 8))

        report = terminal.sync()  # 6 a minute: the 7th and 8th wait 10 s each for a token

        assert report.sent == report.applied == 8
        assert clock.slept == [10.0, 10.0]  # the ledger's Retry-After, not the backoff's guess
        assert terminal.queue.counts() == {PENDING: 0, APPLIED: 8, NOT_APPLIED: 0}


def test_a_batch_refused_429_is_known_not_logged_and_stays_droppable(
    database_url: str, tmp_path: Path
) -> None:
    # 429 is answered before the store sees the batch: unlike a timeout, it cannot have logged
    # it, so its events must not be marked "may be in the log" (which forbids dropping them).
    clock = Clock()
    with running_api(database_url, tmp_path / "home", rate_per_key=1) as api:
        terminal = rate_limited_terminal(api, tmp_path, clock, attempts=2)
        terminal.sign(lots(0, 2))
        clock.slept.clear()

        with pytest.raises(DeadlineError, match="still queued"):
            terminal.sync(deadline=clock() + 30)  # a token every 60 s: not within 30 s

        (waiting,) = terminal.queue.pending(limit=10)
        assert not waiting.sending and not waiting.unanswered
        assert clock.slept == []  # a wait past the deadline is not begun


# -- an overall deadline --------------------------------------------------------------------


def test_sync_past_its_deadline_stops_and_loses_nothing(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator)
    clock = Clock()
    # The first answer is lost after the ledger logged the batch; then it keeps timing out.
    flaky = FaultyTransport(StoreTransport(store), faults=["lost", *["timeout"] * 20])
    terminal = LedgerClient(
        transport=flaky, key=key, queue=Queue(tmp_path / "queue.db"), retry=policy(clock)
    )
    terminal.sign(lots(0, 3))
    deadline = clock() + 5

    with pytest.raises(DeadlineError) as stopped:
        terminal.sync(deadline=deadline)

    assert "3 event(s) still queued" in str(stopped.value)
    assert clock() <= deadline  # 0.5 + 1 + 2 waited; the next 4 s would end past it
    assert terminal.queue.counts()[PENDING] == 3
    flaky.faults.clear()
    report = terminal.sync()  # the ledger is back: each event exactly once in the log
    assert report.sent == 3 and report.duplicates == 3
    assert_logged_once(store, key, 3)


def test_cli_sync_deadline_stops_in_one_line_with_the_queue_kept(
    home: Path,
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with running_api(database_url, tmp_path / "ledger-home", rate_per_key=1) as api:
        key = enrol(api)
        queue = Queue(home / "queue.db")
        LedgerClient(transport=None, key=key, queue=queue).sign(lots(0, 2))
        queue.close()
        route_terminal_to(api, monkeypatch)

        code, out, err = run(
            capsys, "sync", "--ledger", "http://ledger.test", "--batch", "1", "--deadline", "20"
        )  # the second event's token comes back in 60 s: past the deadline, so not awaited

        assert code == 1 and out == ""
        *progress, line = err.strip().splitlines()
        assert all(shown.startswith("synced ") for shown in progress)
        assert line.startswith("spola: sync stopped at its deadline")
        assert line.endswith("1 event(s) still queued for the next sync")
        assert run(capsys, "queue", "--state", "pending")[1].count(" pending ") == 1


@pytest.mark.parametrize("given", ["0", "-5", "nan", "inf", "ten", "1e9"])
def test_cli_sync_deadline_that_is_no_sane_number_of_seconds_is_a_usage_error(
    home: Path, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    with pytest.raises(SystemExit) as usage:
        run(capsys, "sync", "--ledger", "http://ledger.test", "--deadline", given)
    assert usage.value.code == 2
    assert "--deadline" in capsys.readouterr().err


@dataclass
class SlowProofs(StoreTransport):
    """A truthful ledger whose consistency proofs time out."""

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        raise TransportError("the ledger did not answer GET /v1/log/proof/consistency in time")


def test_a_deadline_reached_while_checking_consistency_is_no_alarm(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator)
    clock = Clock()
    terminal = LedgerClient(
        transport=StoreTransport(store), key=key, queue=Queue(tmp_path / "queue.db"),
        retry=policy(clock),
    )  # fmt: skip
    terminal.sign(lots(0, 2))
    terminal.sync()
    grow(store, operator, 3)  # the next sync must prove the log grew from what it trusts
    terminal.transport = SlowProofs(store)

    with pytest.raises(DeadlineError, match="consistency proof"):
        terminal.sync(deadline=clock() + 5)

    assert terminal.halted() is None and terminal.queue.alarms() == []
    terminal.transport = StoreTransport(store)
    assert terminal.sync().tree_size == store.tree_size()


# -- two syncs on one queue -----------------------------------------------------------------


@dataclass
class Meanwhile(StoreTransport):
    """A truthful ledger that, asked for its checkpoint the ``at``-th time, reads it and then
    lets ``meanwhile`` run before answering: another command acting on the same queue while
    this sync holds a checkpoint that is about to be stale."""

    at: int = 0
    meanwhile: Callable[[], None] = lambda: None
    calls: int = 0

    def checkpoint(self) -> bytes:
        note = super().checkpoint()
        self.calls += 1
        if self.calls == self.at:
            self.meanwhile()
        return note


def stored_size(queue: Queue) -> int:
    note, vkey = queue.setting("checkpoint"), queue.setting("log_vkey")
    assert note is not None and vkey is not None
    return verify_checkpoint(note.encode(), vkey).size


@pytest.fixture
def two_terminals(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> Iterator[tuple[LedgerClient, Meanwhile, Callable[[], LedgerClient]]]:
    """A terminal that synced once (key and a checkpoint pinned), its racing transport, and a
    way to open a second client on the same queue file (as a second process would)."""
    key = register(store, operator)
    path = tmp_path / "queue.db"
    racing = Meanwhile(store)
    first = LedgerClient(transport=racing, key=key, queue=Queue(path), retry=RetryPolicy.no_wait())
    first.sign(lots(0, 2))
    first.sync()
    racing.calls = 0

    def second() -> LedgerClient:
        return LedgerClient(
            transport=StoreTransport(store), key=key, queue=Queue(path), retry=RetryPolicy.no_wait()
        )

    yield first, racing, second


def grow(store: LedgerStore, operator: Terminal, count: int) -> None:
    store.append(
        [operator.register(f"urn:spola:actor:altro-{store.tree_size()}-{i}") for i in range(count)]
    )


def test_a_second_sync_cannot_move_the_trusted_checkpoint_back(
    store: LedgerStore,
    operator: Terminal,
    two_terminals: tuple[LedgerClient, Meanwhile, Callable[[], LedgerClient]],
) -> None:
    first, racing, second = two_terminals
    grow(store, operator, 3)
    newest: list[int] = []

    def another_sync() -> None:  # while the first holds the older checkpoint it just read
        grow(store, operator, 3)
        other = second()
        with contextlib.suppress(SyncBusyError):
            other.sync()
        newest.append(stored_size(other.queue))

    racing.at, racing.meanwhile = 2, another_sync  # 1: is this the ledger?  2: the latest
    first.sync()

    assert newest, "the second sync did not run during the first"
    assert stored_size(first.queue) >= newest[0]


def test_a_second_sync_while_one_runs_is_refused_in_one_line(
    two_terminals: tuple[LedgerClient, Meanwhile, Callable[[], LedgerClient]],
) -> None:
    first, racing, second = two_terminals
    refused: list[str] = []

    def another_sync() -> None:
        with pytest.raises(SyncBusyError) as busy:
            second().sync()
        refused.append(str(busy.value))

    racing.at, racing.meanwhile = 1, another_sync
    first.sync()

    assert refused == [
        f"another sync is running on the queue {first.queue.path}: "
        "run this one again when it is done"
    ]
    second().sync()  # and once the first is done, the lock is free again


def test_a_checkpoint_stored_meanwhile_by_another_writer_is_not_overwritten(
    store: LedgerStore,
    operator: Terminal,
    two_terminals: tuple[LedgerClient, Meanwhile, Callable[[], LedgerClient]],
) -> None:
    # A writer that takes no sync lock (an older terminal, a queue on a network share where
    # locks do not hold): the sync must still not replace a checkpoint it did not start from.
    first, racing, _ = two_terminals
    grow(store, operator, 3)
    behind = Queue(first.queue.path)
    stored: list[str] = []

    def lockless_writer() -> None:
        grow(store, operator, 3)
        stored.append(store.latest_checkpoint().decode())
        behind.set_setting("checkpoint", stored[0])

    racing.at, racing.meanwhile = 2, lockless_writer
    with pytest.raises(QueueError, match="changed while this sync ran"):
        first.sync()

    assert first.queue.setting("checkpoint") == stored[0]


def test_cli_sync_while_another_runs_exits_1_in_one_line(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = Queue(home / "queue.db")
    with queue.sync_lock():
        code, out, err = run(capsys, "sync", "--ledger", "http://127.0.0.1:9")
    assert code == 1 and out == ""
    assert err == (
        f"spola: another sync is running on the queue {home / 'queue.db'}: "
        "run this one again when it is done\n"
    )


def test_dropping_or_lifting_a_halt_while_a_sync_runs_is_refused(tmp_path: Path) -> None:
    # The sync may hold the envelopes a drop would re-sign, or the checkpoint a resume forgets.
    syncing = Queue(tmp_path / "queue.db")
    terminal = LedgerClient(transport=None, key=None, queue=Queue(tmp_path / "queue.db"))
    terminal.queue.halt("a fork")
    with syncing.sync_lock():
        with pytest.raises(SyncBusyError):
            terminal.drop(1, {})
        with pytest.raises(SyncBusyError):
            terminal.resume_after_alarm()
    assert terminal.halted() == "a fork"
    assert terminal.resume_after_alarm() == "a fork"  # once the sync is over
