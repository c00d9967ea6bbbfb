"""Two ``spola serve`` processes append to one database at once: no fork, no gap.

Terminals post signed material events, singly and in batches, to both servers in turn (a feed
moves between processes from one event to the next), all at once. Afterwards the log is checked
from the outside as an auditor would — indices 0..N-1, every leaf and chain hash recomputed,
the Merkle root of all leaves equal to the latest signed checkpoint — and from the inside: the
log head, the rows and the stored Merkle nodes agree, so no entry is partial. Every receipt a
terminal got back names an index that holds exactly its envelope, and its inclusion proof
verifies against its own checkpoint. Single events are group-committed: some receipts share a
checkpoint, which only one batch can sign.

Within one process, against the real sequencer: a group of concurrent single submissions is
one batch with one checkpoint, and a group holding a forged signature, an equivocation, a
resubmission and two events at one seq answers each as if it had been submitted alone.

The server harness and the log checks here are shared with ``test_crash_safety.py``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from api.group_commit import GroupCommit, append_group
from ledger.checkpoint import verify_checkpoint
from ledger.envelope import Envelope, Signature
from ledger.hashing import CHAIN_GENESIS, chain_hash, leaf_hash
from ledger.receipt import Receipt
from ledger.store.ledger import LedgerStore
from ledger.store.schema import checkpoints, equivocations, log_entries, log_head, merkle_nodes
from tests.conftest import enrol
from tests.integration.test_api_independent_client import mth
from tests.integration.test_http_server import COMMAND, _entries, _operator, launch
from tests.supply import facility, material
from tests.terminal import Terminal

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STARTUP_SECONDS = 60
STOP_SECONDS = 20
RETRY_SECONDS = 0.05


# -- servers ----------------------------------------------------------------------------------


def operator_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of an operator home on ``database_url``, after ``spola init``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOLA_")}
    env.update(SPOLA_HOME=str(tmp_path / "home"), SPOLA_DATABASE_URL=database_url)
    # Every client here is one peer, and a terminal posts as fast as it is answered: the rate
    # limits (api.ratelimit) are not what these tests are about.
    env.update(SPOLA_RATE_PER_CLIENT="0", SPOLA_RATE_PER_KEY="0", **extra)
    spola(env, "init")
    return env


def spola(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*COMMAND, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@dataclass
class Server:
    """One ``spola serve`` process group on a fixed port: started, killed, restarted."""

    env: dict[str, str]
    log: Path
    args: tuple[str, ...] = ()
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        assert self.port is not None, "the server has not started"
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Started and healthy; a restart keeps the port the terminals know."""
        self.process, self.port = launch(list(self.args), self.env, self.log, self.port)

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown, no flush, mid-transaction."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_SECONDS)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def running(*servers: Server) -> Iterator[None]:
    try:
        for server in servers:
            server.start()
        yield
    finally:
        for server in servers:
            server.kill()


# -- terminals --------------------------------------------------------------------------------


def enrol_terminals(url: str, home: Path, slugs: list[str]) -> list[Terminal]:
    """Register each actor with a facility and a terminal key, in one batch over HTTP."""
    with httpx.Client(base_url=url, timeout=30) as client:
        operator = _operator(client, home)
        terminals = [Terminal(actor=f"urn:spola:actor:{slug}") for slug in slugs]
        body = [
            envelope.to_json()
            for t in terminals
            for envelope in (
                operator.register(t.actor, facilities=[facility()]),
                operator.add_key(t.actor, t.key),
            )
        ]
        response = client.post("/v1/entries", json={"envelopes": body})
        assert response.status_code == 200, response.text
    return terminals


