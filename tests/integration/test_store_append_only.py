"""Ledger tables are append-only in the database itself: raw SQL cannot rewrite history.

The triggers of ``migrations/versions/2026_11_26_0001_log.py`` refuse UPDATE and DELETE on every
ledger table on both engines, and TRUNCATE on PostgreSQL (SQLite has no TRUNCATE; its nearest
equivalent, ``DELETE FROM t`` without WHERE, is refused like any other DELETE). Each attack is
made through a raw connection, as an intruder with database credentials would, and the rows are
compared byte for byte afterwards.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.errors import EquivocationError, RefusedEnvelope
from ledger.store.ledger import LedgerStore
from ledger.store.schema import APPEND_ONLY_TABLES
from tests.conftest import enrol
from tests.terminal import Terminal

# One attack per table: a statement that matches existing rows (a row trigger fires only then).
UPDATES = {
    "log_entries": "UPDATE log_entries SET applied = NOT applied, logged_at = 'forged' "
    "WHERE idx = 1",
    "merkle_nodes": "UPDATE merkle_nodes SET hash = :forged WHERE level = 0 AND idx = 1",
    "checkpoints": "UPDATE checkpoints SET root_hash = :forged, note = 'forged' "
    "WHERE size = (SELECT MAX(size) FROM checkpoints)",
    "equivocations": "UPDATE equivocations SET envelope = :forged",
}
DELETES = {
    "log_entries": "DELETE FROM log_entries WHERE idx = (SELECT MAX(idx) FROM log_entries)",
    "merkle_nodes": "DELETE FROM merkle_nodes WHERE level = 0",
    "checkpoints": "DELETE FROM checkpoints WHERE size > 1",
    "equivocations": "DELETE FROM equivocations WHERE seq = 0",
}
ORDER_BY = {
    "log_entries": "idx",
    "merkle_nodes": "level, idx",
    "checkpoints": "size",
    "equivocations": "id",
}


@pytest.fixture
def populated(store: LedgerStore, operator: Terminal) -> LedgerStore:
    """A store with rows in every ledger table, equivocation evidence included."""
    workshop = enrol(store, operator, "conceria-di-prova")
    first = workshop.update_self("Conceria di prova")
    store.append([first, workshop.update_self("Conceria di prova srl")])
    conflicting = workshop.sign(
        {
            "type": "actor",
            "op": "update",
            "id": workshop.actor,
            "name": "A different claim at seq 0",
            "roles": ["supplier"],
            "country": "IT",
        },
        seq=0,
    )
    with pytest.raises(RefusedEnvelope) as refused:
        store.append([conflicting])
    assert isinstance(refused.value.cause, EquivocationError)
    for table in APPEND_ONLY_TABLES:
        assert _rows(store, table), f"{table} should hold rows before the attack"
    return store


def _rows(store: LedgerStore, table: str) -> list[tuple[object, ...]]:
    with store.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY {ORDER_BY[table]}"))
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]


def _attack(store: LedgerStore, sql: str) -> DBAPIError:
    with store.connect() as conn, pytest.raises(DBAPIError) as refused, conn.begin():
        conn.execute(text(sql), {"forged": b"\xff" * 32} if ":forged" in sql else {})
    return refused.value


def test_every_ledger_table_is_covered() -> None:
    assert set(UPDATES) == set(DELETES) == set(APPEND_ONLY_TABLES)


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_update_of_a_ledger_row_is_refused(populated: LedgerStore, table: str) -> None:
    before = _rows(populated, table)
    error = _attack(populated, UPDATES[table])
    assert "append-only" in str(error.orig)
    assert _rows(populated, table) == before


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_delete_of_a_ledger_row_is_refused(populated: LedgerStore, table: str) -> None:
    before = _rows(populated, table)
    error = _attack(populated, DELETES[table])
    assert "append-only" in str(error.orig)
    assert _rows(populated, table) == before


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_truncating_a_ledger_table_is_refused(populated: LedgerStore, table: str) -> None:
    # PostgreSQL's TRUNCATE skips row triggers, hence its own statement trigger; on SQLite the
    # "truncate optimization" of an unqualified DELETE must not bypass the row trigger either.
    postgres = populated.engine.dialect.name == "postgresql"
    before = _rows(populated, table)
    error = _attack(populated, f"TRUNCATE {table}" if postgres else f"DELETE FROM {table}")
    assert "append-only" in str(error.orig)
    assert _rows(populated, table) == before


def test_refused_rewrite_leaves_the_log_appendable(
    populated: LedgerStore, operator: Terminal
) -> None:
    size = populated.tree_size()
    _attack(populated, UPDATES["log_entries"])
    receipt = populated.append([operator.register("urn:spola:actor:dopo-attacco")])[0]
    assert receipt.index == size
    assert populated.tree_size() == size + 1
