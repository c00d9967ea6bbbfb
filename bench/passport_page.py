"""Consumer scans: the passport page and its JSON-LD under concurrent readers.

    .venv/bin/python bench/passport_page.py [--db URL] [--workers 2] [--clients 16] [--requests 50]

Seeds the demo ledger into a fresh database (a SQLite file in a temporary folder unless --db
names an empty PostgreSQL database), starts ``spola serve --workers N``, and has C client threads
each fetch R resolver answers in turn over the demo's seven passports: the HTML page (which
re-checks every signature and inclusion proof behind it on each request), the JSON-LD and a
revalidation with ``If-None-Match`` (304). It prints requests/s and p50 / p99 latency for each,
and the load average before and after: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from api.demo_story import BAGS, JACKETS, SCARVES

SPOLA = str(Path(sys.executable).parent / "spola")
PIECES = [*SCARVES, *JACKETS, *BAGS]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [SPOLA, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("bench: the service did not start")


def _phase(base: str, clients: int, requests: int, kind: str) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    headers = {"html": {"Accept": "text/html"}, "jsonld": {"Accept": "application/ld+json"}}

    def client(number: int) -> None:
        mine: list[float] = []
        with httpx.Client(base_url=base, timeout=60) as http:
            tags: dict[str, str] = {}
            for i in range(requests):
                piece = PIECES[(number + i) % len(PIECES)]
                sent = dict(headers.get(kind, {"Accept": "text/html"}))
                if kind == "revalidate" and piece in tags:
                    sent["If-None-Match"] = tags[piece]
                start = time.perf_counter()
                answer = http.get(piece, headers=sent)
                mine.append(time.perf_counter() - start)
                if answer.status_code not in (200, 304):
                    raise SystemExit(f"bench: {piece} answered {answer.status_code}")
                tags[piece] = answer.headers.get("etag", "")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies


def _report(kind: str, elapsed: float, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    rate = len(ordered) / elapsed
    print(f"{kind:<11} {rate:8.1f} requests/s   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an empty database URL (default: a temporary SQLite file)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=50, help="per client and phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{folder}/ledger.db"
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPOLA_")}
        env.update(SPOLA_HOME=f"{folder}/home", SPOLA_DATABASE_URL=url,
                   SPOLA_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
                   SPOLA_RATE_PER_CLIENT="0")  # fmt: skip
        subprocess.run([SPOLA, "init"], env=env, check=True, capture_output=True)
        subprocess.run([SPOLA, "demo"], env=env, check=True, capture_output=True)
        print(f"load average before: {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores; {url}")
        server = _serve(env, port, args.workers)
        try:
            base = f"http://127.0.0.1:{port}"
            for kind in ("html", "jsonld", "revalidate"):
                elapsed, latencies = _phase(base, args.clients, args.requests, kind)
                _report(kind, elapsed, latencies)
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
