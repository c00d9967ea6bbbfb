"""Reading a bundle's body within bounds: the header records, then the entries in batches.

The lines after the manifest are read one at a time (at most ``MAX_LINE_BYTES`` each), hashed
and numbered as they come. The header (checkpoints, the verdict statement, consistency proofs,
passport records) goes to the run as it is read; the entry lines (and, in a partial bundle, the
inclusion proof after each) go in batches to the run's ``LineChecker``, and the run takes the
results in order.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, BinaryIO

from ledger.bundle import MAX_LINE_BYTES, SCOPE_PASSPORT, parse_record
from ledger.bundle_records import (
    CheckpointRecord,
    EntryRecord,
    InclusionRecord,
    PassportRecord,
    VerdictsRecord,
)
from ledger.errors import FormatError, LimitError
from verifier.entries import BATCH_BYTES, BATCH_LINES, FIRST_BATCH_LINES

if TYPE_CHECKING:
    from verifier.steps import _Run


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
    """Checkpoints, the verdict statement, consistency proofs and passport records, up to the
    first entry line (returned, if any)."""
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
        elif isinstance(record, VerdictsRecord):
            run.verdicts(record)
        elif isinstance(record, PassportRecord):
            run.counts["passports"] += 1
            if run.manifest.scope == SCOPE_PASSPORT:  # any other scope's are refused, not kept
                run.keep_passport(record)
        elif isinstance(record, InclusionRecord):
            run.counts["inclusion"] += 1
            run.report.add(1, None, "bundle.order", "an entry before its proof", "a proof")
        else:
            run.counts["consistency"] += 1
            run.keep_consistency(record)
    return None


def read_body(run: _Run, source: BinaryIO) -> None:
    """Read everything after the manifest into ``run``; then let it finish."""
    body = _Body(source)
    line = _read_header(run, body)
    run.consistency_proofs()
    if run.partial is not None:
        run.partial.head = run.header.head
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