@dataclass
class Feeder:
    """A terminal posting material events, ``batch`` at a time (1: single submissions).

    Each submission is retried, unchanged, until the ledger acknowledges it, as a terminal
    would: a resubmitted envelope gets its original receipt back. ``acked`` keeps every
    acknowledged envelope with its receipt.
    """

    terminal: Terminal
    urls: list[str]
    batch: int
    acked: list[tuple[Envelope, Receipt]] = field(default_factory=list)
    singles: list[Receipt] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    retries: int = 0  # submissions sent again: the server was down or failed
    _sent: int = 0

    def next_envelopes(self) -> list[Envelope]:
        lots = range(self._sent, self._sent + self.batch)
        self._sent += self.batch
        slug = self.terminal.actor.rsplit(":", 1)[1]
        return [self.terminal.sign(material(f"urn:spola:lot:{slug}:{n}", "10")) for n in lots]

    def submit(self, client: httpx.Client, envelopes: list[Envelope]) -> None:
        body: Any = envelopes[0].to_json() if self.batch == 1 else None
        if body is None:
            body = {"envelopes": [e.to_json() for e in envelopes]}
        while True:
            try:
                response = client.post("/v1/entries", json=body)
            except httpx.TransportError:
                self.retries += 1
                time.sleep(RETRY_SECONDS)  # the server is down: a terminal tries again
                continue
            if response.status_code >= 500:
                self.retries += 1
                time.sleep(RETRY_SECONDS)
                continue
            if response.status_code not in (200, 201):
                self.refused.append(response.text)
                return
            data = response.json()
            answers = [data] if self.batch == 1 else data["receipts"]
            receipts = [Receipt.from_json(a) for a in answers]
            self.acked.extend(zip(envelopes, receipts, strict=True))
            if self.batch == 1:
                self.singles.extend(receipts)
            return

    def run(self, rounds: int | None, stop: threading.Event | None = None) -> None:
        clients = [httpx.Client(base_url=url, timeout=30) for url in self.urls]
        try:
            done = 0
            while (rounds is None or done < rounds) and not (stop and stop.is_set()):
                self.submit(clients[done % len(clients)], self.next_envelopes())
                done += 1
        finally:
            for client in clients:
                client.close()


