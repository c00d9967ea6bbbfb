"""The real server: ``spola serve`` in its own process, spoken to over real HTTP with httpx.

Each server is started after ``spola init`` and ``spola demo``, waited for on ``/healthz`` with
a deadline, and stopped with SIGTERM in a ``finally`` block (SIGKILL to its process group if it
does not stop in time), so no test leaves a server behind.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from api.operator import load_operator
from ledger.checkpoint import verify_checkpoint
from ledger.envelope import Envelope
from ledger.events import OPERATOR_ACTOR
from ledger.feed import payload_digest
from ledger.hashing import CHAIN_GENESIS, chain_hash, leaf_hash
from ledger.proofs import verify_consistency, verify_inclusion
from tests.integration.api_support import DEMO_ENTRIES
from tests.terminal import Terminal

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = Path(sys.executable).with_name("spola")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "spola"]
STARTUP_SECONDS = 60
STOP_SECONDS = 20
BIND_ATTEMPTS = 5
JSON = {"content-type": "application/json"}
DEMO_SIZE = DEMO_ENTRIES + 1  # the genesis entry and the demo's


@dataclass
class Site:
    home: Path
    env: dict[str, str]
    log: Path

    def spola(self, *args: str) -> None:
        done = subprocess.run(
            [*COMMAND, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Site:
    """An operator home after ``spola init`` and ``spola demo`` on the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOLA_")}
    env.update(SPOLA_HOME=str(tmp_path / "home"), SPOLA_DATABASE_URL=database_url)
    ready = Site(home=tmp_path / "home", env=env, log=tmp_path / "server.log")
    ready.spola("init")
    ready.spola("demo")
    return ready


@contextmanager
def serving(
    site: Site, *args: str, before_ready: Callable[[], None] | None = None, **env: str
) -> Iterator[httpx.Client]:
    """``spola serve`` on a free port; an httpx client for it once ``/healthz`` answers."""
    server, port = launch([*args], {**site.env, **env}, site.log, before_ready=before_ready)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=STOP_SECONDS)
        # uvicorn shuts down gracefully, then re-raises the signal it caught (or exits 0)
        assert code in (0, -signal.SIGTERM), f"server exited with {code}:\n{site.log_text()}"
        assert "Application shutdown complete" in site.log_text()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=STOP_SECONDS)


