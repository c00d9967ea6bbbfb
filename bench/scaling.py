"""Append cost and proof time as the log grows: at 10^4 entries and at 10^6.

    .venv/bin/python bench/scaling.py [--db URL] [--sizes 10000,1000000]

The log is filled through the store's normal append path (signed events, batches of 1,000).
At each size it measures the per-event cost of appending 100 batches of 100 events, and the
time to build an inclusion proof and a consistency proof from the database (1,000 random
requests each). Targets (issue: foundation): append cost at 10^6 within 1.25 x the cost at
10^4; an inclusion proof at 10^6 under 2 ms.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import enrol_terminals, signed_feed
from ledger.envelope import Envelope
from ledger.keys import PrivateKey
from ledger.store.ledger import LedgerStore


class Feeds:
    """Round-robin signed events from a few terminals, signed on demand."""

    def __init__(self, terminals: list[tuple[PrivateKey, str]]) -> None:
        self.state: list[tuple[PrivateKey, str, int, str | None]] = [
            (key, actor, 0, None) for key, actor in terminals
        ]
        self.turn = 0

    def take(self, count: int) -> list[Envelope]:
        key, actor, seq, prev = self.state[self.turn]
        envelopes, last = signed_feed(key, actor, count, start_seq=seq, prev=prev)
        self.state[self.turn] = (key, actor, seq + count, last)
        self.turn = (self.turn + 1) % len(self.state)
        return envelopes


def fill(store: LedgerStore, feeds: Feeds, target: int) -> None:
    start = time.perf_counter()
    while (size := store.tree_size()) < target:
        store.append(feeds.take(min(1000, target - size)))
        if size // 100_000 != store.tree_size() // 100_000:
            rate = store.tree_size() / (time.perf_counter() - start)
            print(f"  filled {store.tree_size():,} entries ({rate:,.0f}/s)", flush=True)


BATCHES = 100  # of 100 events: long enough to include the write-ahead log's checkpoints


def measure(store: LedgerStore, feeds: Feeds) -> tuple[float, float, float]:
    batches = [feeds.take(100) for _ in range(BATCHES)]
    start = time.perf_counter()
    for batch in batches:
        store.append(batch)
    append_us = (time.perf_counter() - start) / (BATCHES * 100) * 1e6
    size = store.tree_size()
    rng = random.Random(7)
    start = time.perf_counter()
    for _ in range(1000):
        store.inclusion_proof(rng.randrange(size), size)
    inclusion_ms = time.perf_counter() - start  # seconds for 1,000 = ms per proof
    start = time.perf_counter()
    for _ in range(1000):
        store.consistency_proof(rng.randrange(1, size), size)
    consistency_ms = time.perf_counter() - start
    return append_us, inclusion_ms, consistency_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--sizes", default="10000,1000000")
    args = parser.parse_args()
    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='spola-scaling-')}/scaling.db"
    store = LedgerStore.open(url, operator=PrivateKey.generate(), origin="bench.spola/scaling")
    feeds = Feeds(enrol_terminals(store, 8))
    results = []
    for target in (int(s) for s in args.sizes.split(",")):
        fill(store, feeds, target)
        start_size = store.tree_size()
        append_us, inclusion_ms, consistency_ms = measure(store, feeds)
        results.append((start_size, append_us))
        print(
            f"from {start_size:>9,} entries: append {append_us:6.1f} us/event, "
            f"inclusion proof {inclusion_ms:.3f} ms, consistency proof {consistency_ms:.3f} ms"
        )
    if len(results) > 1:
        ratio = results[-1][1] / results[0][1]
        sizes = f"from {results[-1][0]:,} vs from {results[0][0]:,}"
        print(f"append cost ratio {sizes}: {ratio:.2f} (target <= 1.25)")
    store.close()


if __name__ == "__main__":
    main()
