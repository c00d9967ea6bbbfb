"""Rebuild: replay the whole log and prove the stored projections equal the replayed ones.

``rebuild`` reads every entry in log order (in pages, so memory holds projections, not the log),
replays it with ``ledger.replay.Replay`` and compares, table by table, what the sequencer stored
with what the replay computed: every entry's verdict, the registry (keys, actors, feed heads), the
domain projections (lots, balances, items, handovers, custody, provenance: read and rewritten by
``ledger.store.projection_tables``) and the sequencer's ``log_head`` row (size, chain hash, compact
range: recomputed from the entry bytes). Without ``repair`` it compares one snapshot of the
database while appends go on; with ``repair=True`` the projections and the head row are rewritten
from the replay, under the sequencer's lock; verdicts live in the append-only log and are never
rewritten — a verdict that differs is reported, and means the rules changed meaning since the entry
was appended; it also stops the repair, as projections rebuilt by rules that judge the log's
entries otherwise would disagree with the verdicts the log keeps.

The log itself is never rewritten, and a damaged one is refused (``DamagedLogError``), repair
or not: an index missing from the log, an entry no ledger could have admitted, or a log that
does not give the root of the latest checkpoint the operator signed (shorter than it, or other
bytes). A head rebuilt from such a log would make the next append sign a second tree at a size
already signed; only a backup (or a bundle) holds what was lost.

So are ``merkle_nodes`` that are not the tree of the log's entries: the sequencer stores every
complete subtree, the leaves included (each node ``CompactRange.append`` completes), and
inclusion and consistency proofs are read from them. The replay derives the same nodes as it
appends each leaf to its compact range and compares them, a page of entries at a time, with the
stored nodes those entries complete; then it looks for stored nodes beyond the log's size. A
node with another hash, a missing node, or one the log does not give makes the ledger serve
proofs that fail: it is damage, named (the first) and counted, and refused. A node with another
hash, or an extra one, is never rewritten (the table is append-only, like the log): only a backup
holds the tree that was served. A missing node alone is the one thing ``repair`` restores: once
every stored node is found equal to the log's and the log gives the root the operator signed,
the missing nodes are inserted again, with the hashes the log's entries give.

A SQLite file is first put to SQLite's own integrity check (``DamagedFileError``): a file
damaged under its rows (a page nobody owns, an index unlike its table) may still read equal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from ledger.compact import CompactRange
from ledger.errors import LedgerError
from ledger.hashing import CHAIN_GENESIS, chain_hash, leaf_hash
from ledger.merkle import NodeID
from ledger.registry import KeyRecord
from ledger.replay import Replay, ReplayError
from ledger.store.engine import WRITE
from ledger.store.projection_tables import (
    replayed_projections,
    rewrite_projections,
    stored_projections,
)
from ledger.store.rows import bulk_insert
from ledger.store.schema import (
    checkpoints,
    log_entries,
    log_head,
    merkle_nodes,
)

RESTORE_A_BACKUP: Final = (
    "rebuild rewrites projections from the log, never the log: restore the database from a backup"
)


class DamagedLogError(LedgerError):
    """The log itself is damaged: rebuild rewrites projections from the log, never the log."""

    def __init__(self, what: str, *, remedy: str = RESTORE_A_BACKUP) -> None:
        super().__init__(f"the log itself is damaged: {what}; {remedy}")


class DamagedFileError(DamagedLogError):
    """SQLite's integrity check finds the database file damaged, whatever its rows still say."""

    def __init__(self, found: str) -> None:
        LedgerError.__init__(
            self,
            f"the database file is damaged (SQLite's integrity check: {found}); rebuild rewrites "
            "projections from the log, never the file: restore the database from a backup "
            "(docs/operations.md, Backup)",
        )


PAGE: Final = 5000
MAX_DAMAGE_TOLD: Final = 5  # of what SQLite's integrity check finds, the first told
MAX_REPORTED: Final = 50  # differences listed; the count is always exact


