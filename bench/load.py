"""HTTP load: N terminals post signed material events to ``spola serve --workers 2`` at once.

    .venv/bin/python bench/load.py [--admin-url URL] [--terminals N] [--singles S] [--batches B]

For each setting of ``SPOLA_GROUP_COMMIT_MS`` (default: 5, then 0 = off) the script creates a
fresh PostgreSQL database on the admin URL's server (dropped afterwards), runs ``spola init``,
enrols N actors with a facility and a terminal key each, starts ``spola serve --workers 2``,
and has N client threads, one per terminal, post pre-signed material events: first S single
events each (one request per event), then B batches of ``--batch`` events each. Each terminal
posts in feed order and waits for each answer, as a terminal syncing does. It prints events/s
and p50 / p99 request latency for both, and the group sizes of single submissions: receipts
that share a checkpoint were appended by one batch. Load averages are printed before and after
(the machine may be shared), and the CPU time the server's processes and the clients spent per
event, which another load on the machine does not inflate. Clients and server share the
machine's cores; PostgreSQL's own CPU is not counted.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import text

from api.operator import load_operator
from bench.common import fresh_database
from ledger.envelope import Envelope, sign_envelope
from ledger.events import encode_event
from ledger.feed import payload_digest
from ledger.keys import PrivateKey
from ledger.store.ledger import LedgerStore

SPOLA = str(Path(sys.executable).parent / "spola")
FACILITY = {"id": "main", "name": "Tessitura", "town": "Como", "country": "IT",
            "lat": "45.8081", "lon": "9.0852"}  # fmt: skip


@dataclass
class Feed:
    """One terminal's pre-signed material events, in feed order."""

    actor: str
    key: PrivateKey = field(default_factory=PrivateKey.generate)
    seq: int = 0
    prev: str | None = None

    def sign(self, count: int) -> list[Envelope]:
        envelopes = []
        for _ in range(count):
            payload = encode_event({
                "v": 1, "type": "material", "actor": self.actor, "seq": self.seq,
                "prev": self.prev, "time": "2026-11-26T10:00:00Z",
                "lot": f"{self.actor.replace(':actor:', ':lot:')}:{self.seq}",
                "material": "silk-mulberry", "quantity": {"value": "10", "unit": "KGM"},
                "facility": "main",
            })  # fmt: skip
            envelopes.append(sign_envelope(payload, self.key))
            self.seq, self.prev = self.seq + 1, payload_digest(payload)
        return envelopes


@dataclass
class Phase:
    """What one phase measured: request latencies, events sent, wall time, receipts."""

    latencies: list[float] = field(default_factory=list)
    events: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0  # CPU seconds of the server's processes during the phase
    client_cpu: float = 0.0  # and of this process (the clients)
    checkpoints: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def line(self, name: str) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        per_event = 1e6 / self.events
        return (f"{name}: {self.events / self.seconds:,.0f} events/s, {len(ordered)} requests, "
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms; CPU per event: server "
                f"{self.server_cpu * per_event:,.0f} µs, clients "
                f"{self.client_cpu * per_event:,.0f} µs")  # fmt: skip


def _post_all(client: httpx.Client, bodies: Sequence[object], phase: Phase) -> None:
    for body in bodies:
        start = time.perf_counter()
        response = client.post("/v1/entries", json=body)
        elapsed = time.perf_counter() - start
        response.raise_for_status()
        data = response.json()
        answers = data.get("receipts", [data])
        with phase.lock:
            phase.latencies.append(elapsed)
            phase.events += len(answers)
            phase.checkpoints.update(a["checkpoint"] for a in answers)


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of process ``root`` and its descendants, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, (parent, _) in stats.items() if parent in tree} - tree
        tree, grew = tree | more, bool(more)
    return sum(stats[pid][1] for pid in tree if pid in stats) / ticks


def run_phase(server: int, url: str, per_terminal: Sequence[Sequence[object]]) -> Phase:
    """Every terminal's requests at once, one thread per terminal."""
    phase = Phase()
    clients = [httpx.Client(base_url=url, timeout=120) for _ in per_terminal]
    for client in clients:
        client.get("/healthz").raise_for_status()  # connected before the clock starts
    threads = [threading.Thread(target=_post_all, args=(client, bodies, phase))
               for client, bodies in zip(clients, per_terminal, strict=True)]  # fmt: skip
    cpu = (tree_cpu(server), time.process_time())
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - start
    phase.server_cpu = tree_cpu(server) - cpu[0]
    phase.client_cpu = time.process_time() - cpu[1]
    for client in clients:
        client.close()
    return phase


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def enrol(url: str, home: Path, count: int) -> list[Feed]:
    """Genesis and each terminal's actor (with facility ``main``) and key, by the operator."""
    operator = load_operator(home)
    store = LedgerStore.open(url, operator=operator.key, origin=operator.origin)
    feeds = [Feed(f"urn:spola:actor:bench-{n}") for n in range(count)]
    for feed in feeds:
        store.operator_event({"type": "actor", "op": "register", "id": feed.actor,
                              "name": f"Bench workshop {feed.actor[-2:]}",
                              "roles": ["supplier"], "country": "IT",
                              "facilities": [FACILITY]})  # fmt: skip
        store.operator_event({"type": "key", "op": "add", "subject": feed.actor,
                              "key_id": feed.key.public_key.key_id,
                              "public_key": feed.key.public_key.to_base64()})  # fmt: skip
    store.close()
    return feeds


