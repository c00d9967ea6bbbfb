"""The verification of one bundle, step by step (docs/bundle.md, "Verifying").

``verify_bundle`` reads a bundle line by line — memory holds one chunk of entries, the compact
range and what the replay keeps (registry, feed heads, projections) — and records every finding
rather than stopping at the first. Input it cannot even begin on (no manifest, a log key that
does not parse, a trusted checkpoint that does not verify) raises ``UnusableInputError``.

It imports only the pure core: an auditor's install has no database and no web framework.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import BinaryIO, Final

from ledger.bundle import (
    MAX_LINE_BYTES,
    MAX_MANIFEST_BYTES,
    ROLE_HEAD,
    CheckpointRecord,
    ConsistencyRecord,
    EntryRecord,
    Manifest,
    parse_record,
)
from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.compact import CompactRange
from ledger.envelope import Envelope, verify_envelope
from ledger.errors import CheckpointError, FormatError, LedgerError, LimitError
from ledger.events import OPERATOR_ACTOR
from ledger.hashing import CHAIN_GENESIS, chain_hash, leaf_hash
from ledger.keys import PublicKey
from ledger.note import Verifier
from ledger.proofs import verify_consistency
from ledger.registry import KeyRecord
from ledger.replay import Replay
from verifier.findings import classify_refusal, verdict_text
from verifier.report import Report

CHUNK: Final = 2048  # entries whose signatures are checked together, across the pool
Progress = Callable[[int, int], None]  # (entries done, tree size)


class UnusableInputError(LedgerError):
    """Input the verifier cannot begin on: exit status 2."""


@dataclass
class _Header:
    head: Checkpoint | None = None
    since: Checkpoint | None = None
    consistency: list[ConsistencyRecord] = field(default_factory=list)
    checkpoints: int = 0


class _Run:
    """One verification: the state carried from line to line."""

    def __init__(
        self, manifest: Manifest, vkey: str, log_key: KeyRecord, trusted: Checkpoint | None
    ) -> None:
        self.manifest = manifest
        self.vkey = vkey
        self.trusted = trusted
        self.report = Report(origin=manifest.origin, tree_size=manifest.tree_size)
        self.header = _Header()
        self.replay = Replay(log_key)
        self.compact = CompactRange()
        self.chain = CHAIN_GENESIS
        self.chunk: list[tuple[EntryRecord, Envelope | None]] = []

    # -- (3) checkpoints and (4) consistency -------------------------------------------------

    def checkpoint(self, record: CheckpointRecord) -> None:
        report = self.report
        self.header.checkpoints += 1
        try:
            checkpoint = verify_checkpoint(record.note, self.vkey, origin=self.manifest.origin)
        except CheckpointError as exc:
            report.add(3, None, "checkpoint.signature", "signed by the log key", str(exc))
            return
        if record.role == ROLE_HEAD:
            if self.header.head is not None:
                report.add(3, None, "checkpoint.head", "one head checkpoint", "two")
            self.header.head = checkpoint
            if checkpoint.size != self.manifest.tree_size:
                report.add(
                    3,
                    None,
                    "checkpoint.tree_size",
                    f"manifest tree size {self.manifest.tree_size}",
                    f"checkpoint size {checkpoint.size}",
                )
        else:
            self.header.since = checkpoint

    def consistency_proofs(self) -> None:
        """(4) each proof from an earlier checkpoint (bundled or trusted) to the head."""
        head = self.header.head
        earlier = [c for c in (self.header.since, self.trusted) if c is not None]
        for record in self.header.consistency:
            start = next((c for c in earlier if c.size == record.size1), None)
            if head is None or start is None or record.size2 != head.size:
                self.report.add(
                    4,
                    None,
                    "consistency.sizes",
                    "a proof between two verified checkpoints",
                    f"a proof from size {record.size1} to {record.size2}",
                )
                continue
            try:
                verify_consistency(
                    record.size1, record.size2, record.proof, start.root_hash, head.root_hash
                )
            except LedgerError as exc:
                self.report.add(4, None, "consistency.proof", "a valid proof", str(exc))

    def _earlier_roots(self) -> None:
        # A whole-ledger bundle recomputes the root at every size: each earlier checkpoint's
        # root must be the root of the first entries of this log.
        size = self.compact.size
        for rule, checkpoint in (("trusted", self.trusted), ("since", self.header.since)):
            if checkpoint is not None and checkpoint.size == size:
                root = self.compact.root()
                if root != checkpoint.root_hash:
                    self.report.add(
                        4,
                        size - 1 if size else None,
                        f"consistency.{rule}_root",
                        f"root {checkpoint.root_hash.hex()} at size {size}",
                        f"entries give {root.hex()}",
                    )

    # -- (5) entries -------------------------------------------------------------------------

    def entry(self, record: EntryRecord) -> None:
        index = self.compact.size
        report = self.report
        if index == 0:
            self._earlier_roots()
        if record.index != index:
            report.add(5, index, "entry.index", f"index {index}", f"index {record.index}")
        envelope: Envelope | None = None
        try:
            envelope = Envelope.from_bytes(record.entry, max_bytes=len(record.entry))
        except LedgerError as exc:
            report.add(5, index, "entry.envelope", "a DSSE envelope", str(exc))
        if envelope is not None and envelope.to_bytes() != record.entry:
            report.add(5, index, "entry.canonical", "RFC 8785 bytes of the envelope", "other")
        leaf = leaf_hash(record.entry)
        linked = chain_hash(self.chain, leaf)
        if linked != record.chain_hash:
            report.add(
                5, index, "entry.chain_hash", linked.hex(), f"published {record.chain_hash.hex()}"
            )
        self.chain = record.chain_hash  # resynchronise: each link is checked on its own
        self.compact.append(leaf)
        self._earlier_roots()
        self.chunk.append((record, envelope))

    # -- (7) signatures, (8) feeds, (9) domain rules -----------------------------------------

    def replay_chunk(self, pool: ThreadPoolExecutor | None, jobs: int) -> None:
        verified = self._verify_signatures(pool, jobs)
        self.report.signatures_checked += len(verified)
        for record, envelope in self.chunk:
            index = self.replay.size
            outcome = self.replay.check(
                record.entry, envelope=envelope, signature_verified=index in verified
            )
            if index not in verified and not isinstance(outcome, LedgerError):
                self.report.signatures_checked += 1  # checked by the replay, in order
            if envelope is None:
                continue  # reported in step 5; the replay refuses it as well
            if isinstance(outcome, LedgerError):
                step, rule, expected = classify_refusal(outcome.cause, self.replay, envelope)
                self.report.add(step, index, rule, expected, str(outcome.cause))
                continue
            published = None if record.applied else record.violation
            if outcome != published:
                named = outcome if outcome is not None else published
                rule = "verdict" if named is None else named.rule
                self.report.add(
                    9, index, rule, f"replay: {verdict_text(outcome)}", verdict_text(published)
                )
        self.chunk.clear()

    def _verify_signatures(self, pool: ThreadPoolExecutor | None, jobs: int) -> set[int]:
        """Indices whose signature verifies under the key it names, checked across the pool.

        Only keys registered before the chunk are known here; the replay checks the rest
        (and every key's validity at its index) in order.
        """
        start = self.replay.size
        work: list[tuple[int, Envelope, PublicKey]] = []
        for offset, (_, envelope) in enumerate(self.chunk):
            if envelope is None or len(envelope.signatures) != 1:
                continue
            key = self.replay.registry.key(envelope.signatures[0].keyid)
            if key is not None:
                work.append((start + offset, envelope, PublicKey(key.public_key)))

        def check(part: list[tuple[int, Envelope, PublicKey]]) -> set[int]:
            good = set()
            for index, envelope, public_key in part:
                try:
                    verify_envelope(envelope, public_key)
                except LedgerError:
                    continue
                good.add(index)
            return good

        if pool is None or len(work) < 64:
            return check(work)
        step = -(-len(work) // jobs)
        parts = [work[i : i + step] for i in range(0, len(work), step)]
        futures = [pool.submit(check, part) for part in parts[1:]]
        good = check(parts[0])  # this thread takes a share instead of waiting
        for future in futures:
            good |= future.result()
        return good

    # -- the end -----------------------------------------------------------------------------

    def finish(self, body_hash: bytes, lines: dict[str, int]) -> None:
        report, manifest, head = self.report, self.manifest, self.header.head
        size = self.compact.size
        report.entries = size
        if body_hash != manifest.body_sha256:
            report.add(1, None, "bundle.body_sha256", manifest.body_sha256.hex(), body_hash.hex())
        for name, want in (
            ("entries", manifest.entries),
            ("checkpoints", manifest.checkpoints),
            ("consistency", manifest.consistency),
        ):
            if lines[name] != want:
                report.add(
                    1, None, f"bundle.{name}", f"{want} in the manifest", f"{lines[name]} lines"
                )
        if head is None:
            report.add(3, None, "checkpoint.missing", "a head checkpoint by the log key", "none")
        elif size != head.size:
            report.add(5, None, "entries.count", f"{head.size} entries", f"{size} entries")
        elif (root := self.compact.root()) != head.root_hash:
            report.add(5, None, "merkle.root", head.root_hash.hex(), root.hex())
        for rule, checkpoint in (("trusted", self.trusted), ("since", self.header.since)):
            if checkpoint is not None and checkpoint.size > size:
                report.add(
                    4,
                    None,
                    f"consistency.{rule}_size",
                    f"at most {size} entries",
                    f"{rule} checkpoint of size {checkpoint.size}",
                )
        if self.trusted is None and self.header.since is None:
            report.skipped[4] = "no trusted checkpoint given"
        report.skipped[6] = "a whole-ledger bundle carries every entry"


def parse_log_key(text: str) -> tuple[str, KeyRecord]:
    """(2) the log key: a C2SP vkey; the replay's anchor, valid from index 0."""
    try:
        verifier = Verifier.from_vkey(text.strip())
    except FormatError as exc:
        raise UnusableInputError(f"the log key is not a C2SP vkey: {exc}") from exc
    public = verifier.public_key
    record = KeyRecord(
        key_id=public.key_id, public_key=public.raw, actor=OPERATOR_ACTOR, valid_from_index=0
    )
    return verifier.to_vkey(), record


def verify_bundle(
    source: BinaryIO,
    log_vkey: str,
    *,
    trusted_checkpoint: bytes | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> Report:
    """Verify the bundle read from ``source``; every finding in the report."""
    started = time.perf_counter()
    # (1) parse and bound the input: the manifest first.
    first = source.readline(MAX_MANIFEST_BYTES + 1)
    try:
        manifest = Manifest.from_line(first)
    except (FormatError, LimitError) as exc:
        raise UnusableInputError(f"not a readable bundle: {exc}") from exc
    # (2) the log key.
    vkey, log_key = parse_log_key(log_vkey)
    trusted = None
    if trusted_checkpoint is not None:
        try:
            trusted = verify_checkpoint(trusted_checkpoint, vkey, origin=manifest.origin)
        except CheckpointError as exc:
            raise UnusableInputError(f"the trusted checkpoint does not verify: {exc}") from exc
    run = _Run(manifest, vkey, log_key, trusted)
    name = Verifier.from_vkey(vkey).name
    if name != manifest.origin:
        run.report.add(2, None, "log_key.origin", manifest.origin, f"log key named {name}")
    jobs = max(1, jobs or os.cpu_count() or 1)
    pool = ThreadPoolExecutor(max_workers=jobs - 1) if jobs > 1 else None
    try:
        _read_body(run, source, pool, jobs, progress)
    finally:
        if pool is not None:
            pool.shutdown()
    run.report.seconds = time.perf_counter() - started
    return run.report


def _read_body(
    run: _Run,
    source: BinaryIO,
    pool: ThreadPoolExecutor | None,
    jobs: int,
    progress: Progress | None,
) -> None:
    digest = hashlib.sha256()
    lines = {"entries": 0, "checkpoints": 0, "consistency": 0}
    number = 1
    header_done = False
    while line := source.readline(MAX_LINE_BYTES + 1):
        number += 1
        digest.update(line)
        try:
            record = parse_record(line, number=number)
        except (FormatError, LimitError) as exc:
            run.report.add(1, None, "bundle.line", "a well-formed record", str(exc))
            if len(line) > MAX_LINE_BYTES:
                break  # no way to find the next line within bounds
            continue
        if isinstance(record, EntryRecord):
            if not header_done:
                run.consistency_proofs()
                header_done = True
            lines["entries"] += 1
            run.entry(record)
            if len(run.chunk) >= CHUNK:
                run.replay_chunk(pool, jobs)
                if progress is not None:
                    progress(run.compact.size, run.manifest.tree_size)
        elif header_done:
            run.report.add(1, None, "bundle.order", "header records first", f"line {number}")
        elif isinstance(record, CheckpointRecord):
            lines["checkpoints"] += 1
            run.checkpoint(record)
        else:
            lines["consistency"] += 1
            run.header.consistency.append(record)
    if not header_done:
        run.consistency_proofs()
    run.replay_chunk(pool, jobs)
    if progress is not None:
        progress(run.compact.size, run.manifest.tree_size)
    run.finish(digest.digest(), lines)
