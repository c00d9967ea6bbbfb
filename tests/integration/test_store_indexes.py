"""Reads that run on every page view seek an index instead of walking a history.

The planner's choice is asked with EXPLAIN on the statement the store really sends; on
PostgreSQL sequential scans are switched off for the question, so that a table of a few rows
does not make a scan the cheaper answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event

from ledger.store.ledger import LedgerStore
from tests.conftest import enrol
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

Statement = tuple[str, Any]


@contextmanager
def sent(engine: Engine) -> Iterator[list[Statement]]:
    """The statements ``engine`` sends to the database meanwhile, with their parameters."""
    statements: list[Statement] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        statements.append((sql, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def plan(engine: Engine, statement: Statement) -> str:
    sql, params = statement
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
            return "\n".join(str(row[-1]) for row in rows)
        conn.exec_driver_sql("SET enable_seqscan = off")
        return "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}", params))


def only_read_of_the_log(store: LedgerStore, read: Callable[[], object]) -> Statement:
    with sent(store.read_engine) as statements:
        read()
    (statement,) = [s for s in statements if "FROM log_entries" in s[0]]
    return statement


def test_an_actors_latest_assessment_is_an_index_seek_past_its_other_entries(
    store: LedgerStore, operator: Terminal
) -> None:
    mill = enrol(store, operator, "setificio-comasco")
    store.append([mill.update_self(f"Setificio Comasco {n}") for n in range(40)])
    statement = only_read_of_the_log(store, lambda: store.latest_assessments([mill.actor]))

    assert "ix_log_entries_actor_event_type_idx" in plan(store.read_engine, statement)
