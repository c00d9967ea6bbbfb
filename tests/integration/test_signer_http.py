"""The terminal against the real ASGI app over HTTP (``HttpTransport`` on the test client)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.keys import PrivateKey
from signer.client import LedgerClient, RetryPolicy, Row
from signer.errors import RefusedBatchError
from signer.keyfile import TerminalKey
from signer.queue import APPLIED, NOT_APPLIED, PENDING, Queue
from signer.transport import HttpTransport
from tests.integration.api_support import Api, running_api
from tests.supply import facility, material

pytestmark = pytest.mark.integration

SLUG = "tessitura-http"


def enrol(api: Api, slug: str = SLUG) -> TerminalKey:
    key = TerminalKey(actor=f"urn:spola:actor:{slug}", key=PrivateKey.generate())
    api.accept(
        [
            api.operator.register(key.actor, facilities=[facility()]),
            api.operator.add_key(key.actor, key.key),
        ]
    )
    return key


def lots(count: int) -> list[Row]:
    return [
        Row(label=f"row {i}", fields=material(f"urn:spola:lot:{SLUG}:L{i}")) for i in range(count)
    ]


@pytest.mark.slow
def test_thousand_offline_events_sync_over_http(database_url: str, tmp_path: Path) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        key = enrol(api)
        terminal = LedgerClient(
            transport=HttpTransport(client=api.client),
            key=key,
            queue=Queue(tmp_path / "queue.db"),
            batch_size=250,
            retry=RetryPolicy.no_wait(),
        )
        terminal.sign(lots(1000))
        report = terminal.sync()
        assert report.applied == 1000
        assert report.tree_size == api.tree_size()
        assert terminal.queue.counts() == {PENDING: 0, APPLIED: 1000, NOT_APPLIED: 0}
        assert terminal.queue.setting("log_vkey") == api.vkey()  # pinned on first use
        event = terminal.queue.events(limit=1)[0]
        assert event.index is not None
        assert api.entry(event.index) == event.entry


def test_unregistered_key_is_refused_and_stays_queued(database_url: str, tmp_path: Path) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        key = TerminalKey(actor=f"urn:spola:actor:{SLUG}", key=PrivateKey.generate())
        terminal = LedgerClient(
            transport=HttpTransport(client=api.client),
            key=key,
            queue=Queue(tmp_path / "queue.db"),
            retry=RetryPolicy.no_wait(),
        )
        terminal.sign(lots(2))
        with pytest.raises(RefusedBatchError, match="403") as refused:
            terminal.sync()
        assert refused.value.status == 403
        assert terminal.halted() is None  # a key not yet registered is no alarm
        assert terminal.queue.counts()[PENDING] == 2
        api.accept(  # the operator registers the workshop and its key: the queue goes through
            [
                api.operator.register(key.actor, facilities=[facility()]),
                api.operator.add_key(key.actor, key.key),
            ]
        )
        assert terminal.sync().applied == 2
