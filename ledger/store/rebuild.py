"""Rebuild: replay the whole log and prove the stored projections equal the replayed ones.

``rebuild`` reads every entry in log order (in pages, so memory holds projections, not the log),
replays it with ``ledger.replay.Replay`` and compares, table by table, what the sequencer
stored with what the replay computed: every entry's verdict, the registry (keys, actors, feed
heads) and the domain projections (lots, balances, items, handovers, custody, provenance).
With ``repair=True`` the domain and registry projections are rewritten from the replay, under
the sequencer's lock; verdicts live in the append-only log and are never rewritten — a verdict
that differs is reported, and means the rules changed meaning since the entry was appended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection, Engine, delete, insert, select

from ledger.quantities import format_decimal
from ledger.registry import KeyRecord
from ledger.replay import Replay
from ledger.rules import Projection
from ledger.store import domain as rows
from ledger.store.engine import WRITE
from ledger.store.registry import actor_from_row, actor_row, key_from_row, key_row
from ledger.store.rows import bulk_insert
from ledger.store.schema import (
    actors,
    balances,
    custody,
    feeds,
    handovers,
    items,
    keys,
    log_entries,
    log_head,
    lots,
    provenance,
)

PAGE: Final = 5000
MAX_REPORTED: Final = 50  # differences listed; the count is always exact


@dataclass
class RebuildReport:
    entries: int = 0
    compared: dict[str, int] = field(default_factory=dict)  # table → rows compared
    differences: list[str] = field(default_factory=list)
    difference_count: int = 0
    repaired: bool = False

    @property
    def equal(self) -> bool:
        return self.difference_count == 0

    def differ(self, text: str) -> None:
        self.difference_count += 1
        if len(self.differences) < MAX_REPORTED:
            self.differences.append(text)


Progress = Callable[[int, int], None]  # (entries replayed, log size)


def replay_log(conn: Connection, log_key: KeyRecord, progress: Progress | None = None) -> Replay:
    size = conn.execute(select(log_head.c.size).where(log_head.c.id == 1)).scalar_one()
    replay = Replay(log_key)
    start = 0
    while start < size:
        page = conn.execute(
            select(log_entries.c.entry)
            .where(log_entries.c.idx >= start, log_entries.c.idx < start + PAGE)
            .order_by(log_entries.c.idx)
        ).all()
        for row in page:
            replay.feed(bytes(row.entry))
        start += PAGE
        if progress is not None:
            progress(min(start, size), size)
    return replay


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


def _stored(conn: Connection) -> dict[str, dict[Any, Any]]:
    def by(table: Any, key: Callable[[Any], Any], convert: Callable[[Any], Any]) -> dict[Any, Any]:
        return {key(row): convert(row) for row in conn.execute(select(table))}

    return {
        "keys": by(keys, lambda r: r.key_id, key_from_row),
        "actors": by(actors, lambda r: r.id, actor_from_row),
        "feeds": by(feeds, lambda r: r.key_id, lambda r: (r.seq, r.digest, r.idx)),
        "lots": by(lots, lambda r: r.id, rows.lot_from_row),
        "balances": by(balances, lambda r: (r.lot, r.holder), lambda r: Decimal(r.amount)),
        "items": by(items, lambda r: r.id, rows.item_from_row),
        "handovers": by(handovers, lambda r: (r.sender, r.id), rows.handover_from_row),
        "custody": by(custody, lambda r: (r.idx, r.n), rows.custody_from_row),
        "provenance": by(provenance, lambda r: (r.idx, r.n), rows.provenance_from_row),
    }


def _replayed(replay: Replay) -> dict[str, dict[Any, Any]]:
    p: Projection = replay.projection
    return {
        "keys": dict(replay.registry.keys),
        "actors": dict(replay.registry.actors),
        "feeds": {k: (h.seq, h.digest, h.index) for k, h in replay.feeds.items()},
        "lots": dict(p.lots),
        "balances": dict(p.balances),
        "items": dict(p.items),
        "handovers": dict(p.handovers),
        "custody": {(c.index, c.n): c for c in p.custody},
        "provenance": {(r.index, r.n): r for r in p.provenance},
    }


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
    report.compared["verdicts"] = replay.size


def rebuild(
    engine: Engine,
    log_key: KeyRecord,
    *,
    repair: bool = False,
    progress: Progress | None = None,
) -> RebuildReport:
    """Replay the log and compare (and, with ``repair``, rewrite) the projections."""
    report = RebuildReport()
    with engine.connect().execution_options(**{WRITE: repair}) as conn, conn.begin():
        if repair:  # hold the sequencer's lock: nothing is appended while we rewrite
            conn.execute(select(log_head).where(log_head.c.id == 1).with_for_update()).one()
        replay = replay_log(conn, log_key, progress)
        report.entries = replay.size
        _compare_verdicts(conn, replay, report)
        stored, replayed = _stored(conn), _replayed(replay)
        for table in replayed:
            _compare(report, table, stored[table], replayed[table])
        if repair and not report.equal:
            _rewrite(conn, replayed)
            report.repaired = True
    return report


def _rewrite(conn: Connection, replayed: dict[str, dict[Any, Any]]) -> None:
    for table in (provenance, custody, handovers, items, balances, lots, feeds, actors, keys):
        conn.execute(delete(table))
    _insert_many(conn, keys, (key_row(r) for r in replayed["keys"].values()))
    _insert_many(conn, actors, (actor_row(r) for r in replayed["actors"].values()))
    _insert_many(
        conn,
        feeds,
        (
            {"key_id": k, "seq": s, "digest": d, "idx": i}
            for k, (s, d, i) in replayed["feeds"].items()
        ),
    )
    _insert_many(conn, lots, (rows.lot_row(r) for r in replayed["lots"].values()))
    _insert_many(
        conn,
        balances,
        (
            {"lot": lot, "holder": holder, "amount": format_decimal(amount)}
            for (lot, holder), amount in replayed["balances"].items()
        ),
    )
    _insert_many(conn, items, (rows.item_row(r) for r in replayed["items"].values()))
    _insert_many(conn, handovers, (rows.handover_row(r) for r in replayed["handovers"].values()))
    bulk_insert(
        conn,
        custody,
        rows.CUSTODY_COLUMNS,
        [rows.custody_row(r) for r in replayed["custody"].values()],
    )
    bulk_insert(
        conn,
        provenance,
        rows.PROVENANCE_COLUMNS,
        [rows.provenance_row(r) for r in replayed["provenance"].values()],
    )


def _insert_many(conn: Connection, table: Any, values: Iterable[dict[str, Any]]) -> None:
    batch = list(values)
    if batch:
        conn.execute(insert(table), batch)