@dataclass
class RebuildReport:
    entries: int = 0
    compared: dict[str, int] = field(default_factory=dict)  # table → rows compared
    differences: list[str] = field(default_factory=list)
    difference_count: int = 0
    verdict_differences: int = 0  # counted in difference_count too; they stop a repair
    repaired: bool = False
    restored_nodes: int = 0  # missing Merkle nodes inserted again from the log's entries

    @property
    def equal(self) -> bool:
        return self.difference_count == 0

    def differ(self, text: str) -> None:
        self.difference_count += 1
        if len(self.differences) < MAX_REPORTED:
            self.differences.append(text)


Progress = Callable[[int, int], None]  # (entries replayed, log size)


@dataclass
class _Nodes:
    """The stored Merkle nodes, compared with the nodes the log's leaves give."""

    compared: int = 0  # nodes the log gives
    damaged: int = 0  # of them wrong or missing, and stored nodes the log does not give
    first: str = ""  # the first damaged node, said
    missing: list[tuple[NodeID, bytes]] = field(default_factory=list)  # with the log's hashes

    def damage(self, node: Any, what: str) -> None:
        self.damaged += 1
        if not self.first:
            self.first = f"node (level {node[0]}, index {node[1]}) {what}"

    def compare_page(
        self, conn: Connection, start: int, end: int, given: list[tuple[NodeID, bytes]]
    ) -> None:
        """Compare the nodes that leaves [start, end) complete, in the order they complete.

        Node (level, idx) completes with its last leaf, (idx + 1)·2^level - 1: at each level,
        the leaves of the page complete exactly the nodes with start >> level ≤ idx <
        end >> level, read in one query by primary key.
        """
        if not given:
            return
        ranges = [
            and_(
                merkle_nodes.c.level == level,
                merkle_nodes.c.idx >= start >> level,
                merkle_nodes.c.idx < end >> level,
            )
            for level in range(end.bit_length())
            if start >> level < end >> level
        ]
        query = select(merkle_nodes.c.level, merkle_nodes.c.idx, merkle_nodes.c.hash)
        rows = conn.execute(query.where(or_(*ranges)))
        stored = {(level, idx): bytes(value) for level, idx, value in rows}
        for node, value in given:
            have = stored.get(node)
            if have is None:
                self.damage(node, "is missing")
                self.missing.append((node, value))
            elif have != value:
                self.damage(node, "has another hash")
        self.compared += len(given)

    def check(self, conn: Connection, size: int, *, repair: bool, signed: bool) -> None:
        """Look for stored nodes the log's ``size`` leaves do not give (beyond its tree), then
        refuse the log if any node was damaged, unless every damaged node is missing and
        ``repair`` may restore them: the log's entries give them again, and ``signed`` says
        that the operator signed the root those entries give (checked by ``_check_signed``).
        """
        level, idx = merkle_nodes.c.level, merkle_nodes.c.idx
        beyond = or_(
            *(and_(level == n, idx >= size >> n) for n in range(size.bit_length())),
            level >= size.bit_length(),
            level < 0,
            idx < 0,
        )
        extra = conn.execute(select(func.count()).select_from(merkle_nodes).where(beyond))
        count = extra.scalar_one()
        if count:
            node = conn.execute(
                select(level, idx).where(beyond).order_by(level, idx).limit(1)
            ).one()
            self.damage(node, f"is stored, but the log's {size} entries do not give it")
            self.damaged += count - 1
        if not self.damaged:
            return
        what = (
            f"{self.damaged:,} Merkle node(s) differ from the tree of its {size:,} entries "
            f"(proofs read from them fail); the first: {self.first}"
        )
        if self.damaged > len(self.missing):
            raise DamagedLogError(
                what,
                remedy="an altered or extra node is never rewritten (--repair restores only "
                "missing ones): restore the database from a backup",
            )
        if not signed:
            raise DamagedLogError(f"{what}; no signed checkpoint vouches for the log's root")
        if not repair:
            raise DamagedLogError(
                what,
                remedy="none is altered or extra: run with --repair to restore the missing "
                "nodes from the log's entries",
            )

    def restore(self, conn: Connection) -> int:
        """Insert the missing nodes the log's entries give (an INSERT: the append-only
        triggers allow it); how many."""
        rows: list[tuple[object, ...]] = [(lvl, idx, value) for (lvl, idx), value in self.missing]
        bulk_insert(conn, merkle_nodes, ("level", "idx", "hash"), rows)
        return len(rows)


