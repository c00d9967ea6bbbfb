"""The verification of one bundle, step by step (docs/bundle.md, "Verifying").

``verify_bundle`` reads a bundle line by line and records every finding rather than stopping
at the first. Worker processes check the entry lines on their own (``verifier.entries``: parse,
canonical bytes, leaf hash, signature); this process takes their results in line order and
does what needs that order: the chain, the Merkle root, and the replay (key validity by index,
feeds, domain rules). Memory holds the batches in flight, one chunk of checked entries, the
compact range and what the replay keeps (registry, feed heads, projections). Input it cannot
even begin on (no manifest, a log key that does not parse, a trusted checkpoint that does not
verify) raises ``UnusableInputError``.

It imports only the pure core: an auditor's install has no database and no web framework.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
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
from ledger.envelope import Envelope
from ledger.errors import CheckpointError, FormatError, LedgerError, LimitError
from ledger.events import OPERATOR_ACTOR
from ledger.hashing import CHAIN_GENESIS, chain_hash
from ledger.note import Verifier
from ledger.proofs import verify_consistency
from ledger.registry import KeyRecord
from ledger.replay import Replay
from verifier.entries import (
    BATCH_BYTES,
    BATCH_LINES,
    FIRST_BATCH_LINES,
    EntryResult,
    LineChecker,
    LineResult,
    signature_verifies,
)
from verifier.findings import classify_refusal, verdict_text
from verifier.report import Report

CHUNK: Final = 2048  # entries replayed together, between progress reports
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
        self,
        manifest: Manifest,
        vkey: str,
        log_key: KeyRecord,
        trusted: Checkpoint | None,
        *,
        jobs: int,
        progress: Progress | None,
    ) -> None:
        self.manifest = manifest
        self.vkey = vkey
        self.trusted = trusted
        self.progress = progress
        self.report = Report(origin=manifest.origin, tree_size=manifest.tree_size)
        self.header = _Header()
        self.counts = {"entries": 0, "checkpoints": 0, "consistency": 0}
        self.replay = Replay(log_key)
        self.compact = CompactRange()
        self.chain = CHAIN_GENESIS
        self.chunk: list[EntryResult] = []
        self.checker = LineChecker(jobs, log_key.public_key, self.lines)

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

    # -- (5) entries: what the workers found, taken in order --------------------------------

    def lines(self, results: list[LineResult]) -> None:
        """The checked body lines after the header, in order (``verifier.entries``)."""
        for result in results:
            if isinstance(result, str):
                self.report.add(1, None, "bundle.line", "a well-formed record", result)
            elif isinstance(result, int):
                self.report.add(1, None, "bundle.order", "header records first", f"line {result}")
            else:
                self.counts["entries"] += 1
                self.entry(result)
                if len(self.chunk) >= CHUNK:
                    self.replay_chunk()

    def entry(self, result: EntryResult) -> None:
        index = self.compact.size
        report = self.report
        number, _, envelope, canonical, leaf, published_chain, _, _ = result
        if index == 0:
            self._earlier_roots()
        if number != index:
            report.add(5, index, "entry.index", f"index {index}", f"index {number}")
        if isinstance(envelope, str):
            report.add(5, index, "entry.envelope", "a DSSE envelope", envelope)
        elif not canonical:
            report.add(5, index, "entry.canonical", "RFC 8785 bytes of the envelope", "other")
        linked = chain_hash(self.chain, leaf)
        if linked != published_chain:
            report.add(
                5, index, "entry.chain_hash", linked.hex(), f"published {published_chain.hex()}"
            )
        self.chain = published_chain  # resynchronise: each link is checked on its own
        self.compact.append(leaf)
        self._earlier_roots()
        self.chunk.append(result)

    # -- (7) signatures, (8) feeds, (9) domain rules -----------------------------------------

    def replay_chunk(self) -> None:
        """Replay the chunk in order; signatures the workers checked are not checked again.

        Before the replay, this process checks the signatures whose key a worker had not been
        sent yet; the replay verifies the rest (keys it has never seen) in order.
        """
        for _, entry, parsed, _, _, _, published, checked in self.chunk:
            index = self.replay.size
            envelope = parsed if isinstance(parsed, Envelope) else None
            verified = checked or signature_verifies(parsed, self.checker.known)
            outcome = self.replay.check(entry, envelope=envelope, signature_verified=verified)
            if verified or not isinstance(outcome, LedgerError):
                self.report.signatures_checked += 1
            if envelope is None:
                continue  # reported in step 5; the replay refuses it as well
            if isinstance(outcome, LedgerError):
                step, rule, expected = classify_refusal(outcome.cause, self.replay, envelope)
                self.report.add(step, index, rule, expected, str(outcome.cause))
                continue
            if outcome != published:
                named = outcome if outcome is not None else published
                rule = "verdict" if named is None else named.rule
                self.report.add(
                    9, index, rule, f"replay: {verdict_text(outcome)}", verdict_text(published)
                )
        self.chunk.clear()
        if self.progress is not None:
            self.progress(self.compact.size, self.manifest.tree_size)

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
    """Verify the bundle read from ``source``; every finding in the report.

    ``jobs`` worker processes (default: one per core) check the entry lines; with 1, this
    process does, and no pool is started.
    """
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
    jobs = max(1, jobs or os.cpu_count() or 1)
    run = _Run(manifest, vkey, log_key, trusted, jobs=jobs, progress=progress)
    name = Verifier.from_vkey(vkey).name
    if name != manifest.origin:
        run.report.add(2, None, "log_key.origin", manifest.origin, f"log key named {name}")
    try:
        _read_body(run, source)
    finally:
        run.checker.close()
    run.report.seconds = time.perf_counter() - started
    return run.report


class _Body:
    """The lines after the manifest, read within bounds, hashed and numbered as they come."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.number = 1  # the manifest is line 1
        self.stopped = False  # a line over the limit: no way to find the next within bounds

    def next_line(self) -> bytes | None:
        if self.stopped:
            return None
        line = self.source.readline(MAX_LINE_BYTES + 1)
        if not line:
            return None
        self.number += 1
        self.digest.update(line)
        self.stopped = len(line) > MAX_LINE_BYTES
        return line


def _read_header(run: _Run, body: _Body) -> bytes | None:
    """Checkpoints and consistency proofs, up to the first entry line (returned, if any)."""
    while (line := body.next_line()) is not None:
        try:
            record = parse_record(line, number=body.number)
        except (FormatError, LimitError) as exc:
            run.report.add(1, None, "bundle.line", "a well-formed record", str(exc))
            continue
        if isinstance(record, EntryRecord):
            return line
        if isinstance(record, CheckpointRecord):
            run.counts["checkpoints"] += 1
            run.checkpoint(record)
        else:
            run.counts["consistency"] += 1
            run.header.consistency.append(record)
    return None


def _read_body(run: _Run, source: BinaryIO) -> None:
    body = _Body(source)
    line = _read_header(run, body)
    run.consistency_proofs()
    batch: list[bytes] = []
    first_number = size = 0
    while line is not None:
        if not batch:
            first_number, size = body.number, 0
        batch.append(line)
        size += len(line)
        lines = BATCH_LINES if run.checker.taken else FIRST_BATCH_LINES
        if len(batch) >= lines or size >= BATCH_BYTES:
            run.checker.submit(batch, first_number)
            batch = []
        line = body.next_line()
    if batch:
        run.checker.submit(batch, first_number)
    run.checker.drain()
    run.replay_chunk()
    run.finish(body.digest.digest(), run.counts)
