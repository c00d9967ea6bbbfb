"""Read scale: passports and proofs served from a streaming replica, writes on the primary.

``scripts/pg_replica.sh`` starts a throwaway primary and its hot standby on loopback (never the
machine's shared cluster); the app gets both URLs. The test counts the statements each engine
runs, and pauses the replica's WAL replay to show that a replica-served read sees a new entry
only once the replica has replayed it, while the write itself landed on the primary at once.
"""

from __future__ import annotations

import base64
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, make_url, select, text

from api.demo import seed_demo
from api.demo_story import JACKETS
from api.main import create_app
from api.operator import init_home
from api.settings import Settings
from ledger.checkpoint import verify_checkpoint
from ledger.hashing import leaf_hash
from ledger.keys import PrivateKey
from ledger.proofs import verify_inclusion
from ledger.store.ledger import LedgerStore, StoreUnavailableError
from ledger.store.schema import log_head
from tests.integration.api_support import DEMO_ENTRIES, operator_at_head

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pg_replica.sh"
JACKET = JACKETS[0]
TIMEOUT = 20.0


def _missing_tools() -> str | None:
    if not glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"):
        return "no /usr/lib/postgresql/*/bin/pg_basebackup to clone a replica with"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: the PostgreSQL servers cannot be started"
    return None


@dataclass(frozen=True)
class Clusters:
    primary: str  # URL
    replica: str  # URL
    taken_port: int  # free when checked, taken when the primary started
    stderr: str  # what the script said