@dataclass
class _Head:
    """The sequencer's head row as the log's entries give it: size, last chain hash, and the
    compact range, recomputed from the entry bytes alone."""

    size: int = 0
    chain: bytes = CHAIN_GENESIS
    compact: CompactRange = field(default_factory=CompactRange)
    signed: int = 0  # the size of the latest signed checkpoint
    root: bytes | None = None  # the log's root at that size, once the replay reaches it
    nodes: _Nodes = field(default_factory=_Nodes)

    def add(self, entry: bytes) -> list[tuple[NodeID, bytes]]:
        """Append the entry's leaf; the Merkle nodes it completes (the leaf's first)."""
        leaf = leaf_hash(entry)
        self.chain = chain_hash(self.chain, leaf)
        completed = self.compact.append(leaf)
        self.size += 1
        if self.size == self.signed:
            self.root = self.compact.root()
        return completed

    def row(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "chain_hash": self.chain,
            "compact_range": self.compact.to_bytes(),
        }


def replay_log(
    conn: Connection, log_key: KeyRecord, progress: Progress | None = None, *, signed: int = 0
) -> tuple[Replay, _Head]:
    """Replay every entry of the log, in order; the replay and the head it gives (with its
    root at size ``signed``). DamagedLogError if an index is missing or an entry could never
    have been admitted. Each page's Merkle nodes are compared with the stored ones as it is
    read (``head.nodes``: ``check`` it once the replay is done).

    The log's size is counted from its entries, not read from the head row it is compared with.
    """
    last = conn.execute(select(func.max(log_entries.c.idx))).scalar_one()
    size = 0 if last is None else last + 1
    replay, head = Replay(log_key), _Head(signed=signed)
    start = 0
    while start < size:
        page = conn.execute(
            select(log_entries.c.idx, log_entries.c.entry)
            .where(log_entries.c.idx >= start, log_entries.c.idx < start + PAGE)
            .order_by(log_entries.c.idx)
        ).all()
        given: list[tuple[NodeID, bytes]] = []
        first = head.size
        for row in page:
            if row.idx != head.size:  # a replay would give every later entry a wrong index
                raise DamagedLogError(f"entry {head.size} is missing (the log runs to {last})")
            entry = bytes(row.entry)
            try:
                replay.feed(entry)
            except ReplayError as exc:
                raise DamagedLogError(str(exc)) from exc
            given += head.add(entry)
        head.nodes.compare_page(conn, first, head.size, given)
        start += PAGE
        if progress is not None:
            progress(min(start, size), size)
    return replay, head


def _compare_head(conn: Connection, head: _Head, report: RebuildReport) -> None:
    stored = conn.execute(select(log_head).where(log_head.c.id == 1)).one()
    if stored.size != head.size:
        report.differ(f"log_head size: stored {stored.size}, the log holds {head.size} entries")
    chain = bytes(stored.chain_hash)
    if chain != head.chain:
        report.differ(
            f"log_head chain_hash: stored {chain.hex()}, the log gives {head.chain.hex()}"
        )
    if bytes(stored.compact_range) != head.compact.to_bytes():
        report.differ("log_head compact_range: differs from the Merkle tree of the log's entries")
    report.compared["log head"] = 1


def _check_signed(head: _Head, signed: Any) -> None:
    """The log must give the root of the latest checkpoint the operator signed."""
    if signed is None:
        return
    if head.size < signed.size:
        raise DamagedLogError(
            f"the latest checkpoint signs {signed.size} entries, the log holds {head.size}"
        )
    if head.root != bytes(signed.root_hash):
        raise DamagedLogError(
            f"its first {signed.size} entries do not give the root hash the checkpoint of that "
            "size signs"
        )


