"""Queries over the log: entries, checkpoints, proofs, receipts, keys and actors.

Every proof reads O(log n) rows: a proof is planned as a set of perfect-subtree node IDs
(``ledger.merkle``) and fetched with one indexed query, never by walking the leaves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection, select, true

from ledger.errors import NotFoundError, ProofShapeError
from ledger.hashing import EMPTY_ROOT
from ledger.merkle import (
    NodeID,
    consistency_plan,
    fold_subtrees,
    inclusion_plan,
    perfect_subtrees,
)
from ledger.receipt import Receipt, Violation
from ledger.registry import ActorRecord, KeyRecord
from ledger.store.registry import actor_from_row, key_from_row
from ledger.store.schema import actors, checkpoints, keys, log_entries, log_head

T = TypeVar("T")


@dataclass(frozen=True)
class StoredEntry:
    index: int
    entry: bytes
    leaf_hash: bytes
    chain_hash: bytes
    applied: bool
    violation: Violation | None
    logged_at: str


def tree_size(conn: Connection) -> int:
    return int(conn.execute(select(log_head.c.size).where(log_head.c.id == 1)).scalar_one())


def read_nodes(conn: Connection, ids: Iterable[NodeID]) -> dict[NodeID, bytes]:
    """The stored hashes of ``ids``: one query, one primary-key probe per node."""
    by_level: dict[int, set[int]] = {}
    for level, index in ids:
        by_level.setdefault(int(level), set()).add(int(index))
    if not by_level:
        return {}
    # Plain SQL with the integers inlined (they are ints this module computed, never input):
    # building the equivalent expression tree for every proof cost more than the query, and a
    # row-value IN list would make SQLite scan the table.
    where = " OR ".join(
        f"(level = {level} AND idx IN ({', '.join(str(i) for i in sorted(indices))}))"
        for level, indices in sorted(by_level.items())
    )
    query = f"SELECT level, idx, hash FROM merkle_nodes WHERE {where}"  # noqa: S608 # nosec B608 # our ints
    rows = conn.exec_driver_sql(query)
    return {(row[0], row[1]): bytes(row[2]) for row in rows}


def root_at(conn: Connection, size: int) -> bytes:
    """The Merkle root of the first ``size`` entries (any size up to the current one)."""
    _check_size(conn, size)
    if size == 0:
        return EMPTY_ROOT
    ids = perfect_subtrees(0, size)
    return fold_subtrees(tuple(ids), read_nodes(conn, ids))


def _check_size(conn: Connection, size: int | None) -> int:
    """The current tree size, after checking that ``size`` (if given) is within it."""
    current = tree_size(conn)
    if size is not None and (size < 0 or size > current):
        raise ProofShapeError(f"tree size {size} is outside the log (current size {current})")
    return current


def inclusion_proof(
    conn: Connection, index: int, size: int | None = None
) -> tuple[int, list[bytes]]:
    """(tree size, RFC 9162 inclusion proof of ``index``); ``size`` defaults to the current."""
    current = _check_size(conn, size)
    size = current if size is None else size
    plan = inclusion_plan(index, size)
    return size, plan.materialize(read_nodes(conn, plan.node_ids()))


def consistency_proof(
    conn: Connection, first: int, second: int | None = None
) -> tuple[int, list[bytes]]:
    """(second, RFC 9162 consistency proof); ``second`` defaults to the current size."""
    current = _check_size(conn, second)
    second = current if second is None else second
    if first > second:
        raise ProofShapeError(f"first ({first}) must not exceed second ({second})")
    plan = consistency_plan(first, second)
    return second, plan.materialize(read_nodes(conn, plan.node_ids()))


def index_of_leaf(conn: Connection, leaf: bytes) -> int:
    index = conn.execute(
        select(log_entries.c.idx).where(log_entries.c.leaf_hash == leaf).order_by(log_entries.c.idx)
    ).scalar()
    if index is None:
        raise NotFoundError(f"no entry has leaf hash {leaf.hex()}")
    return int(index)


def latest_checkpoint(conn: Connection) -> tuple[int, bytes]:
    row = conn.execute(
        select(checkpoints.c.size, checkpoints.c.note).order_by(checkpoints.c.size.desc()).limit(1)
    ).first()
    if row is None:
        raise NotFoundError("the log has no checkpoint yet: run spola init and start the service")
    return int(row.size), row.note.encode("utf-8")


def covering_checkpoint(conn: Connection, index: int) -> tuple[int, bytes]:
    """The first checkpoint that covers entry ``index``: the one signed after its batch."""
    row = conn.execute(
        select(checkpoints.c.size, checkpoints.c.note)
        .where(checkpoints.c.size > index)
        .order_by(checkpoints.c.size)
        .limit(1)
    ).first()
    if row is None:
        raise NotFoundError(f"no checkpoint covers entry {index}")
    return int(row.size), row.note.encode("utf-8")


def _entry_from_row(row: object) -> StoredEntry:
    rule = row.violation_rule  # type: ignore[attr-defined]
    return StoredEntry(
        index=row.idx,  # type: ignore[attr-defined]
        entry=bytes(row.entry),  # type: ignore[attr-defined]
        leaf_hash=bytes(row.leaf_hash),  # type: ignore[attr-defined]
        chain_hash=bytes(row.chain_hash),  # type: ignore[attr-defined]
        applied=row.applied,  # type: ignore[attr-defined]
        violation=None if rule is None else Violation(rule, row.violation_detail),  # type: ignore[attr-defined]
        logged_at=row.logged_at,  # type: ignore[attr-defined]
    )


def entries(conn: Connection, start: int, end: int) -> list[StoredEntry]:
    """Entries with ``start <= index < end``."""
    rows = conn.execute(
        select(log_entries)
        .where(log_entries.c.idx >= start, log_entries.c.idx < end)
        .order_by(log_entries.c.idx)
    )
    return [_entry_from_row(row) for row in rows]


def entry(conn: Connection, index: int) -> StoredEntry:
    row = conn.execute(select(log_entries).where(log_entries.c.idx == index)).first()
    if row is None:
        raise NotFoundError(f"no entry at index {index}")
    return _entry_from_row(row)


def verdicts(
    conn: Connection, indices: list[int]
) -> Iterator[tuple[int, bytes, bool, Violation | None]]:
    """(index, chain hash, applied, violation) of each entry of ``indices`` (increasing), in
    that order."""
    step = 1000  # bound parameters per statement
    for start in range(0, len(indices), step):
        chunk = indices[start : start + step]
        rows = conn.execute(
            select(
                log_entries.c.idx,
                log_entries.c.chain_hash,
                log_entries.c.applied,
                log_entries.c.violation_rule,
                log_entries.c.violation_detail,
            )
            .where(log_entries.c.idx.in_(chunk))
            .order_by(log_entries.c.idx)
        ).all()
        if len(rows) != len(chunk):
            raise NotFoundError(f"no entry at some of the indices {chunk[0]}…{chunk[-1]}")
        for row in rows:
            rule = row.violation_rule
            violation = None if rule is None else Violation(rule, row.violation_detail)
            yield int(row.idx), bytes(row.chain_hash), bool(row.applied), violation


def latest_of_types(
    conn: Connection, actor_id: str, types: Sequence[str], *, limit: int, upto: int | None = None
) -> list[tuple[int, bytes]]:
    """An actor's latest ``limit`` applied entries of ``types`` (at or below index ``upto``),
    newest first: (index, entry bytes).

    Asked for several types in one query, a planner walks the actor's history backwards
    through every entry of the other types (a brand's passports, a mill's profile updates) to
    find a few, or all of it when there are none. Here each type is one range of the index
    ``(actor, event_type, applied, idx)``, which holds the log indexes; only the chosen entries
    are read.
    """
    chosen: list[int] = []
    for kind in types:
        query = (
            select(log_entries.c.idx)
            .where(log_entries.c.actor == actor_id, log_entries.c.event_type == kind)
            .where(log_entries.c.applied == true())  # "IS true" would not seek on PostgreSQL
            .order_by(log_entries.c.idx.desc())
            .limit(limit)
        )
        if upto is not None:
            query = query.where(log_entries.c.idx <= upto)
        chosen.extend(conn.execute(query).scalars())
    chosen = sorted(chosen, reverse=True)[:limit]
    found: dict[int, bytes] = {}
    for part in chunks(chosen):
        rows = conn.execute(
            select(log_entries.c.idx, log_entries.c.entry).where(log_entries.c.idx.in_(part))
        )
        found.update((row.idx, bytes(row.entry)) for row in rows)
    return [(index, found[index]) for index in chosen]


def chunks(values: Sequence[T], size: int = 500) -> list[Sequence[T]]:
    """``values`` in runs of ``size``: what one ``IN (…)`` query names at once, well under every
    engine's parameter limit."""
    return [values[i : i + size] for i in range(0, len(values), size)]


