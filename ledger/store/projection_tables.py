"""The projection tables ``spola rebuild`` compares and repairs: read as stored, as the replay
of the log gives them, and rewritten from the replay.

Each table is a mapping from its key to the record its reader gives, so that
``ledger.store.rebuild`` compares stored and replayed rows table by table; a stored row that
no reader can parse is kept as ``_Unreadable``, a difference to report and repair. The log, its
verdicts, its Merkle nodes and the sequencer's head row are ``ledger.store.rebuild``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from ledger.quantities import format_decimal
from ledger.replay import Replay
from ledger.rules import Projection
from ledger.store import domain as rows
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
    lots,
    provenance,
)


@dataclass(frozen=True)
class _Unreadable:
    """A stored row its reader cannot parse (a projection edited by hand into an amount that
    is no decimal, lines that are no JSON): a difference to report and repair, not a crash."""

    values: tuple[Any, ...]

    def __repr__(self) -> str:
        return f"an unreadable row {self.values!r}"


def stored_projections(conn: Connection) -> dict[str, dict[Any, Any]]:
    """Each projection table as stored: its key → the record its reader gives."""

    def by(table: Any, key: Callable[[Any], Any], convert: Callable[[Any], Any]) -> dict[Any, Any]:
        def read(row: Any) -> Any:
            try:
                return convert(row)
            except (ArithmeticError, ValueError, TypeError, KeyError):
                return _Unreadable(tuple(row))

        return {key(row): read(row) for row in conn.execute(select(table))}

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


def replayed_projections(replay: Replay) -> dict[str, dict[Any, Any]]:
    """Each projection table as the replay of the log gives it, keyed as ``stored_projections``."""
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


def rewrite_projections(conn: Connection, replayed: dict[str, dict[Any, Any]]) -> None:
    """Replace every projection row with the ``replayed`` ones (under the sequencer's lock)."""
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
