"""The verification of one bundle, step by step (docs/bundle.md, "Verifying").

``verify_bundle`` reads a bundle line by line and records every finding rather than stopping
at the first. Worker processes check the entry lines on their own (``verifier.entries``: parse,
canonical bytes, leaf hash, signature); this process takes their results in line order and
does what needs that order: the chain, the Merkle root, and the replay (key validity by index,
feeds, domain rules). Memory holds the batches in flight, one chunk of checked entries, the
compact range and what the replay keeps (registry, feed heads, projections). Input it cannot
even begin on (no manifest, a log key that does not parse, a trusted checkpoint that does not
verify) raises ``UnusableInputError``, as does a bundle (whole or partial) holding an entry signed
against a maturity model newer than this installation's (upgrade, do not suspect the log).

The header records (checkpoints, the verdict statement, the consistency proof: steps 3 and 4)
are checked and kept by ``verifier.header``. A partial bundle (one passport, item or actor)
hands its entries and inclusion proofs to ``verifier.partial`` instead (steps 5 to 9 as far as
a subset allows); the passport records of any bundle are rebuilt and compared at the end (step
10, ``verifier.passports``).

It imports only the pure core (and the pure passport builder): an auditor's install has no
database and no web framework.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import BinaryIO, Final

from ledger.assessment import NewerModelError
from ledger.bundle import (
    MAX_MANIFEST_BYTES,
    SCOPE_ACTOR,
    SCOPE_ITEM,
    SCOPE_LEDGER,
    SCOPE_PASSPORT,
    Manifest,
)
from ledger.bundle_records import (
    CheckpointRecord,
    ConsistencyRecord,
    InclusionRecord,
    PassportRecord,
    VerdictsRecord,
)
from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.compact import CompactRange
from ledger.envelope import Envelope
from ledger.errors import CheckpointError, FormatError, LedgerError, LimitError
from ledger.events import OPERATOR_ACTOR
from ledger.hashing import CHAIN_GENESIS, chain_hash
from ledger.note import Verifier
from ledger.registry import KeyRecord
from ledger.replay import Replay
from verifier.entries import (
    EntryResult,
    LineChecker,
    LineResult,
    check_signature,
)
from verifier.findings import UnusableInputError, classify_refusal, verdict_text
from verifier.header import Header
from verifier.partial import PartialRun
from verifier.passports import PassportCheck
from verifier.reading import read_body
from verifier.report import Report

CHUNK: Final = 2048  # entries replayed together, between progress reports
# Header records are held until the entries have been read: bounded by count and bytes, not by
# what the manifest announces. A passport bundle's documents are a few KiB each.
MAX_PASSPORT_BYTES: Final = 64 * 1024 * 1024  # passport records held for step 10
MAX_JOBS: Final = 256  # worker processes at most: far above any laptop's cores
RECORD_OVERHEAD: Final = 128  # bytes a held record costs beyond its document and subject
UNREADABLE_LEAF: Final = bytes(32)  # stands for the leaf of an entry line that did not parse
Progress = Callable[[int, int], None]  # (entry lines checked, entries the manifest counts)


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
        self.progress = progress
        self.report = Report(origin=manifest.origin, tree_size=manifest.tree_size)
        self.report.scope, self.report.subject = manifest.scope, manifest.subject
        self.header = Header(self.report, manifest, vkey, trusted)
        self.counts = {"entries": 0, "checkpoints": 0, "consistency": 0}
        self.counts |= {"inclusion": 0, "passports": 0}
        self.unreadable = 0  # body lines that did not parse since the last entry (whole ledger)
        self.taken = 0  # entry lines and lines that did not parse: the progress made
        self.chain_unknown = False
        self.passport_bytes = 0
        self.passports_dropped = False
        self.passports = PassportCheck(self.report, manifest.subject)
        self.partial = None
        if manifest.partial:
            self.partial = PartialRun(self.report, manifest.tree_size, log_key, self.passports)
        self.replay = Replay(log_key, history=False)
        self.compact = CompactRange()
        self.chain = CHAIN_GENESIS
        self.chunk: list[EntryResult] = []
        self.checker = LineChecker(jobs, log_key.public_key, self.lines)

    # -- (3) checkpoints and (4) consistency: ``verifier.header``; passports kept for (10) ---

    def checkpoint(self, record: CheckpointRecord) -> None:
        self.header.checkpoint(record)

    def verdicts(self, record: VerdictsRecord) -> None:
        self.header.verdicts(record)

    def keep_consistency(self, record: ConsistencyRecord) -> None:
        self.header.keep_consistency(record)

    def consistency_proofs(self) -> None:
        self.header.consistency_proofs()

    def keep_passport(self, record: PassportRecord) -> None:
        """A passport record, kept for step 10 within ``MAX_PASSPORT_BYTES`` (a whole-ledger
        bundle's are not kept: they are a finding of step 1)."""
        if not self.manifest.partial:
            return
        # Each record is charged what holding it costs, so that empty documents count too.
        self.passport_bytes += len(record.document) + len(record.subject) + RECORD_OVERHEAD
        if self.passport_bytes > MAX_PASSPORT_BYTES:
            if not self.passports_dropped:
                want = f"at most {MAX_PASSPORT_BYTES} bytes of passport records"
                self.report.add(1, None, "bundle.passports", want, "more: the rest not checked")
            self.passports_dropped = True
            return
        self.passports.records.append(record)

    # -- (5) entries: what the workers found, taken in order --------------------------------

    def lines(self, results: list[LineResult]) -> None:
        """The checked body lines after the header, in order (``verifier.entries``)."""
        for result in results:
            if isinstance(result, str):
                # In a whole ledger, a line that does not parse is most likely an entry: the
                # entry after it says so by its index (``entry``), and the positions between
                # are then taken, so that later findings name their own entries. A partial
                # run takes it for the entry or the proof its place in the line order says.
                index = self.compact.size + self.unreadable if self.partial is None else None
                self.taken += 1
                self.unreadable += self.partial is None
                self.report.add(1, index, "bundle.line", "a well-formed record", result)
                if self.partial is not None:
                    self.partial.unreadable()
            elif isinstance(result, InclusionRecord):
                # A whole ledger's are counted and reported once, at the end.
                self.counts["inclusion"] += 1
                if self.partial is not None:
                    self.partial.inclusion(result)
            elif isinstance(result, int):
                self.report.add(1, None, "bundle.order", "header records first", f"line {result}")
            else:
                self.counts["entries"] += 1
                self.taken += 1
                self.entry(result)
                if len(self.chunk) >= CHUNK:
                    self.replay_chunk()

    def entry(self, result: EntryResult) -> None:
        if self.partial is not None:
            self.partial.entry(result)
            self.chunk.append(result)
            return
        report = self.report
        number, _, envelope, canonical, leaf, published_chain, _, _ = result
        skipped, self.unreadable = self.unreadable, 0
        if self.compact.size < number <= self.compact.size + skipped:
            while self.compact.size < number:
                self._unreadable_entry()
        index = self.compact.size
        if index == 0:
            self.header.earlier_roots(self.compact)
        if number != index:
            report.add(5, index, "entry.index", f"index {index}", f"index {number}")
        if isinstance(envelope, str):
            report.add(5, index, "entry.envelope", "a DSSE envelope", envelope)
        elif not canonical:
            report.add(5, index, "entry.canonical", "RFC 8785 bytes of the envelope", "other")
        linked = chain_hash(self.chain, leaf)
        if self.chain_unknown:
            self.chain_unknown = False  # the link before could not be read: resynchronise
        elif linked != published_chain:
            report.add(
                5, index, "entry.chain_hash", linked.hex(), f"published {published_chain.hex()}"
            )
        self.chain = published_chain  # resynchronise: each link is checked on its own
        self.compact.append(leaf)
        self.header.earlier_roots(self.compact)
        self.chunk.append(result)

    def _unreadable_entry(self) -> None:
        """An entry position taken by a line that did not parse (reported in step 1): the
        replay counts it and applies nothing, its leaf is unknown (so the root cannot match),
        and the next entry's chain link is taken as published."""
        self.compact.append(UNREADABLE_LEAF)
        self.header.earlier_roots(self.compact)
        self.chain_unknown = True
        self.chunk.append(
            (self.compact.size - 1, b"", "unreadable line", False, b"", b"", None, False)
        )

    # -- (7) signatures, (8) feeds, (9) domain rules -----------------------------------------

    def replay_chunk(self) -> None:
        """Steps 7-9 over the chunk (a partial bundle's in ``verifier.partial``); progress."""
        if self.partial is not None:
            self.partial.check_chunk(self.chunk, self.checker.known)
        else:
            self._replay_whole()
        self.chunk.clear()
        if self.progress is not None:
            self.progress(min(self.taken, self.manifest.entries), self.manifest.entries)

    def _replay_whole(self) -> None:
        """Replay the chunk in order; a signature already checked, verified or refused, is not
        checked again.

        Before the replay, this process checks the signatures whose key a worker had not been
        sent yet; those whose key was learnt only later in the file are checked here; the replay
        verifies the rest (keys it has never seen) in order.
        """
        for _, entry, parsed, _, _, _, published, checked in self.chunk:
            index = self.replay.size
            envelope = parsed if isinstance(parsed, Envelope) else None
            # A key learnt since the line was checked (introduced further on) may check it now.
            signature = (
                checked if checked is not None else check_signature(parsed, self.checker.known)
            )
            outcome = self.replay.check(entry, envelope=envelope, signature=signature)
            if signature or not isinstance(outcome, LedgerError):
                self.report.signatures_checked += 1
            if envelope is None:
                continue  # reported in step 5; the replay refuses it as well
            if isinstance(outcome, LedgerError):
                if isinstance(outcome.cause, NewerModelError):
                    # A signed entry this verifier is too old to read: nothing is known to be
                    # wrong with the log, and the rest of its feed could not be replayed.
                    raise UnusableInputError(f"this verifier cannot read {outcome}")
                registry = self.replay.registry
                step, rule, expected = classify_refusal(outcome.cause, registry, index, envelope)
                self.report.add(step, index, rule, expected, str(outcome.cause))
                continue
            if outcome != published:
                named = outcome if outcome is not None else published
                rule = "verdict" if named is None else named.rule
                self.report.add(
                    9, index, rule, f"replay: {verdict_text(outcome)}", verdict_text(published)
                )

    # -- the end -----------------------------------------------------------------------------

    def finish(self, body_hash: bytes, lines: dict[str, int]) -> None:
        report, manifest = self.report, self.manifest
        if body_hash != manifest.body_sha256:
            report.add(1, None, "bundle.body_sha256", manifest.body_sha256.hex(), body_hash.hex())
        counted = [("entries", manifest.entries), ("checkpoints", manifest.checkpoints)]
        if manifest.partial:  # a whole ledger's manifest counts neither (_finish_ledger)
            counted += [("inclusion", manifest.inclusion), ("passports", manifest.passports)]
        else:  # a partial manifest's consistency count must be 0, whatever the lines
            # (``_out_of_scope``): compared with the lines only in a whole ledger's
            counted.append(("consistency", manifest.consistency))
        for name, want in counted:
            if lines[name] != want:
                report.add(
                    1, None, f"bundle.{name}", f"{want} in the manifest", f"{lines[name]} lines"
                )
        if self.header.head is None:
            report.add(3, None, "checkpoint.missing", "a head checkpoint by the log key", "none")
        if self.partial is None:
            self._finish_ledger()
        else:
            self._finish_partial(self.partial)
        # (10) passports rebuilt from the bundle's events
        if manifest.scope == SCOPE_PASSPORT and lines["passports"] == 0:
            documents = "the documents of the subject's passport versions"
            report.add(10, None, "passport.missing", documents, "none")
        self.passports.check()
        if not self.passports.records:  # or none of them checkable (``PartialRun.finish``)
            report.skipped.setdefault(10, _no_passports(manifest.scope))

    def _finish_partial(self, partial: PartialRun) -> None:
        partial.finish()
        self._out_of_scope()
        self.header.check_statement(partial.verdicts)  # (3) and (9) the log key's statement
        self.header.partial_checkpoints()  # (4) earlier checkpoints against the head

    def _out_of_scope(self) -> None:
        """(1) what a partial bundle's scope does not carry, each refused once, with its number,
        as a whole ledger refuses inclusion and passport lines (``_finish_ledger``), and not
        checked: a consistency proof (so step 4 does not take it for checked), counted by the
        manifest or written; passport records, but in a passport bundle."""
        manifest, report = self.manifest, self.report
        if manifest.consistency:
            want = "0: a partial bundle carries no consistency proof"
            report.add(
                1, None, "bundle.consistency", want, f"{manifest.consistency} in the manifest"
            )
        if count := self.counts["consistency"]:
            records = f"{count} consistency record{'s' if count != 1 else ''}, not checked"
            want = "no consistency proof in a partial bundle"
            report.add(1, None, "bundle.line", want, records)
        count = self.counts["passports"]
        if manifest.scope != SCOPE_PASSPORT and count:
            got = f"{count} line{'s' if count != 1 else ''} in an {manifest.scope} bundle"
            report.add(1, None, "bundle.line", "no passport record", got)

    def _finish_ledger(self) -> None:
        report, head = self.report, self.header.head
        size = self.compact.size
        report.entries = size
        if head is not None and size != head.size:
            report.add(5, None, "entries.count", f"{head.size} entries", f"{size} entries")
        elif head is not None and (root := self.compact.root()) != head.root_hash:
            report.add(5, None, "merkle.root", head.root_hash.hex(), root.hex())
        self.header.ledger_sizes(size)  # (4) no earlier checkpoint beyond these entries
        report.skipped[6] = "a whole-ledger bundle carries every entry"
        for name, record in (("inclusion", "inclusion"), ("passports", "passport")):
            if count := self.counts[name]:
                got = f"{count} line{'s' if count != 1 else ''} in a whole-ledger bundle"
                report.add(1, None, "bundle.line", f"no {record} record", got)


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
    jobs = max(1, jobs or min(os.cpu_count() or 1, MAX_JOBS))
    run = _Run(manifest, vkey, log_key, trusted, jobs=jobs, progress=progress)
    name = Verifier.from_vkey(vkey).name
    if name != manifest.origin:
        run.report.add(2, None, "log_key.origin", manifest.origin, f"log key named {name}")
    try:
        read_body(run, source)
    finally:
        run.checker.close()
    run.report.seconds = time.perf_counter() - started
    return run.report


def _no_passports(scope: str) -> str:
    """Why step 10 checked nothing: a passport bundle without records is a finding already;
    any other scope carries no passport documents, which a passport's own bundle does (an
    auditor told only "no passport in the bundle" of a ledger that issued some would think
    them missing)."""
    if scope == SCOPE_PASSPORT:
        return "no passport in the bundle"
    bundle = {SCOPE_LEDGER: "a whole-ledger", SCOPE_ITEM: "an item", SCOPE_ACTOR: "an actor"}
    return (
        f"{bundle.get(scope, 'this')} bundle carries no passport documents: a passport's own "
        "bundle does (GET /v1/passports/{path}/bundle)"
    )
