"""``spola export bundle``: the whole log as one audit bundle (docs/bundle.md).

This module reads the latest checkpoint, every entry it covers (exact bytes, chain hashes,
stored verdicts) page by page, and optionally a consistency proof from an earlier checkpoint,
and writes them in the line format of ``ledger.bundle``. The manifest names the SHA-256 of the
lines after it, so the body is spooled to a temporary file first; the bundle itself is written
beside its target and renamed into place, so no reader ever sees half a bundle.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

from ledger.bundle import (
    ROLE_HEAD,
    ROLE_SINCE,
    SCOPE_LEDGER,
    CheckpointRecord,
    ConsistencyRecord,
    EntryRecord,
    Manifest,
)
from ledger.checkpoint import verify_checkpoint
from ledger.errors import CheckpointError
from ledger.files import replaced_atomically
from ledger.store import reads

if TYPE_CHECKING:
    from ledger.store.ledger import LedgerStore

PAGE: Final = 1000
Progress = Callable[[int, int], None]  # (entries written, tree size)


@dataclass(frozen=True)
class BundleSummary:
    path: Path
    tree_size: int
    since_size: int | None
    bytes: int


class _Body:
    """The lines after the manifest, spooled and hashed as they are written."""

    def __init__(self, spool: IO[bytes]) -> None:
        self.spool = spool
        self.digest = hashlib.sha256()
        self.counts = {"entries": 0, "checkpoints": 0, "consistency": 0}

    def write(self, line: bytes, kind: str) -> None:
        self.spool.write(line)
        self.digest.update(line)
        self.counts[kind] += 1


def _write_body(
    store: LedgerStore, body: _Body, since_note: bytes | None, progress: Progress | None
) -> tuple[int, int | None]:
    with store.connect() as conn:
        size, head = reads.latest_checkpoint(conn)
        body.write(CheckpointRecord(ROLE_HEAD, head).to_line(), "checkpoints")
        since_size = None
        if since_note is not None:
            since = verify_checkpoint(since_note, store.log_vkey, origin=store.origin)
            if since.size > size:
                raise CheckpointError(
                    f"the earlier checkpoint (size {since.size}) is newer than the log's "
                    f"latest (size {size})"
                )
            since_size = since.size
            body.write(CheckpointRecord(ROLE_SINCE, since_note).to_line(), "checkpoints")
            if since.size > 0:
                _, proof = reads.consistency_proof(conn, since.size, size)
                proved = ConsistencyRecord(since.size, size, tuple(proof))
                body.write(proved.to_line(), "consistency")
        for start in range(0, size, PAGE):
            for stored in reads.entries(conn, start, min(start + PAGE, size)):
                record = EntryRecord(
                    index=stored.index,
                    entry=stored.entry,
                    chain_hash=stored.chain_hash,
                    applied=stored.applied,
                    violation=stored.violation,
                )
                body.write(record.to_line(), "entries")
            if progress is not None:
                progress(min(start + PAGE, size), size)
    return size, since_size


def export_bundle(
    store: LedgerStore,
    out: Path,
    *,
    since_checkpoint: bytes | None = None,
    progress: Progress | None = None,
) -> BundleSummary:
    """Write the whole-ledger bundle to ``out`` (replaced atomically)."""
    with tempfile.TemporaryFile(dir=out.parent, prefix=f".{out.name}.body.") as spool:
        body = _Body(spool)
        size, since_size = _write_body(store, body, since_checkpoint, progress)
        manifest = Manifest(
            origin=store.origin,
            scope=SCOPE_LEDGER,
            tree_size=size,
            entries=body.counts["entries"],
            checkpoints=body.counts["checkpoints"],
            consistency=body.counts["consistency"],
            body_sha256=body.digest.digest(),
        )
        spool.seek(0)
        with replaced_atomically(out, binary=True) as file:
            file.write(manifest.to_line())
            shutil.copyfileobj(spool, file, 1 << 20)
    return BundleSummary(path=out, tree_size=size, since_size=since_size, bytes=out.stat().st_size)