def _compare(
    report: RebuildReport, table: str, stored: Mapping[Any, Any], replayed: Mapping[Any, Any]
) -> None:
    report.compared[table] = len(replayed)
    for key in sorted(set(stored) | set(replayed), key=repr):
        have, want = stored.get(key), replayed.get(key)
        if have is None:
            report.differ(f"{table} {key}: missing from the store")
        elif want is None:
            report.differ(f"{table} {key}: stored, but the log does not produce it")
        elif have != want:
            report.differ(f"{table} {key}: stored {have!r}, replay gives {want!r}")


def _compare_verdicts(conn: Connection, replay: Replay, report: RebuildReport) -> None:
    stored = conn.execute(
        select(
            log_entries.c.idx,
            log_entries.c.applied,
            log_entries.c.violation_rule,
            log_entries.c.violation_detail,
        ).order_by(log_entries.c.idx)
    )
    for row in stored:
        verdict = replay.verdicts[row.idx]
        want = (True, None, None) if verdict is None else (False, verdict.rule, verdict.detail)
        have = (bool(row.applied), row.violation_rule, row.violation_detail)
        if have != want:
            report.differ(f"verdict of entry {row.idx}: stored {have}, replay gives {want}")
            report.verdict_differences += 1
    report.compared["verdicts"] = replay.size


def _check_sqlite_file(conn: Connection) -> None:
    """Refuse a SQLite file its own integrity check finds damaged: a page nobody owns, an index
    that no longer matches its table (a backup copied beside a crashed service's WAL). Its
    rows may all still read, and the replay find them equal."""
    found = [
        str(row[0]) for row in conn.exec_driver_sql(f"PRAGMA integrity_check({MAX_DAMAGE_TOLD})")
    ]
    if found != ["ok"]:
        raise DamagedFileError("; ".join(" ".join(line.split()) for line in found))


def rebuild(
    engine: Engine,
    log_key: KeyRecord,
    *,
    repair: bool = False,
    progress: Progress | None = None,
) -> RebuildReport:
    """Replay the log and compare (and, with ``repair``, rewrite) the projections."""
    report = RebuildReport()
    options: dict[str, Any] = {WRITE: repair}
    if not repair and engine.dialect.name == "postgresql":
        # One snapshot for the replay and every comparison, as SQLite's read transaction
        # has: under READ COMMITTED each query would see the appends committed meanwhile.
        # (With ``repair`` the head's lock keeps appends out instead.)
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect().execution_options(**options) as conn, conn.begin():
        if repair:  # hold the sequencer's lock: nothing is appended while we rewrite
            conn.execute(select(log_head).where(log_head.c.id == 1).with_for_update()).one()
        if conn.dialect.name == "sqlite":
            _check_sqlite_file(conn)
        signed = conn.execute(
            select(checkpoints.c.size, checkpoints.c.root_hash)
            .order_by(checkpoints.c.size.desc())
            .limit(1)
        ).first()
        replay, head = replay_log(
            conn, log_key, progress, signed=0 if signed is None else signed.size
        )
        _check_signed(head, signed)
        head.nodes.check(conn, head.size, repair=repair, signed=signed is not None)
        report.entries = replay.size
        _compare_head(conn, head, report)
        report.compared["merkle nodes"] = head.nodes.compared
        _compare_verdicts(conn, replay, report)
        stored, replayed = stored_projections(conn), replayed_projections(replay)
        for table in replayed:
            _compare(report, table, stored[table], replayed[table])
        if repair and not report.verdict_differences:
            report.restored_nodes = head.nodes.restore(conn)
            if not report.equal:
                conn.execute(update(log_head).where(log_head.c.id == 1), head.row())
                rewrite_projections(conn, replayed)
                report.repaired = True
    return report
