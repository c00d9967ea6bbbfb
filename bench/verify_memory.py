"""Peak memory of the offline verifier against the size of the bundle: is it bounded?

    .venv/bin/python bench/verify_memory.py [--sizes 10000,100000,1000000] [--terminals T]
        [--jobs N]      # verifier worker processes (default: cores)
        [--repeat R]    # verifications of each bundle, best of R (default 1)
        [--keep DIR]    # keep the SQLite log, the bundles and the log key in DIR (default:
                        # a temporary one), to verify one again by hand:
    .venv/bin/python -m verifier DIR/ledger-N.bundle --log-key DIR/log.vkey --json

Fills one SQLite log through the store (small signed directory-profile events, as
bench/verify.py), growing it size by size: each terminal's feed is signed in chunks and the
terminals are interleaved, 1000 entries to an append, so no more than one round of envelopes
is ever held here; build progress goes to stderr. At each size the log is exported with
``spola export bundle``'s code and verified by ``verify_bundle`` in a fresh interpreter that
imports nothing but the verifier, which reports its wall time, its own peak RSS (VmHWM, as
Linux carries ru_maxrss across exec: see CHILD) and the peak RSS of its largest worker
(getrusage RUSAGE_CHILDREN); with --repeat, the best of R runs of each. One line per size,
then how much the verifier's peak RSS grew per 1,000 extra entries between the smallest and
the largest size: about 0 when its memory is bounded. The peak moves by a MiB or two from run
to run with --jobs > 1 (batches in flight to the workers), so the growth between close sizes
is noisy; over a 10x or 100x range it is not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import enrol_terminals, signed_feed
from ledger.envelope import Envelope
from ledger.keys import PrivateKey
from ledger.store.bundle import export_bundle
from ledger.store.ledger import LedgerStore

ROOT = Path(__file__).resolve().parents[1]
APPEND = 1000  # entries to a store.append, as bench/verify.py
PROGRESS_SECONDS = 5.0

# Run as ``python -c CHILD ROOT BUNDLE VKEY JOBS``: only the verifier is imported, so the peak
# RSS is the verifier's own, not this bench's (SQLAlchemy, the store, the signing keys). Linux
# carries a process's ru_maxrss across execve, so the child's RUSAGE_SELF starts at this bench's
# own peak (measured: a 300 MiB parent gives a fresh child 300 MiB); its main peak is therefore
# read from VmHWM in /proc/self/status (the high-water mark of the exec'd image alone), with
# ru_maxrss as a fallback elsewhere. The workers fork from the verifier, not from this bench, so
# RUSAGE_CHILDREN (the largest reaped worker) is theirs.
CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from verifier import verify_bundle

def peak_kib():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

path, vkey, jobs = sys.argv[2], sys.argv[3], int(sys.argv[4])
start_rss = peak_kib()
start = time.perf_counter()
with open(path, "rb") as source:
    report = verify_bundle(source, vkey, jobs=jobs)
seconds = time.perf_counter() - start
assert report.valid, report.to_text()
print(json.dumps({
    "entries": report.entries,
    "seconds": seconds,
    "start_rss_kib": start_rss,
    "main_rss_kib": peak_kib(),
    "main_ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "worker_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}))
"""


@dataclass
class Feed:
    """One terminal: its key and actor, and where its feed goes on."""

    key: PrivateKey
    actor: str
    seq: int = 0
    prev: str | None = None


@dataclass
class Measure:
    """One verification of one bundle, as the child reported it (RSS in KiB)."""

    entries: int
    bundle_bytes: int
    seconds: float
    start_rss_kib: int
    main_rss_kib: int
    main_ru_maxrss_kib: int  # max(this bench's peak, carried across exec; the verifier's)
    worker_rss_kib: int