def receipt_for(conn: Connection, index: int, *, duplicate: bool = False) -> Receipt:
    """The receipt the ledger gave for entry ``index``, rebuilt exactly from the log."""
    stored = entry(conn, index)
    size, note = covering_checkpoint(conn, index)
    return Receipt(
        index=index,
        leaf_hash=stored.leaf_hash,
        checkpoint=note,
        inclusion_proof=tuple(inclusion_proof(conn, index, size)[1]),
        applied=stored.applied,
        violation=stored.violation,
        duplicate=duplicate,
    )


def key(conn: Connection, key_id: str) -> KeyRecord:
    row = conn.execute(select(keys).where(keys.c.key_id == key_id)).first()
    if row is None:
        raise NotFoundError(f"unknown key {key_id}")
    return key_from_row(row)


def actor_list(conn: Connection, *, offset: int, limit: int) -> list[ActorRecord]:
    rows = conn.execute(
        select(actors).order_by(actors.c.registered_at_index).offset(offset).limit(limit)
    )
    return [actor_from_row(row) for row in rows]


def actor(conn: Connection, actor_id: str) -> tuple[ActorRecord, list[KeyRecord]]:
    row = conn.execute(select(actors).where(actors.c.id == actor_id)).first()
    if row is None:
        raise NotFoundError(f"unknown actor {actor_id}")
    key_rows = conn.execute(
        select(keys).where(keys.c.actor == actor_id).order_by(keys.c.valid_from_index)
    )
    return actor_from_row(row), [key_from_row(k) for k in key_rows]
