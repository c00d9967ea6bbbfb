"""Offline verification throughput against cores x raw single-core Ed25519 verify/s.

    .venv/bin/python bench/verify.py [--events N] [--terminals T] [--repeat R]
        [--base-steps FILE]   # e.g. git show BASE:verifier/steps.py > /tmp/base_steps.py

Fills a fresh SQLite log through the store (small signed directory-profile events, as
bench/ingest.py), exports it with ``spola export bundle``'s code, then measures, best of R
rounds, each round taking every measure in turn (so that a shared machine's load falls on all
alike): the raw single-core PyNaCl verify rate; the signature stage alone (the verifier's
signature check over parsed envelopes, across one process per core); the whole verification
of the file at --jobs 1 and --jobs = cores; and, with --base-steps, the same two with another
version of ``verifier/steps.py`` (the base of a change). CPU time (this process, and worker
processes) and the CPU steal of the run (/proc/stat) are printed too.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import enrol_terminals, raw_verify_rate, signed_feed
from ledger.envelope import Envelope
from ledger.keys import PrivateKey
from ledger.store.bundle import export_bundle
from ledger.store.ledger import LedgerStore
from verifier import Report, verify_bundle
from verifier.entries import KeyCache, signature_verifies

Verify = Callable[..., Report]


Built = tuple[Path, str, list[Envelope], dict[str, bytes]]


def build(directory: Path, events: int, terminals: int) -> Built:
    """A bundle of about ``events`` entries: its path, the log vkey, the envelopes, the keys."""
    url = f"sqlite:///{directory / 'ledger.db'}"
    store = LedgerStore.open(url, operator=PrivateKey.generate(), origin="bench.spola/verify")
    enrolled = enrol_terminals(store, terminals)
    feeds = [signed_feed(key, actor, events // terminals)[0] for key, actor in enrolled]
    envelopes = [env for group in zip(*feeds, strict=True) for env in group]
    for start in range(0, len(envelopes), 1000):
        store.append(envelopes[start : start + 1000])
    keys = {key.public_key.key_id: key.public_key.raw for key, _ in enrolled}
    out = directory / "ledger.bundle"
    export_bundle(store, out)
    vkey = store.log_vkey
    store.close()
    return out, vkey, envelopes, keys


def _verify_part(envelopes: list[Envelope], raw_keys: list[bytes]) -> int:
    cache = KeyCache()
    cache.learn(raw_keys)
    return sum(signature_verifies(envelope, cache) for envelope in envelopes)


def signature_stage_rate(envelopes: list[Envelope], keys: dict[str, bytes], jobs: int) -> float:
    """The verifier's signature check alone, over parsed envelopes, across ``jobs`` processes."""
    parts = [envelopes[i : i + 1024] for i in range(0, len(envelopes), 1024)]
    raw_keys = list(keys.values())
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(_verify_part, parts[:jobs], [raw_keys] * jobs))  # workers started
        start = time.perf_counter()
        good = sum(pool.map(_verify_part, parts, [raw_keys] * len(parts)))
        elapsed = time.perf_counter() - start
    assert good == len(envelopes)
    return len(envelopes) / elapsed


def verify_once(
    verify: Verify, path: Path, vkey: str, jobs: int
) -> tuple[float, int, float, float]:
    """(entries/s, entries, CPU s of this process, CPU s of worker processes) for one run."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time()
    start = time.perf_counter()
    with path.open("rb") as source:
        report = verify(source, vkey, jobs=jobs)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers = max(0.0, after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime)
    assert report.valid, report.to_text()
    return report.entries / elapsed, report.entries, cpu, workers


def _cpu_counters() -> tuple[float, float, float]:
    """(busy, steal, total) CPU seconds of the whole machine so far (/proc/stat; 0 elsewhere)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:8]]
    except OSError:
        return 0.0, 0.0, 0.0
    hz = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle, iowait
    steal = fields[7] if len(fields) > 7 else 0
    return (sum(fields) - idle) / hz, steal / hz, (sum(fields) + steal) / hz


def _own_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _base(path: str | None) -> Verify | None:
    if path is None:
        return None
    spec = importlib.util.spec_from_file_location("base_steps", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    verify: Verify = module.verify_bundle
    return verify


def measure(args: argparse.Namespace, path: Path, vkey: str, envelopes: list[Envelope],
            keys: dict[str, bytes]) -> dict[str, list[Any]]:  # fmt: skip
    cores = os.cpu_count() or 1
    sample = envelopes[:5000]
    runs: list[tuple[str, Verify, int]] = [("head", verify_bundle, jobs) for jobs in (1, cores)]
    base = _base(args.base_steps)
    if base is not None:
        runs += [("base", base, jobs) for jobs in (1, cores)]
    best: dict[str, list[Any]] = {}
    for _ in range(args.repeat):
        rate = raw_verify_rate(sample, keys)
        best["raw"] = [max(rate, *best.get("raw", [0.0]))]
        rate = signature_stage_rate(envelopes, keys, cores)
        best["stage"] = [max(rate, *best.get("stage", [0.0]))]
        for name, verify, jobs in runs:
            result = verify_once(verify, path, vkey, jobs)
            label = f"{name} --jobs {jobs}"
            if result[0] > best.get(label, [0.0])[0]:
                best[label] = list(result)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--terminals", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--base-steps", help="another verifier/steps.py to measure alongside")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        path, vkey, envelopes, keys = build(Path(tmp), args.events, args.terminals)
        before, own, wall = _cpu_counters(), _own_cpu(), time.perf_counter()
        best = measure(args, path, vkey, envelopes, keys)
        after, own, wall = _cpu_counters(), _own_cpu() - own, time.perf_counter() - wall
        busy, steal, total = (a - b for a, b in zip(after, before, strict=True))
        raw = best.pop("raw")[0]
        print(
            f"bundle: {path.stat().st_size / 2**20:.1f} MiB, {cores} cores; best of {args.repeat}"
        )
        print(f"raw single-core PyNaCl verify: {raw:,.0f}/s; cores x raw: {cores * raw:,.0f}/s")
        stage = best.pop("stage")[0]
        print(
            f"signature stage alone, {cores} processes: {stage:,.0f}/s"
            f" = {stage / (cores * raw):.2f} x cores x raw"
        )
        for label, (rate, entries, cpu, workers) in best.items():
            print(
                f"{label}: {entries:,} entries at {rate:,.0f}/s = {rate / raw:.2f} x raw"
                f" = {rate / (cores * raw):.2f} x cores x raw; CPU per entry: this process"
                f" {cpu / entries * 1e6:.0f} us, workers {workers / entries * 1e6:.0f} us"
            )
        if total:
            print(
                f"during the measures: CPU steal {100 * steal / total:.1f} %; other processes"
                f" kept {(busy - own) / wall:.2f} of {cores} cores busy"
            )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"peak RSS of this process: {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