class Builder:
    """A log grown through the store, a bounded round of envelopes at a time."""

    def __init__(self, directory: Path, terminals: int) -> None:
        self.directory = directory
        url = f"sqlite:///{directory / 'ledger.db'}"
        origin = "bench.spola/verify-memory"
        self.store = LedgerStore.open(url, operator=PrivateKey.generate(), origin=origin)
        self.feeds = [Feed(key, actor) for key, actor in enrol_terminals(self.store, terminals)]
        self.vkey = self.store.log_vkey
        (directory / "log.vkey").write_text(self.vkey + "\n", encoding="utf-8")
        self.appended = 0  # feed entries, all terminals
        self.build_seconds = 0.0

    def grow(self, size: int) -> None:
        """Append feed entries until each terminal holds ``size // terminals`` of them."""
        per_terminal = size // len(self.feeds)
        step = max(1, APPEND // len(self.feeds))
        start, shown = time.perf_counter(), time.perf_counter()
        from_count = self.appended
        while any(feed.seq < per_terminal for feed in self.feeds):
            chunks: list[list[Envelope]] = []
            for feed in self.feeds:
                count = min(step, per_terminal - feed.seq)
                chunk, feed.prev = signed_feed(
                    feed.key, feed.actor, count, start_seq=feed.seq, prev=feed.prev
                )
                feed.seq += count
                chunks.append(chunk)
            round_ = [env for group in zip_longest(*chunks) for env in group if env is not None]
            for at in range(0, len(round_), APPEND):
                self.store.append(round_[at : at + APPEND])
            self.appended += len(round_)
            now = time.perf_counter()
            if now - shown >= PROGRESS_SECONDS:
                rate = (self.appended - from_count) / (now - start)
                print(
                    f"built {self.appended:,} of {size:,} entries, {rate:,.0f}/s",
                    file=sys.stderr,
                    flush=True,
                )
                shown = now
        elapsed = time.perf_counter() - start
        self.build_seconds += elapsed
        added = self.appended - from_count
        if added:
            print(
                f"built {self.appended:,} entries (+{added:,} in {elapsed:.1f} s,"
                f" {elapsed / added * 10_000:.1f} s per 10k)",
                file=sys.stderr,
                flush=True,
            )

    def export(self, size: int) -> Path:
        out = self.directory / f"ledger-{size}.bundle"
        start = time.perf_counter()
        export_bundle(self.store, out)
        print(
            f"exported {out.name}: {out.stat().st_size / 2**20:.1f} MiB"
            f" in {time.perf_counter() - start:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        return out

    def close(self) -> None:
        self.store.close()


def verify_in_child(path: Path, vkey: str, jobs: int) -> Measure:
    """Verify ``path`` in a fresh interpreter; its figures."""
    command = [sys.executable, "-c", CHILD, str(ROOT), str(path), vkey, str(jobs)]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Measure(
        entries=int(result["entries"]),
        bundle_bytes=path.stat().st_size,
        seconds=float(result["seconds"]),
        start_rss_kib=int(result["start_rss_kib"]),
        main_rss_kib=int(result["main_rss_kib"]),
        main_ru_maxrss_kib=int(result["main_ru_maxrss_kib"]),
        worker_rss_kib=int(result["worker_rss_kib"]),
    )


def best(runs: list[Measure]) -> Measure:
    """Each figure at its best (lowest) over the runs of one bundle."""
    return Measure(
        entries=runs[0].entries,
        bundle_bytes=runs[0].bundle_bytes,
        seconds=min(m.seconds for m in runs),
        start_rss_kib=min(m.start_rss_kib for m in runs),
        main_rss_kib=min(m.main_rss_kib for m in runs),
        main_ru_maxrss_kib=min(m.main_ru_maxrss_kib for m in runs),
        worker_rss_kib=min(m.worker_rss_kib for m in runs),
    )


def _sizes(value: str) -> list[int]:
    sizes = sorted({int(part.replace("_", "")) for part in value.split(",") if part.strip()})
    if not sizes or sizes[0] <= 0:
        raise argparse.ArgumentTypeError("sizes are positive entry counts")
    return sizes


def run(args: argparse.Namespace, directory: Path) -> list[Measure]:
    builder = Builder(directory, args.terminals)
    measures: list[Measure] = []
    try:
        for size in args.sizes:
            builder.grow(size)
            path = builder.export(size)
            print(f"verifying {path.name} with --jobs {args.jobs}", file=sys.stderr, flush=True)
            runs = [verify_in_child(path, builder.vkey, args.jobs) for _ in range(args.repeat)]
            measures.append(best(runs))
            print(f"  {_line(measures[-1])}", file=sys.stderr, flush=True)
            if args.keep is None:
                path.unlink()
    finally:
        builder.close()
    print(
        f"build: {builder.appended:,} feed entries in {builder.build_seconds:.1f} s,"
        f" {builder.build_seconds / max(1, builder.appended) * 10_000:.1f} s per 10k",
        file=sys.stderr,
    )
    return measures


HEADER = (
    f"{'entries':>10} {'bundle MiB':>10} {'seconds':>8} {'entries/s':>9}"
    f" {'main peak MiB':>13} {'worker peak MiB':>15} {'main at start MiB':>17}"
)


def _line(m: Measure) -> str:
    return (
        f"{m.entries:>10,} {m.bundle_bytes / 2**20:>10.1f} {m.seconds:>8.2f}"
        f" {m.entries / m.seconds:>9,.0f} {m.main_rss_kib / 1024:>13.1f}"
        f" {m.worker_rss_kib / 1024:>15.1f} {m.start_rss_kib / 1024:>17.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=_sizes, default=_sizes("10000,100000,1000000"))
    parser.add_argument("--terminals", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=1, help="verifications of each bundle")
    parser.add_argument("--keep", type=Path, help="keep the log and the bundles in this directory")
    args = parser.parse_args()
    if min(args.terminals, args.jobs, args.repeat) < 1:
        parser.error("--terminals, --jobs and --repeat are at least 1")
    if args.keep is not None:
        if (args.keep / "ledger.db").exists():
            parser.error(
                f"{args.keep} already holds a log (its operator key is gone): pick another"
            )
        args.keep.mkdir(parents=True, exist_ok=True)
        measures = run(args, args.keep)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            measures = run(args, Path(tmp))
    print(
        f"offline verifier, --jobs {args.jobs}, {args.terminals} terminals, best of {args.repeat}"
    )
    print(HEADER)
    for measure in measures:
        print(_line(measure))
    small, large = measures[0], measures[-1]
    if large.entries > small.entries:
        growth = (large.main_rss_kib - small.main_rss_kib) / (large.entries - small.entries)
        print(
            f"main-process peak RSS growth, {small.entries:,} -> {large.entries:,} entries:"
            f" {growth * 1000:.1f} KiB per 1,000 entries"
            f" ({(large.main_rss_kib - small.main_rss_kib) / 1024:+.1f} MiB)"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS of this process (the build): {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
