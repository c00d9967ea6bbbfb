"""Batch ingest through the store and over HTTP, next to raw single-core Ed25519 verify/s.

    .venv/bin/python bench/ingest.py [--db URL | --admin-url URL] [--events N] [--batch B]
        [--repeat R] [--writers W] [--http]

Target (issue: foundation): store ingest >= 0.5 x the raw verify rate of the same run.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from api.operator import load_operator
from bench.common import enrol_terminals, fresh_database, raw_verify_rate, signed_feed, timed
from ledger.envelope import Envelope
from ledger.keys import PrivateKey
from ledger.store.ledger import LedgerStore


def store_ingest(
    url: str, events: int, batch: int, terminals: int, writers: int = 1
) -> tuple[float, float]:
    """One run on a fresh log: (events/s through the store, raw verify/s on the same events).

    With ``writers`` > 1, that many threads append at once, each the batches of its own
    terminals, as a service's request handlers do: one batch's signature checks then run
    while another batch holds the sequencer's lock and waits on the database.
    """
    store = LedgerStore.open(url, operator=PrivateKey.generate(), origin="bench.spola/ingest")
    enrolled = enrol_terminals(store, terminals)
    per = events // terminals
    feeds = [signed_feed(key, actor, per)[0] for key, actor in enrolled]
    streams = [
        [env for group in zip(*feeds[w::writers], strict=True) for env in group]
        for w in range(writers)
    ]
    keys = {key.public_key.key_id: key.public_key.raw for key, _ in enrolled}
    raw = raw_verify_rate(streams[0][:5000], keys)

    def write(envelopes: list[Envelope]) -> None:
        for start in range(0, len(envelopes), batch):
            store.append(envelopes[start : start + batch])

    # The pre-signed inputs are the harness's, not the store's: move them out of the cyclic
    # collector's way, as a service does with its start-up heap, so that full collections
    # during the run do not walk 20,000 envelopes the store never allocated.
    gc.collect()
    gc.freeze()
    with timed() as elapsed:
        if writers == 1:
            write(streams[0])
        else:
            with ThreadPoolExecutor(writers) as pool:
                list(pool.map(write, streams))
    gc.unfreeze()
    store.close()
    return sum(map(len, streams)) / elapsed[0], raw


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_ingest(events: int, batch: int, terminals: int) -> float:
    home = Path(tempfile.mkdtemp(prefix="spola-bench-"))
    env = {**os.environ, "SPOLA_HOME": str(home / "home"),
           "SPOLA_DATABASE_URL": f"sqlite:///{home / 'http.db'}"}  # fmt: skip
    spola = str(Path(sys.executable).parent / "spola")
    subprocess.run([spola, "init"], env=env, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen([spola, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz").raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        operator = load_operator(home / "home")
        # Enrol through the store API would need the operator's feed: do it through HTTP too.
        store = LedgerStore.open(env["SPOLA_DATABASE_URL"], operator=operator.key,
                                 origin=operator.origin)  # fmt: skip
        enrolled = enrol_terminals(store, terminals)
        store.close()
        per = events // terminals
        feeds = [signed_feed(key, actor, per)[0] for key, actor in enrolled]
        envelopes = [env.to_json() for group in zip(*feeds, strict=True) for env in group]
        with httpx.Client(base_url=base, timeout=60) as client, timed() as elapsed:
            for start in range(0, len(envelopes), batch):
                client.post("/v1/entries", json={"envelopes": envelopes[start : start + batch]}
                            ).raise_for_status()  # fmt: skip
        return len(envelopes) / elapsed[0]
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--db", help="an EMPTY database of its own (default: fresh SQLite files); it keeps the log"
    )
    parser.add_argument(
        "--admin-url",
        help="a PostgreSQL server where the script may create a database for each run (dropped"
        " afterwards), e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--terminals", type=int, default=20)
    parser.add_argument(
        "--writers", type=int, default=1, help="threads appending at once (default 1)"
    )
    parser.add_argument("--http", action="store_true", help="also measure over HTTP")
    parser.add_argument("--repeat", type=int, default=5, help="fresh logs; best is shown")
    args = parser.parse_args()
    if args.db and args.admin_url:
        parser.error("give --db or --admin-url, not both")
    if not 1 <= args.writers <= args.terminals:
        parser.error(f"--writers must be from 1 to --terminals ({args.terminals})")
    machine = f"{platform.machine()} {os.cpu_count()} cores"
    print(f"machine: {machine}, Python {platform.python_version()}")
    runs = []
    for run in range(args.repeat):
        if args.admin_url:
            with fresh_database(args.admin_url, "spola_bench") as url:
                runs.append(
                    store_ingest(url, args.events, args.batch, args.terminals, args.writers)
                )
            continue
        if args.db and run:
            break  # a given database holds one log: one run
        url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='spola-bench-')}/ingest.db"
        runs.append(store_ingest(url, args.events, args.batch, args.terminals, args.writers))
    rate = max(r for r, _ in runs)
    raw = max(v for _, v in runs)
    engine = (args.db or args.admin_url or "sqlite").split(":", 1)[0]
    print(f"raw single-core Ed25519 verify: {raw:,.0f}/s (best of {len(runs)})")
    print(
        f"store batch ingest ({engine}, batch {args.batch}, {args.writers} writer"
        f"{'s' if args.writers > 1 else ''}): {rate:,.0f} events/s "
        f"= {rate / raw:.2f} x raw verify (target >= 0.5; best of {len(runs)})"
    )
    if args.http:
        http = http_ingest(args.events, args.batch, args.terminals)
        print(f"HTTP batch ingest (sqlite, batch {args.batch}, 1 worker): {http:,.0f} events/s "
              f"= {http / raw:.2f} x raw verify")  # fmt: skip


if __name__ == "__main__":
    main()
