"""SIGKILL the server, or a terminal mid-sync: nothing acknowledged is lost, nothing doubled.

A server: terminals post signed events, singly (group-committed) and in batches, while the
``spola serve`` process group is SIGKILLed at seeded random moments and restarted. Each
terminal retries an unacknowledged submission unchanged, as a real one does. Afterwards every
acknowledged event is in the log exactly once at its receipt's index, the log verifies end to
end (leaf and chain hashes, the Merkle root against the latest signed checkpoint), the stored
log head, rows and Merkle nodes agree (no partial entry), and ``spola rebuild`` finds the
projections equal to a replay of the log.

A terminal: ``spola sync`` is SIGKILLed while it sends a long queue; the next sync finishes the
job. Every queued event is in the log exactly once and the queue shows each acknowledged.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from signer.keyfile import KeyInfo, read_key_info
from tests.integration.test_http_server import COMMAND, _operator
from tests.integration.test_multi_process_append import (
    Feeder,
    Server,
    check_log_whole,
    check_no_partial_entry,
    check_receipts,
    enrol_terminals,
    operator_env,
    running,
    spola,
    vkey_of,
)
from tests.supply import facility

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILLS = 3
SEED = 20261126
PASSPHRASE = "seta di Como"
QUEUED = 400


def _acked(feeders: list[Feeder]) -> int:
    return sum(len(f.acked) for f in feeders)


def _kill_during_load(server: Server, feeders: list[Feeder], rng: random.Random) -> None:
    """Kill the server ``KILLS`` times, each after more events were acknowledged."""
    for _ in range(KILLS):
        _wait_for_acks(feeders, rng.randint(5, 40))
        time.sleep(rng.random() * 0.05)  # land anywhere: mid-request, mid-commit, between
        server.kill()
        server.start()
    _wait_for_acks(feeders, 20)  # and the restarted server takes load again


def _wait_for_acks(feeders: list[Feeder], more: int) -> None:
    floor, deadline = _acked(feeders) + more, time.monotonic() + 60
    while _acked(feeders) < floor:
        if time.monotonic() > deadline:
            pytest.fail(f"no progress: {_acked(feeders)} events acknowledged, wanted {floor}")
        time.sleep(0.005)


def test_server_killed_during_load_loses_and_doubles_nothing(
    tmp_path: Path, database_url: str
) -> None:
    env = operator_env(tmp_path, database_url)
    server = Server(env, tmp_path / "server.log")
    stop = threading.Event()
    with running(server):
        terminals = enrol_terminals(server.url, tmp_path / "home", ["a", "b", "c", "d"])
        feeders = [
            Feeder(t, [server.url], batch=5 if i == 0 else 1) for i, t in enumerate(terminals)
        ]
        threads = [threading.Thread(target=f.run, args=(None, stop)) for f in feeders]
        for thread in threads:
            thread.start()
        try:
            _kill_during_load(server, feeders, random.Random(SEED))
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        entries = check_log_whole(server.url)
        check_receipts(entries, feeders, vkey_of(server.url))
    size = check_no_partial_entry(database_url)
    assert size == len(entries) == 1 + 2 * len(terminals) + _acked(feeders)
    assert "stored projections equal the replay of the log" in spola(env, "rebuild")
    assert server.text().count("Application startup complete") == KILLS + 1
    assert sum(f.retries for f in feeders) > 0  # the kills did meet terminals mid-submission


# -- a terminal killed mid-sync ---------------------------------------------------------------


def _queued_terminal(tmp_path: Path, env: dict[str, str], actor: str) -> dict[str, str]:
    """A terminal home with a key for ``actor`` and ``QUEUED`` material events signed."""
    terminal = {**env, "SPOLA_TERMINAL_HOME": str(tmp_path / "terminal")}
    terminal["SPOLA_KEY_PASSPHRASE"] = PASSPHRASE
    spola(terminal, "key", "generate", "--actor", actor)
    lot = actor.replace(":actor:", ":lot:")
    rows = [f"{lot}:{n},silk-mulberry,1,KGM,main" for n in range(QUEUED)]
    csv = tmp_path / "lots.csv"
    csv.write_text("lot,material,quantity.value,quantity.unit,facility\n" + "\n".join(rows))
    spola(terminal, "sign", "material", "--from", str(csv))
    return terminal


def _register(url: str, home: Path, info: KeyInfo) -> None:
    """The operator registers the terminal's actor and adds its key, over HTTP."""
    with httpx.Client(base_url=url, timeout=30) as client:
        operator = _operator(client, home)
        key = {"type": "key", "op": "add", "subject": info.actor, "key_id": info.key_id}
        envelopes = [
            operator.register(info.actor, facilities=[facility()]),
            operator.sign({**key, "public_key": info.public_key.to_base64()}),
        ]
        body = {"envelopes": [e.to_json() for e in envelopes]}
        assert client.post("/v1/entries", json=body).status_code == 200


def _queue(path: Path) -> list[tuple[str, int | None, bytes]]:
    """(state, log index, entry) of every queued event, read beside a running sync."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
        rows = db.execute("SELECT state, log_index, entry FROM events ORDER BY position")
        return [(state, index, bytes(entry)) for state, index, entry in rows]


def _kill_mid_sync(terminal: dict[str, str], url: str, queue: Path) -> None:
    """Start ``spola sync`` in small batches; SIGKILL it once part of the queue is answered."""
    sync = subprocess.Popen(
        [*COMMAND, "sync", "--ledger", url, "--batch", "5"],
        env=terminal,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while sync.poll() is None:
            answered = sum(state != "pending" for state, _, _ in _queue(queue))
            if answered >= QUEUED // 4:
                os.killpg(sync.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        assert sync.wait(timeout=60) == -signal.SIGKILL, "sync ended before it could be killed"
    finally:
        if sync.poll() is None:
            os.killpg(sync.pid, signal.SIGKILL)
            sync.wait(timeout=60)


def test_terminal_killed_mid_sync_sends_each_event_exactly_once(
    tmp_path: Path, database_url: str
) -> None:
    env = operator_env(tmp_path, database_url)
    server = Server(env, tmp_path / "server.log")
    actor = "urn:spola:actor:setificio-lario"
    terminal = _queued_terminal(tmp_path, env, actor)
    queue = tmp_path / "terminal" / "queue.db"
    with running(server):
        _register(
            server.url, tmp_path / "home", read_key_info(tmp_path / "terminal" / "terminal.key")
        )
        _kill_mid_sync(terminal, server.url, queue)
        assert 0 < sum(state == "pending" for state, _, _ in _queue(queue)) < QUEUED
        out = spola(terminal, "sync", "--ledger", server.url)
        assert ", 0 not applied" in out, out
        entries = check_log_whole(server.url)
    queued = _queue(queue)
    assert Counter(state for state, _, _ in queued) == {"applied": QUEUED}
    counts = Counter(entries)
    for _, index, entry in queued:
        assert index is not None and entries[index] == entry and counts[entry] == 1
    assert check_no_partial_entry(database_url) == len(entries) == 1 + 2 + QUEUED