def launch(
    args: list[str],
    env: dict[str, str],
    log: Path,
    port: int | None = None,
    before_ready: Callable[[], None] | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """``spola serve`` on ``port`` (a free one unless given), answering ``/healthz``: the
    process (its own process group) and its port. Its output is appended to ``log``.

    A port found free may be taken by another process on the machine (other test runs share
    it) before the server binds it: the server then exits with "address already in use", and
    when the port was ours to choose another one is tried. The health check waits for the
    server to report the port bound, so it never asks a stranger listening there.
    """
    for _ in range(BIND_ATTEMPTS):
        chosen = _free_port() if port is None else port
        start = log.stat().st_size if log.exists() else 0
        with log.open("ab") as out:
            server = subprocess.Popen(
                [*COMMAND, "serve", "--host", "127.0.0.1", "--port", str(chosen), *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: workers included, nothing else
            )
        try:
            if before_ready is not None:
                ready, before_ready = before_ready, None  # once, for the first server started
                ready()
            if _wait_until_healthy(server, chosen, log, start):
                return server, chosen
        except BaseException:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=STOP_SECONDS)
            raise
        if port is not None:
            break
    pytest.fail(f"no port could be bound in {BIND_ATTEMPTS} attempts:\n{_since(log, 0)}")


def _wait_until_healthy(server: subprocess.Popen[bytes], port: int, log: Path, start: int) -> bool:
    """Whether the server came up; False if it lost its port to another process."""
    bound = f"running on http://127.0.0.1:{port} "
    deadline = time.monotonic() + STARTUP_SECONDS
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
        while time.monotonic() < deadline:
            said = _since(log, start)
            if server.poll() is not None:
                if "address already in use" in said:
                    return False
                pytest.fail(f"server exited with {server.returncode}:\n{said}")
            if bound in said:
                try:
                    if client.get("/healthz").status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
    pytest.fail(f"server not healthy within {STARTUP_SECONDS}s:\n{_since(log, start)}")


def _since(log: Path, start: int) -> str:
    with log.open("rb") as text:
        text.seek(start)
        return text.read().decode(errors="replace")


def _operator(client: httpx.Client, home: Path) -> Terminal:
    """The operator's terminal, positioned after its last event (genesis and the demo's)."""
    operator = Terminal(actor=OPERATOR_ACTOR, key=load_operator(home).key)
    size = client.get("/healthz").json()["tree_size"]
    for row in _entries(client, size):
        envelope = Envelope.from_bytes(base64.b64decode(row["entry"]))
        if envelope.signatures[0].keyid == operator.key_id:
            operator.seq, operator.prev = operator.seq + 1, payload_digest(envelope.payload)
    return operator


def _entries(client: httpx.Client, size: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while len(rows) < size:
        page = client.get("/v1/log/entries", params={"start": len(rows)}).json()["entries"]
        assert page, f"entries end at {len(rows)}, before the tree size {size}"
        rows.extend(page)
    return rows


def _assert_log_whole(client: httpx.Client, vkey: str) -> int:
    """Indices 0..n-1 without gaps, the hash chain unbroken, the checkpoint covering all."""
    checkpoint = verify_checkpoint(client.get("/v1/log/checkpoint").content, vkey)
    rows = _entries(client, checkpoint.size)
    assert [row["index"] for row in rows] == list(range(checkpoint.size))
    chain = CHAIN_GENESIS
    for row in rows:
        leaf = leaf_hash(base64.b64decode(row["entry"]))
        assert leaf.hex() == row["leaf_hash"]
        chain = chain_hash(chain, leaf)
        assert chain.hex() == row["chain_hash"], f"chain breaks at {row['index']}"
    assert client.get("/healthz").json()["tree_size"] == checkpoint.size
    return checkpoint.size


def test_served_log_answers_over_real_http(site: Site) -> None:
    with serving(site) as client:
        vkey = client.get("/v1/log/key").text.strip()
        note = client.get("/v1/log/checkpoint")
        assert note.headers["content-type"].startswith("text/plain")
        demo = verify_checkpoint(note.content, vkey)
        assert demo.size == DEMO_SIZE
        assert _assert_log_whole(client, vkey) == DEMO_SIZE
        # With no SPOLA_PUBLIC_BASE_URL, QR codes and URIs name the address served, not :8000.
        (first, *_) = client.get("/v1/passports").json()["passports"]
        assert first["url"] == f"{client.base_url}/{first['id']}"

        operator = _operator(client, site.home)
        envelope = operator.register("urn:spola:actor:sartoria-ticinese")
        response = client.post("/v1/entries", content=envelope.to_bytes(), headers=JSON)

        assert response.status_code == 201, response.text
        receipt = response.json()
        assert receipt["index"] == DEMO_SIZE
        checkpoint = verify_checkpoint(receipt["checkpoint"].encode(), vkey)
        proof = [base64.b64decode(h) for h in receipt["inclusion_proof"]]
        verify_inclusion(
            leaf_hash(envelope.to_bytes()), DEMO_SIZE, checkpoint.size, proof, checkpoint.root_hash
        )
        consistency = client.get("/v1/log/proof/consistency", params={"first": DEMO_SIZE}).json()
        verify_consistency(
            DEMO_SIZE,
            DEMO_SIZE + 1,
            [base64.b64decode(h) for h in consistency["proof"]],
            demo.root_hash,
            checkpoint.root_hash,
        )
        again = client.post("/v1/entries", content=envelope.to_bytes(), headers=JSON)
        assert (again.status_code, again.json()["duplicate"]) == (200, True)


def test_a_port_taken_before_the_server_binds_it_is_given_up_for_another(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of picking a free port and binding it later, made certain: the first port
    offered is held by a listener of our own, as another process might hold it."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        offers, real = iter([taken]), _free_port
        monkeypatch.setattr(sys.modules[__name__], "_free_port", lambda: next(offers, 0) or real())
        with serving(site) as client:
            assert client.base_url.port != taken
            assert client.get("/healthz").json()["tree_size"] == DEMO_SIZE
    assert f"('127.0.0.1', {taken}): address already in use" in site.log_text()


def test_served_log_refuses_oversize_bodies_over_real_http(site: Site) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(16):
            yield b" " * 1024

    with serving(site, SPOLA_MAX_BODY_BYTES="4096") as client:
        declared = client.post("/v1/entries", content=b" " * 8192, headers=JSON)
        streamed = client.post("/v1/entries", content=chunks(), headers=JSON)
        for response in (declared, streamed):
            assert response.status_code == 413, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"] == "urn:spola:problem:too-large"
        assert "content-length" not in streamed.request.headers
        assert client.get("/healthz").json()["tree_size"] == DEMO_SIZE


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # several workers
def test_two_workers_append_concurrent_posts_without_gaps(site: Site) -> None:
    threads, events = 8, 12
    with serving(site, "--workers", "2") as client:
        vkey = client.get("/v1/log/key").text.strip()
        operator = _operator(client, site.home)
        terminals = [Terminal(actor=f"urn:spola:actor:bottega-{i}") for i in range(threads)]
        enrolment = [
            envelope
            for t in terminals
            for envelope in (operator.register(t.actor), operator.add_key(t.actor, t.key))
        ]
        body = {"envelopes": [e.to_json() for e in enrolment]}
        assert client.post("/v1/entries", json=body).status_code == 200
        start = _assert_log_whole(client, vkey)

        def post_feed(terminal: Terminal) -> list[int]:
            indices = []
            with httpx.Client(base_url=client.base_url, timeout=60) as own:
                for n in range(events):
                    envelope = terminal.update_self(f"Bottega, version {n}")
                    response = own.post("/v1/entries", content=envelope.to_bytes(), headers=JSON)
                    assert response.status_code == 201, response.text
                    indices.append(response.json()["index"])
            return indices

        with ThreadPoolExecutor(max_workers=threads) as pool:
            placed = [i for indices in pool.map(post_feed, terminals) for i in indices]

        size = _assert_log_whole(client, vkey)
        assert size == start + threads * events
        assert sorted(placed) == list(range(start, size))  # every post has its own index
    assert site.log_text().count("Application startup complete") == 2, site.log_text()


def _wait_for_lock_waiters(engine: Engine, wanted: int) -> None:
    """Until ``wanted`` sessions wait on a lock (or one has waited alone for a few seconds)."""
    started = time.monotonic()
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with engine.connect() as probe:
        while time.monotonic() - started < STARTUP_SECONDS:
            waiting = probe.execute(query).scalar_one()
            probe.rollback()  # pg_stat_activity is a snapshot per transaction
            if waiting >= wanted or (waiting and time.monotonic() - started > 3):
                return
            time.sleep(0.1)


@pytest.mark.postgres
@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
def test_several_workers_start_together_on_a_fresh_database(
    tmp_path: Path, empty_database_url: str
) -> None:
    database_url = empty_database_url
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOLA_")}
    env.update(SPOLA_HOME=str(tmp_path / "home"), SPOLA_DATABASE_URL=database_url)
    fresh = Site(home=tmp_path / "home", env=env, log=tmp_path / "server.log")
    fresh.spola("init")  # no demo: the database is still empty when the workers start
    workers = 2
    # Hold an uncommitted alembic_version table, so the workers' migrations queue up behind
    # it and then start together when it is rolled back: the race, made deterministic.
    engine = create_engine(database_url, poolclass=NullPool)
    gate = engine.connect()
    held = gate.begin()
    gate.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))

    def release() -> None:
        _wait_for_lock_waiters(engine, workers)
        held.rollback()

    try:
        with serving(fresh, "--workers", str(workers), before_ready=release) as client:
            deadline = time.monotonic() + STARTUP_SECONDS
            while fresh.log_text().count("Application startup complete") < workers:
                failed = "Application startup failed" in fresh.log_text()
                if failed or time.monotonic() > deadline:
                    pytest.fail(f"not every worker started:\n{fresh.log_text()}")
                time.sleep(0.1)
            assert client.get("/healthz").json()["tree_size"] == 1  # one genesis, not one each
    finally:
        if held.is_active:
            held.rollback()
        gate.close()
        engine.dispose()


def _head_in_pieces(port: int, head: bytes, pieces: int) -> bytes:
    """``head`` written to the server in ``pieces`` writes, a pause after each so that the
    server reads it unfinished; the whole answer, up to the server closing the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        size = -(-len(head) // pieces)
        try:
            for start in range(0, len(head), size):
                sock.sendall(head[start : start + size])
                time.sleep(0.3)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered before the head was whole: the answer is read below
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage involved
def test_headers_over_the_limit_sent_in_pieces_reach_the_service_and_its_page(
    site: Site,
) -> None:
    """A browser's head over the 16 KiB limit, arriving in pieces as it does over a real network,
    is refused by the service (431, a page in the reader's language), not cut off unfinished by
    the server's own buffer with a bare plain-text 400."""
    cookie = "x" * 40_000
    head = (
        "GET /v1/actors HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n"
        f"Accept-Language: it\r\nCookie: c={cookie}\r\nConnection: close\r\n\r\n"
    ).encode()
    with serving(site) as client:
        port = client.base_url.port
        assert port is not None
        answer = _head_in_pieces(port, head, pieces=4)
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large", answer[:300]
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"content-type: text/html; charset=utf-8" in headers.lower()
    assert b'lang="it"' in body and b"431" in body
