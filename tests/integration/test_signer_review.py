"""The terminal against what a workshop meets: a ledger with smaller limits or a read replica,
a log key or a ledger address typed wrong, a rotation racing a second command, a resume left in
a cron line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.checkpoint import verify_checkpoint
from ledger.envelope import Envelope
from ledger.keys import PrivateKey
from ledger.note import vkey
from ledger.receipt import Receipt
from ledger.store.ledger import LedgerStore
from signer.client import LedgerClient, RetryPolicy
from signer.errors import LedgerAlarm, RefusedBatchError, SignerError
from signer.keyfile import TerminalKey
from signer.queue import APPLIED, NOT_APPLIED, PENDING, Queue
from signer.transport import HttpTransport
from tests.conftest import operator_after_genesis
from tests.fake_ledger import ForkingLedger, StoreTransport
from tests.integration.api_support import running_api
from tests.integration.test_signer_sync import client, lots, register
from tests.supply import facility
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

SLUG = "tintoria-review"


def test_batches_over_the_ledgers_limit_are_split_until_they_fit(
    database_url: str, tmp_path: Path
) -> None:
    with running_api(database_url, tmp_path / "home", max_batch=7) as api:
        key = TerminalKey(actor=f"urn:spola:actor:{SLUG}", key=PrivateKey.generate())
        api.accept(
            [
                api.operator.register(key.actor, facilities=[facility()]),
                api.operator.add_key(key.actor, key.key),
            ]
        )
        terminal = LedgerClient(
            transport=HttpTransport(client=api.client),
            key=key,
            queue=Queue(tmp_path / "queue.db"),
            retry=RetryPolicy.no_wait(),
        )  # the default batch of 100, to a ledger run with SPOLA_MAX_BATCH=7
        terminal.sign(lots(0, 30, SLUG))
        report = terminal.sync()
        assert report.sent == report.applied == 30
        assert terminal.queue.counts() == {PENDING: 0, APPLIED: 30, NOT_APPLIED: 0}


WRONG_LOG_KEYS: dict[str, Callable[[LedgerStore], str]] = {
    "mistyped": lambda store: store.log_vkey[:-3] + "!!=",
    # well formed, but another log's
    "another_ledgers": lambda store: vkey(store.origin, PrivateKey.generate().public_key.raw),
}


@pytest.mark.parametrize("wrong_key", WRONG_LOG_KEYS.values(), ids=WRONG_LOG_KEYS.keys())
def test_a_wrong_log_key_on_first_use_is_refused_and_not_pinned(
    store: LedgerStore, operator: Terminal, tmp_path: Path, wrong_key: Callable[[LedgerStore], str]
) -> None:
    key = register(store, operator, SLUG)
    queue = Queue(tmp_path / "queue.db")
    transport = StoreTransport(store)
    wrong = LedgerClient(
        transport=transport,
        key=key,
        queue=queue,
        log_vkey=wrong_key(store),
        retry=RetryPolicy.no_wait(),
    )
    wrong.sign(lots(0, 2, SLUG))
    with pytest.raises(SignerError, match="--log-key"):
        wrong.sync()
    assert transport.batches == 0  # nothing sent to a ledger this terminal cannot check
    assert queue.setting("log_vkey") is None and wrong.halted() is None
    right = LedgerClient(
        transport=StoreTransport(store), key=None, queue=queue, log_vkey=store.log_vkey
    )
    assert right.sync().applied == 2


def test_a_key_rotated_by_another_process_signs_no_more(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator, SLUG)
    path = tmp_path / "queue.db"
    # Two commands on one terminal, both unlocked the same key: `spola sign` and `key rotate`.
    signing = LedgerClient(transport=None, key=key, queue=Queue(path))
    rotating = LedgerClient(transport=None, key=key, queue=Queue(path))
    signing.sign(lots(0, 2, SLUG))
    new = TerminalKey(actor=key.actor, key=PrivateKey.generate())
    rotating.rotate(new.key)
    with pytest.raises(SignerError, match="rotated"):
        # It would follow its own rotation: refused by the ledger, forever.
        signing.sign(lots(2, 1, SLUG))
    LedgerClient(transport=None, key=new, queue=Queue(path)).sign(lots(2, 1, SLUG))
    terminal = LedgerClient(
        transport=StoreTransport(store), key=None, queue=Queue(path), retry=RetryPolicy.no_wait()
    )
    assert terminal.sync().applied == 4


def test_resume_with_no_alarm_keeps_watching_the_history_it_verified(
    store: LedgerStore, operator: Terminal, operator_key: PrivateKey, tmp_path: Path
) -> None:
    key = register(store, operator, SLUG)
    ledger = ForkingLedger(store, operator=operator_key)
    terminal = client(ledger, key, tmp_path / "queue.db")
    terminal.sign(lots(0, 3, SLUG))
    terminal.sync()
    assert terminal.resume_after_alarm() is None  # `--resume-after-alarm` left in a cron line
    ledger.drop = terminal.queue.events()[1].index
    store.append([operator.register(f"urn:spola:actor:late-{i}") for i in range(2)])
    with pytest.raises(LedgerAlarm, match="does not extend"):
        terminal.sync()


@dataclass
class LaggingReplica(StoreTransport):
    """Appends on the primary, reads from a replica (SPOLA_READ_DATABASE_URL) that has replayed
    the log only up to before the latest appends until one read later (docs/operations.md:
    the checkpoint may be older than a receipt's, a proof up to a newer size is refused 400)."""

    replica: bytes | None = None  # the checkpoint the replica still serves

    def submit(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        if self.replica is None:
            self.replica = self.store.latest_checkpoint()
        return super().submit(envelopes)

    def _behind(self) -> bytes | None:
        stale, self.replica = self.replica, None  # replayed by the next read
        return stale

    def checkpoint(self) -> bytes:
        return self._behind() or super().checkpoint()

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        stale = self._behind()
        if stale is not None and second > verify_checkpoint(stale, self.store.log_vkey).size:
            raise RefusedBatchError("second is beyond the tree size", status=400, kind="proof")
        return super().consistency_proof(first, second)


def test_a_read_replica_behind_the_primary_raises_no_alarm(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator, SLUG)
    terminal = LedgerClient(
        transport=LaggingReplica(store),
        key=key,
        queue=Queue(tmp_path / "queue.db"),
        batch_size=5,
        retry=RetryPolicy.no_wait(),
    )
    terminal.sign(lots(0, 5, SLUG))
    assert terminal.sync().applied == 5  # the latest checkpoint read lags the receipt's
    terminal.sign(lots(5, 10, SLUG))
    assert terminal.sync().applied == 10  # the proof between two batches is refused at first
    assert terminal.halted() is None and terminal.queue.alarms() == []


def test_another_ledger_at_a_mistyped_address_gets_nothing_and_raises_no_alarm(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = register(store, operator, SLUG)
    path = tmp_path / "queue.db"
    terminal = LedgerClient(
        transport=StoreTransport(store), key=key, queue=Queue(path), retry=RetryPolicy.no_wait()
    )
    terminal.sign(lots(0, 2, SLUG))
    terminal.sync()  # the log key is pinned, its history trusted
    terminal.sign(lots(2, 2, SLUG))
    staging_key = PrivateKey.generate()
    staging = LedgerStore.open(  # another spola ledger, with its own log key, that knows us too
        f"sqlite:///{tmp_path / 'staging.db'}", operator=staging_key, origin=store.origin
    )
    try:
        staging_operator = operator_after_genesis(staging, staging_key)
        staging.append(
            [
                staging_operator.register(key.actor, facilities=[facility()]),
                staging_operator.add_key(key.actor, key.key),
            ]
        )
        elsewhere = StoreTransport(staging)
        terminal.transport = elsewhere
        with pytest.raises(SignerError, match="does not verify with the log key this terminal"):
            terminal.sync()
        assert elsewhere.batches == 0  # the queued events were not given to it
    finally:
        staging.close()
    assert terminal.halted() is None  # and what this terminal verified before stays trusted
    terminal.transport = StoreTransport(store)
    assert terminal.sync().applied == 2 and terminal.queue.alarms() == []
