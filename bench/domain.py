"""Supply-chain ingest (every event judged by the domain rules) and a full rebuild.

    .venv/bin/python bench/domain.py [--db URL] [--chains N] [--batch B]

Each chain is one mill and one dyer: the mill makes a lot and hands part of it over, the dyer
signs the receipt and dyes it into a new lot, then hands that on — five events that read and
write lots, balances, handovers, custody and provenance. Prints events/s through the store next
to the raw single-core verify rate of the same events, then replays the whole log with
``rebuild`` and prints entries/s. Give --db an EMPTY database of its own.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import raw_verify_rate
from ledger.envelope import Envelope, sign_envelope
from ledger.events import encode_event
from ledger.feed import payload_digest
from ledger.keys import PrivateKey
from ledger.store.bundle import export_bundle
from ledger.store.ledger import LedgerStore
from verifier import verify_bundle

TIME = "2026-11-26T10:00:00Z"
FACILITY = {"id": "main", "name": "Works", "town": "Como", "country": "IT",
            "lat": "45.8081", "lon": "9.0852"}  # fmt: skip


class Feed:
    def __init__(self, actor: str) -> None:
        self.actor, self.key, self.seq = actor, PrivateKey.generate(), 0
        self.prev: str | None = None

    def sign(self, fields: dict[str, Any]) -> Envelope:
        header = {"v": 1, "actor": self.actor, "seq": self.seq, "prev": self.prev, "time": TIME}
        payload = encode_event(header | fields)
        self.seq, self.prev = self.seq + 1, payload_digest(payload)
        return sign_envelope(payload, self.key)


def enrol(store: LedgerStore, slug: str) -> Feed:
    feed = Feed(f"urn:spola:actor:{slug}")
    store.operator_event(
        {
            "type": "actor",
            "op": "register",
            "id": feed.actor,
            "name": slug,
            "roles": ["supplier"],
            "country": "IT",
            "facilities": [FACILITY],
        }
    )
    store.operator_event({"type": "key", "op": "add", "subject": feed.actor,
                          "key_id": feed.key.public_key.key_id,
                          "public_key": feed.key.public_key.to_base64()})  # fmt: skip
    return feed


def chain(mill: Feed, dyer: Feed, n: int) -> list[Envelope]:
    raw, dyed = f"urn:spola:lot:m:R{n}", f"urn:spola:lot:d:D{n}"

    def q(value: str) -> dict[str, str]:
        return {"value": value, "unit": "KGM"}

    return [
        mill.sign({"type": "material", "lot": raw, "material": "silk-mulberry",
                   "quantity": q("100"), "facility": "main"}),
        mill.sign({"type": "handover", "id": f"H{n}", "to": dyer.actor,
                   "lines": [{"lot": raw, "quantity": q("60")}]}),
        dyer.sign({"type": "receipt", "handover": {"sender": mill.actor, "id": f"H{n}"},
                   "accepted": True}),
        dyer.sign({"type": "process", "process": "dyeing", "facility": "main",
                   "inputs": [{"lot": raw, "quantity": q("60")}],
                   "outputs": [{"lot": dyed, "material": "silk-mulberry", "quantity": q("59")}]}),
        dyer.sign({"type": "handover", "id": f"B{n}", "to": mill.actor,
                   "lines": [{"lot": dyed, "quantity": q("59")}]}),
    ]  # fmt: skip


def run(url: str, chains: int, batch: int, directory: Path) -> None:
    store = LedgerStore.open(url, operator=PrivateKey.generate(), origin="bench.spola/domain")
    pairs = [(enrol(store, f"mill-{i}"), enrol(store, f"dyer-{i}")) for i in range(8)]
    envelopes = [e for n in range(chains) for e in chain(*pairs[n % 8], n)]
    keys = {f.key.public_key.key_id: f.key.public_key.raw for pair in pairs for f in pair}
    raw = raw_verify_rate(envelopes[:5000], keys)
    gc.collect()
    gc.freeze()
    start = time.perf_counter()
    for i in range(0, len(envelopes), batch):
        receipts = store.append(envelopes[i : i + batch])
        assert all(r.applied for r in receipts), [r.violation for r in receipts if r.violation]
    elapsed = time.perf_counter() - start
    gc.unfreeze()
    rate = len(envelopes) / elapsed
    print(f"raw single-core Ed25519 verify: {raw:,.0f}/s")
    print(
        f"supply-chain ingest ({store.engine.dialect.name}, batch {batch}): {rate:,.0f} "
        f"events/s = {rate / raw:.2f} x raw verify ({len(envelopes):,} events, all applied)"
    )
    start = time.perf_counter()
    report = store.rebuild()
    elapsed = time.perf_counter() - start
    assert report.equal, report.differences
    print(
        f"rebuild: replayed and compared {report.entries:,} entries in {elapsed:.1f} s "
        f"({report.entries / elapsed:,.0f} entries/s), projections equal"
    )
    bundle = directory / "domain.bundle"
    export_bundle(store, bundle)
    cores = os.cpu_count() or 1
    start = time.perf_counter()
    with bundle.open("rb") as source:
        verified = verify_bundle(source, store.log_vkey, jobs=cores)
    elapsed = time.perf_counter() - start
    assert verified.valid, verified.to_text()
    rate = verified.entries / elapsed
    print(
        f"offline verification, --jobs {cores}: {verified.entries:,} entries in {elapsed:.1f} s"
        f" ({rate:,.0f} entries/s = {rate / (cores * raw):.2f} x cores x raw verify)"
    )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an EMPTY database of its own (default: a fresh SQLite file)")
    parser.add_argument("--chains", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        run(args.db or f"sqlite:///{tmp}/domain.db", args.chains, args.batch, Path(tmp))


if __name__ == "__main__":
    main()