def run_all(feeders: list[Feeder], rounds: int) -> None:
    threads = [threading.Thread(target=f.run, args=(rounds,)) for f in feeders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# -- the checks -------------------------------------------------------------------------------


def check_log_whole(url: str) -> list[bytes]:
    """The log as an auditor sees it over HTTP, checked end to end; its entries' bytes."""
    with httpx.Client(base_url=url, timeout=30) as client:
        vkey = client.get("/v1/log/key").text.strip()
        checkpoint = verify_checkpoint(client.get("/v1/log/checkpoint").content, vkey)
        rows = _entries(client, checkpoint.size)
    assert [row["index"] for row in rows] == list(range(checkpoint.size))  # no gap
    chain, leaves = CHAIN_GENESIS, []
    for row in rows:
        leaf = leaf_hash(base64.b64decode(row["entry"]))
        assert leaf.hex() == row["leaf_hash"]
        chain = chain_hash(chain, leaf)
        assert chain.hex() == row["chain_hash"], f"the chain breaks at {row['index']}"
        leaves.append(leaf)
    assert mth(leaves) == checkpoint.root_hash  # one tree: no fork
    return [base64.b64decode(row["entry"]) for row in rows]


def check_no_partial_entry(database_url: str) -> int:
    """The log head, the entry rows, the checkpoints and the stored Merkle nodes agree."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            size = conn.execute(select(log_head.c.size)).scalar_one()
            rows, top = conn.execute(select(func.count(), func.max(log_entries.c.idx))).one()
            latest = conn.execute(select(func.max(checkpoints.c.size))).scalar_one()
            levels = select(merkle_nodes.c.level, func.count()).group_by(merkle_nodes.c.level)
            per_level: dict[int, int] = {level: n for level, n in conn.execute(levels).all()}
    finally:
        engine.dispose()
    assert (rows, top, latest) == (size, size - 1, size)
    # every complete subtree of the tree has its node, and no node lies beyond the tree
    wanted = {level: size >> level for level in range(size.bit_length())}
    assert per_level == wanted
    return int(size)


def check_receipts(entries: list[bytes], feeders: list[Feeder], vkey: str) -> None:
    """Each acknowledged envelope is in the log exactly once, at its receipt's index."""
    counts = Counter(entries)
    for feeder in feeders:
        assert not feeder.refused, feeder.refused[:3]
        for envelope, receipt in feeder.acked:
            entry = envelope.to_bytes()
            assert entries[receipt.index] == entry
            assert counts[entry] == 1
            receipt.verify(entry, vkey)


def vkey_of(url: str) -> str:
    return httpx.get(f"{url}/v1/log/key", timeout=30).text.strip()


# -- the test ---------------------------------------------------------------------------------

TERMINALS = 6
ROUNDS = 8


def test_two_servers_appending_at_once_never_fork_or_leave_a_gap(
    tmp_path: Path, database_url: str
) -> None:
    # A wide window, so that concurrent single submissions surely meet in one group.
    env = operator_env(tmp_path, database_url, SPOLA_GROUP_COMMIT_MS="100")
    servers = [Server(env, tmp_path / "a.log"), Server(env, tmp_path / "b.log")]
    with running(*servers):
        urls = [s.url for s in servers]
        slugs = [f"bottega-{i}" for i in range(TERMINALS)]
        terminals = enrol_terminals(urls[0], tmp_path / "home", slugs)
        feeders = [
            Feeder(t, urls[i % 2 :] + urls[: i % 2], batch=1 if i % 3 else 5)
            for i, t in enumerate(terminals)
        ]
        run_all(feeders, ROUNDS)
        entries = check_log_whole(urls[1])
        check_receipts(entries, feeders, vkey_of(urls[0]))
    size = check_no_partial_entry(database_url)
    sent = sum(len(f.acked) for f in feeders)
    assert size == 1 + 2 * TERMINALS + sent  # genesis, enrolment, every event once
    shared = Counter(r.checkpoint for f in feeders for r in f.singles)
    assert max(shared.values()) > 1, "no two single submissions shared a batch"


# -- one process: a group answers each submission as if it had been alone ---------------------


def test_a_group_answers_each_submission_as_if_alone(
    store: LedgerStore, operator: Terminal
) -> None:
    terminal = enrol(store, operator, "bottega-gruppo")
    [first] = store.append([terminal.update_self("v0")])
    a, b = terminal.update_self("v1"), terminal.update_self("v2")
    forged = Envelope(a.payload_type, b.payload, (Signature(terminal.key_id, a.signatures[0].sig),))
    twin_seq = terminal.seq
    twin = terminal.update_self("v3")
    group = [
        a,
        forged,  # refused alone: its signature does not verify
        terminal.sign(_update("other v0"), seq=0),  # contradicts a logged entry
        b,
        a,  # a resubmission: the receipt of the first ``a``
        twin,
        terminal.sign(_update("other v3"), seq=twin_seq),  # contradicts ``twin``
    ]
    outcomes = append_group(store.append, group)
    receipts = [o for o in outcomes if isinstance(o, Receipt)]
    assert [type(o).__name__ for o in outcomes] == [
        "Receipt", "SignatureError", "EquivocationError", "Receipt", "Receipt", "Receipt",
        "EquivocationError",
    ]  # fmt: skip
    n = first.index
    assert [r.index for r in receipts] == [n + 1, n + 2, n + 1, n + 3]  # in arrival order
    assert [r.duplicate for r in receipts] == [False, False, True, False]
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(equivocations)).scalar_one() == 2


def _update(name: str) -> dict[str, Any]:
    return {"type": "actor", "op": "update", "id": "urn:spola:actor:bottega-gruppo",
            "name": name, "roles": ["supplier"], "country": "IT"}  # fmt: skip


def test_concurrent_single_submissions_share_one_batch_and_one_checkpoint(
    store: LedgerStore, operator: Terminal
) -> None:
    terminals = [enrol(store, operator, f"bottega-{n}") for n in range(8)]
    commit = GroupCommit(store.append, window_ms=200, max_batch=len(terminals))

    async def submit_all() -> list[Receipt]:
        return await asyncio.gather(*(commit.submit(t.update_self("v1")) for t in terminals))

    receipts = asyncio.run(submit_all())
    assert len({r.checkpoint for r in receipts}) == 1  # one batch signed one checkpoint
    first = min(r.index for r in receipts)
    assert sorted(r.index for r in receipts) == list(range(first, first + len(terminals)))
    assert (commit.stats.groups, commit.stats.largest) == (1, len(terminals))
