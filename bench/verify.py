"""Offline verification throughput against cores x raw single-core Ed25519 verify/s.

    .venv/bin/python bench/verify.py [--events N] [--terminals T] [--repeat R]

Fills a fresh SQLite log through the store (small signed actor-profile events, as
bench/ingest.py), exports it with ``spola export bundle``'s code, then verifies the bundle
file with 1 thread and with every core, best of R runs each.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import enrol_terminals, raw_verify_rate, signed_feed
from ledger.keys import PrivateKey
from ledger.store.bundle import export_bundle
from ledger.store.ledger import LedgerStore
from verifier import verify_bundle


def build(directory: Path, events: int, terminals: int) -> tuple[Path, str, float]:
    """A bundle of about ``events`` entries; its path, the log vkey and the raw verify rate."""
    url = f"sqlite:///{directory / 'ledger.db'}"
    store = LedgerStore.open(url, operator=PrivateKey.generate(), origin="bench.spola/verify")
    enrolled = enrol_terminals(store, terminals)
    feeds = [signed_feed(key, actor, events // terminals)[0] for key, actor in enrolled]
    envelopes = [env for group in zip(*feeds, strict=True) for env in group]
    for start in range(0, len(envelopes), 1000):
        store.append(envelopes[start : start + 1000])
    keys = {key.public_key.key_id: key.public_key.raw for key, _ in enrolled}
    raw = raw_verify_rate(envelopes[:5000], keys)
    out = directory / "ledger.bundle"
    export_bundle(store, out)
    vkey = store.log_vkey
    store.close()
    return out, vkey, raw


def rate(path: Path, vkey: str, jobs: int, repeat: int) -> tuple[float, int]:
    best = 0.0
    entries = 0
    for _ in range(repeat):
        start = time.perf_counter()
        with path.open("rb") as source:
            report = verify_bundle(source, vkey, jobs=jobs)
        elapsed = time.perf_counter() - start
        assert report.valid, report.to_text()
        entries = report.entries
        best = max(best, entries / elapsed)
    return best, entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--terminals", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        path, vkey, raw = build(Path(tmp), args.events, args.terminals)
        size = path.stat().st_size
        print(f"bundle: {size / 2**20:.1f} MiB; raw single-core verify: {raw:,.0f}/s")
        for jobs in sorted({1, cores}):
            per_second, entries = rate(path, vkey, jobs, args.repeat)
            print(
                f"verify, {jobs} thread(s): {entries:,} entries at {per_second:,.0f} entries/s"
                f" = {per_second / raw:.2f} x raw, {per_second / (cores * raw):.2f} x cores x raw"
                f" ({cores} cores)"
            )


if __name__ == "__main__":
    main()