@pytest.fixture(scope="module")
def clusters() -> Iterator[Clusters]:
    """A fresh primary and its streaming replica.

    The primary is asked for a port that another process (this one) holds bound but not
    listening: it looks free to the script's check, yet the server cannot bind it, as when a
    second test run on the machine takes the port between check and start. The script must
    move on to another port."""
    if (reason := _missing_tools()) is not None:
        pytest.skip(reason)
    where = tempfile.mkdtemp(prefix="spola-replica-")
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 0))
        taken = holder.getsockname()[1]
        started = subprocess.run(
            ["bash", str(SCRIPT), "start", where, str(taken)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert started.returncode == 0, started.stderr
        urls = dict(line.split(" ", 1) for line in started.stdout.splitlines())
        yield Clusters(urls["primary"], urls["replica"], taken, started.stderr)
    finally:
        holder.close()
        subprocess.run(["bash", str(SCRIPT), "stop", where], timeout=60, check=False)
        shutil.rmtree(where, ignore_errors=True)


@contextmanager
def counted(*engines: Engine) -> Iterator[Counter[str]]:
    """Count the statements each engine runs, by the port of the server it talks to."""
    seen: Counter[str] = Counter()

    def listener(name: str) -> Any:
        def count(*_args: Any) -> None:
            seen[name] += 1

        return count

    hooks = [(e, listener(str(e.url.port))) for e in engines]
    for engine, hook in hooks:
        event.listen(engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        for engine, hook in hooks:
            event.remove(engine, "before_cursor_execute", hook)


def _size(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(log_head.c.size)).scalar_one())


def _wait_replayed(replica: Engine, size: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while _size(replica) < size:
        assert time.monotonic() < deadline, f"the replica did not reach size {size}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def served(
    clusters: Clusters, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, LedgerStore, Path]]:
    """The app over the primary and its replica, the demo seeded and replayed on the replica."""
    primary, replica = clusters.primary, clusters.replica
    home = tmp_path_factory.mktemp("replica") / "home"
    init_home(home)
    settings = Settings(database_url=primary, read_database_url=replica, home=home)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        store: LedgerStore = cast(FastAPI, client.app).state.store
        assert store.read_engine is not store.engine
        assert seed_demo(store, home) == DEMO_ENTRIES
        _wait_replayed(store.read_engine, store.tree_size())
        yield client, store, home


def test_a_port_taken_between_check_and_start_is_skipped(clusters: Clusters) -> None:
    assert f"port {clusters.taken_port} was taken meanwhile" in clusters.stderr
    ports = {make_url(clusters.primary).port, make_url(clusters.replica).port}
    assert clusters.taken_port not in ports and len(ports) == 2


def test_passports_and_proofs_are_read_from_the_replica(
    served: tuple[TestClient, LedgerStore, Path],
) -> None:
    client, store, _ = served
    with counted(store.engine, store.read_engine) as seen:
        passport = client.get(JACKET, headers={"Accept": "application/json"})
        page = client.get(JACKET, headers={"Accept": "text/html", "Accept-Language": "en"})
        proof = client.get("/v1/log/proof/inclusion", params={"index": 7})
        receipt = client.get("/v1/log/receipts/7")
        listed = client.get("/v1/passports")
    for response in (passport, page, proof, receipt, listed):
        assert response.status_code == 200, response.text
    assert "Giacca Cervo" in page.text and 'class="badge ok"' in page.text  # attested
    assert passport.json()["credentialSubject"]["product"]["id"].endswith(JACKET)
    assert seen[str(store.engine.url.port)] == 0, seen  # not one statement on the primary
    assert seen[str(store.read_engine.url.port)] >= 5, seen
    vkey = client.get("/v1/log/key").text.strip()
    checkpoint = verify_checkpoint(receipt.json()["checkpoint"].encode(), vkey)
    (row,) = client.get("/v1/log/entries", params={"start": 7, "end": 8}).json()["entries"]
    entry = base64.b64decode(row["entry"])
    hashes = [base64.b64decode(h) for h in receipt.json()["inclusion_proof"]]
    verify_inclusion(leaf_hash(entry), 7, checkpoint.size, hashes, checkpoint.root_hash)


def _pause_replay(replica: Engine, *, paused: bool) -> None:
    call = "pg_wal_replay_pause()" if paused else "pg_wal_replay_resume()"
    with replica.connect() as conn:
        conn.execute(text(f"SELECT {call}"))


def test_a_write_lands_on_the_primary_and_reaches_replica_reads_after_replay(
    served: tuple[TestClient, LedgerStore, Path],
) -> None:
    client, store, home = served
    replica = create_engine(store.read_engine.url, isolation_level="AUTOCOMMIT")
    try:
        before = _size(replica)
        envelope = operator_at_head(store, home).register(
            "urn:spola:actor:replica-test", name="Replica"
        )
        _pause_replay(replica, paused=True)
        try:
            posted = client.post(
                "/v1/entries",
                content=envelope.to_bytes(),
                headers={"content-type": "application/json"},
            )
            assert posted.status_code in (200, 201), posted.text
            index = posted.json()["index"]
            assert index == before and _size(store.engine) == before + 1  # on the primary
            time.sleep(0.3)  # replay is paused: the replica stays behind however long we wait
            assert f"\n{before}\n" in client.get("/v1/log/checkpoint").text
            assert client.get("/v1/log/entries", params={"start": index}).json()["entries"] == []
            assert client.get("/v1/log/proof/inclusion", params={"index": index}).status_code == 400
        finally:
            _pause_replay(replica, paused=False)
        _wait_replayed(replica, before + 1)
        proof = client.get("/v1/log/proof/inclusion", params={"index": index})
        assert proof.status_code == 200 and proof.json()["size"] == before + 1
        assert f"\n{before + 1}\n" in client.get("/v1/log/checkpoint").text
    finally:
        replica.dispose()


def test_an_unreachable_replica_fails_the_start_in_one_line(tmp_path: Path) -> None:
    primary = f"sqlite:///{tmp_path / 'ledger.db'}"
    unreachable = "postgresql+psycopg://spola:secret@127.0.0.1:1/spola"
    with pytest.raises(StoreUnavailableError, match=r"127\.0\.0\.1:1/spola") as raised:
        LedgerStore.open(primary, operator=PrivateKey.generate(), origin="t", read_url=unreachable)
    assert "secret" not in str(raised.value) and "\n" not in str(raised.value)


def test_the_replica_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPOLA_READ_DATABASE_URL", raising=False)
    assert Settings.from_env().read_database_url is None
    monkeypatch.setenv("SPOLA_READ_DATABASE_URL", "postgresql+psycopg://r@replica/spola")
    assert Settings.from_env().read_database_url == "postgresql+psycopg://r@replica/spola"
