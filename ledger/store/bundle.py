"""``spola export bundle``: the whole log, or one passport, item or actor, as an audit bundle.

See docs/bundle.md. For the whole log, this module reads the latest checkpoint, every entry it
covers (exact bytes, chain hashes, stored verdicts) page by page, and optionally a consistency
proof from an earlier checkpoint, and writes them in the line format of ``ledger.bundle``. The
manifest names the SHA-256 of the lines after it, so the body is spooled to a temporary file
first; the bundle itself is written beside its target and renamed into place, so no reader ever
sees half a bundle.

A partial bundle (``export_partial_bundle``, ``partial_bundle_bytes``) holds the entries
``ledger.store.bundle_scope`` picks, each followed by its inclusion proof to the latest
checkpoint, the log key's signed statement of their verdicts (``ledger.verdicts``), and for a
passport the document of each version, as the caller builds it.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

from sqlalchemy import Connection

from ledger.bundle import SCOPE_ACTOR, SCOPE_ITEM, SCOPE_LEDGER, SCOPE_PASSPORT, Manifest
from ledger.bundle_records import (
    ROLE_HEAD,
    ROLE_SINCE,
    CheckpointRecord,
    ConsistencyRecord,
    EntryRecord,
    InclusionRecord,
    PassportRecord,
    VerdictsRecord,
)
from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.errors import CheckpointError, FormatError
from ledger.files import replaced_atomically
from ledger.note import SignedNote
from ledger.store import reads
from ledger.store.bundle_scope import (
    DocumentBuilder,
    Scope,
    actor_scope,
    item_scope,
    passport_scope,
    with_dependencies,
)
from ledger.verdicts import VerdictDigest, VerdictStatement

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
        self.counts = {
            "entries": 0, "checkpoints": 0, "consistency": 0, "inclusion": 0, "passports": 0,
            "verdicts": 0,
        }  # fmt: skip

    def write(self, line: bytes, kind: str) -> None:
        self.spool.write(line)
        self.digest.update(line)
        self.counts[kind] += 1


def _entry_record(stored: reads.StoredEntry) -> EntryRecord:
    return EntryRecord(
        index=stored.index,
        entry=stored.entry,
        chain_hash=stored.chain_hash,
        applied=stored.applied,
        violation=stored.violation,
    )


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
            if reads.root_at(conn, since.size) != since.root_hash:
                # Signed by this key for this origin, yet another log's: a second database
                # run with the same operator home. No consistency proof can join the two.
                raise CheckpointError(
                    f"the earlier checkpoint (size {since.size}) is not this log's: its root "
                    f"differs from the log's root at that size"
                )
            since_size = since.size
            body.write(CheckpointRecord(ROLE_SINCE, since_note).to_line(), "checkpoints")
            if since.size > 0:
                _, proof = reads.consistency_proof(conn, since.size, size)
                proved = ConsistencyRecord(since.size, size, tuple(proof))
                body.write(proved.to_line(), "consistency")
        for start in range(0, size, PAGE):
            for stored in reads.entries(conn, start, min(start + PAGE, size)):
                body.write(_entry_record(stored).to_line(), "entries")
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


def _scope(
    conn: Connection, scope: str, subject: str, size: int, build: DocumentBuilder | None
) -> Scope:
    if scope == SCOPE_PASSPORT:
        if build is None:
            raise FormatError("a passport bundle needs the passport builder")
        return passport_scope(conn, subject, size - 1, build)
    if scope == SCOPE_ITEM:
        return item_scope(conn, subject, size - 1)
    if scope == SCOPE_ACTOR:
        return actor_scope(conn, subject, size - 1)
    raise FormatError(f"scope {scope!r} is not a partial bundle's")


def _write_partial_body(
    store: LedgerStore, body: _Body, scope: str, subject: str, build: DocumentBuilder | None
) -> int:
    """(1) the head checkpoint and the log key's statement of the entries' verdicts, (2) the
    passport versions, (3) each entry and its proof."""
    with store.connect() as conn:
        size, head = reads.latest_checkpoint(conn)
        picked = _scope(conn, scope, subject, size, build)
        indices = sorted(with_dependencies(conn, picked, size - 1))
        body.write(CheckpointRecord(ROLE_HEAD, head).to_line(), "checkpoints")
        digest = VerdictDigest()
        for index, chain_hash, applied, violation in reads.verdicts(conn, indices):
            digest.add(index, chain_hash, applied, violation)
        checkpoint = Checkpoint.from_text(SignedNote.from_bytes(head).text)
        statement = VerdictStatement(
            checkpoint.origin,
            checkpoint.size,
            checkpoint.root_hash,
            scope,
            subject,
            digest.digest(),
        )
        body.write(VerdictsRecord(store.sign_verdicts(statement)).to_line(), "verdicts")
        for version, document in picked.documents:
            record = PassportRecord(subject=subject, version=version.number, document=document)
            body.write(record.to_line(), "passports")
        for index in indices:
            body.write(_entry_record(reads.entry(conn, index)).to_line(), "entries")
            _, proof = reads.inclusion_proof(conn, index, size)
            body.write(InclusionRecord(index, size, tuple(proof)).to_line(), "inclusion")
    return size


def _partial_manifest(
    store: LedgerStore, body: _Body, scope: str, subject: str, size: int
) -> Manifest:
    return Manifest(
        origin=store.origin,
        scope=scope,
        tree_size=size,
        entries=body.counts["entries"],
        checkpoints=body.counts["checkpoints"],
        consistency=0,
        body_sha256=body.digest.digest(),
        subject=subject,
        inclusion=body.counts["inclusion"],
        passports=body.counts["passports"],
    )


def partial_bundle_bytes(
    store: LedgerStore, *, scope: str, subject: str, build: DocumentBuilder | None = None
) -> bytes:
    """A partial bundle in memory (the passport bundle the API serves); NotFoundError if the
    subject has nothing in the log. ``build`` makes a version's document (scope passport)."""
    spool = io.BytesIO()
    body = _Body(spool)
    size = _write_partial_body(store, body, scope, subject, build)
    return _partial_manifest(store, body, scope, subject, size).to_line() + spool.getvalue()


def export_partial_bundle(
    store: LedgerStore,
    out: Path,
    *,
    scope: str,
    subject: str,
    build: DocumentBuilder | None = None,
) -> BundleSummary:
    """Write the partial bundle of ``subject`` (scope passport, item or actor) to ``out``."""
    with tempfile.TemporaryFile(dir=out.parent, prefix=f".{out.name}.body.") as spool:
        body = _Body(spool)
        size = _write_partial_body(store, body, scope, subject, build)
        manifest = _partial_manifest(store, body, scope, subject, size)
        spool.seek(0)
        with replaced_atomically(out, binary=True) as file:
            file.write(manifest.to_line())
            shutil.copyfileobj(spool, file, 1 << 20)
    return BundleSummary(path=out, tree_size=size, since_size=None, bytes=out.stat().st_size)