def serve(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [SPOLA, "serve", "--port", str(port), "--workers", str(workers)]
    quiet = subprocess.DEVNULL
    server = subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def one_run(args: argparse.Namespace, group_ms: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="spola-load-")) / "home"
    with fresh_database(args.admin_url, "spola_load") as db:
        # All the clients are one peer address here: its rate limit is off (per key, it stays on).
        env = {**os.environ, "SPOLA_HOME": str(home), "SPOLA_DATABASE_URL": db,
               "SPOLA_GROUP_COMMIT_MS": str(group_ms), "SPOLA_RATE_PER_CLIENT": "0"}  # fmt: skip
        subprocess.run([SPOLA, "init"], env=env, check=True, capture_output=True)
        feeds = enrol(db, home, args.terminals)
        singles = [[e.to_json() for e in f.sign(args.singles)] for f in feeds]
        batches = [[{"envelopes": [e.to_json() for e in f.sign(args.batch)]}
                    for _ in range(args.batches)] for f in feeds]  # fmt: skip
        server, url = serve(env, args.workers)
        try:
            single = run_phase(server.pid, url, singles)
            batch = run_phase(server.pid, url, batches)
        finally:
            server.terminate()
            server.wait(timeout=30)
    groups = single.checkpoints
    label = f"group commit {group_ms} ms" if group_ms else "group commit off"
    print(f"-- {label}, {args.terminals} terminals, {args.workers} workers, PostgreSQL")
    print("  " + single.line("single events"))
    print(f"  single-event groups: {len(groups)} batches for {single.events} events, "
          f"mean {single.events / len(groups):.1f}, largest {max(groups.values())}")  # fmt: skip
    print("  " + batch.line(f"batches of {args.batch}"))


def store_cost(admin_url: str, events: int = 200, group: int = 4) -> None:
    """CPU and wall time per event of ``LedgerStore.append``, alone and in groups, no HTTP."""
    with fresh_database(admin_url, "spola_load") as db:
        store = LedgerStore.open(db, operator=PrivateKey.generate(), origin="bench.spola/load")
        feed = Feed("urn:spola:actor:bench-store")
        store.operator_event({"type": "actor", "op": "register", "id": feed.actor,
                              "name": "Bench", "roles": ["supplier"], "country": "IT",
                              "facilities": [FACILITY]})  # fmt: skip
        store.operator_event({"type": "key", "op": "add", "subject": feed.actor,
                              "key_id": feed.key.public_key.key_id,
                              "public_key": feed.key.public_key.to_base64()})  # fmt: skip
        store.append(feed.sign(20))  # warm: connections, statement caches
        for size in (1, group):
            envelopes = feed.sign(events)
            cpu, wall = time.process_time(), time.perf_counter()
            for start in range(0, events, size):
                store.append(envelopes[start : start + size])
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(f"  store append in groups of {size}: {cpu / events * 1e6:,.0f} µs CPU, "
                  f"{wall / events * 1e3:.1f} ms wall per event")  # fmt: skip
        with store.engine.connect() as conn:
            conn.execute(text("CREATE TABLE probe (x int)"))  # logged: its commits wait for fsync
            conn.commit()
            wall = time.perf_counter()
            for n in range(100):
                conn.execute(text("INSERT INTO probe VALUES (:n)"), {"n": n})
                conn.commit()
            print(f"  PostgreSQL commit of a one-row insert: "
                  f"{(time.perf_counter() - wall) * 10:.1f} ms")  # fmt: skip
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--admin-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server where the script may create databases",
    )
    parser.add_argument("--terminals", type=int, default=16)
    parser.add_argument("--singles", type=int, default=100, help="single events per terminal")
    parser.add_argument("--batches", type=int, default=5, help="batches per terminal")
    parser.add_argument("--batch", type=int, default=100, help="events per batch")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--group-ms",
        type=int,
        nargs="*",
        default=[5, 0],
        help="SPOLA_GROUP_COMMIT_MS values to compare (0: off; none: no HTTP run)",
    )
    parser.add_argument(
        "--store", action="store_true", help="also time LedgerStore.append alone and in groups"
    )
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, {platform.system()} "
          f"{platform.release()}, Python {platform.python_version()}")  # fmt: skip
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if args.store:
        print("-- the store alone (no HTTP), PostgreSQL")
        store_cost(args.admin_url)
    for group_ms in args.group_ms:
        one_run(args, group_ms)
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
