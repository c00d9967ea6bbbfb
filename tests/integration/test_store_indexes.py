"""Reads that run on every page view seek an index instead of walking a history.

The planner's choice is asked with EXPLAIN on the statements the store really sends; on
PostgreSQL sequential scans are switched off for the question, so that a table of a few rows
does not make a scan the cheaper answer. A read of ``log_entries`` that filters on the event
type must find the type in its index condition: a search by actor alone walks the actor's
history through every entry of other types (a brand's passports, a mill's profile updates).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, event

from api.demo_story import BRAND, JACKETS, WOOL_MILL
from ledger.store.ledger import LedgerStore
from tests.conftest import enrol
from tests.integration.api_support import Api, store_of, urn
from tests.supply import enrol_actor, handover, material, receipt, take
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


def reads_by_type(store: LedgerStore, read: Callable[[], object]) -> list[Statement]:
    """The statements ``read`` sends that pick ``log_entries`` rows by event type."""
    with sent(store.engine) as statements, sent(store.read_engine) as replica:
        read()
    if store.read_engine is not store.engine:
        statements += replica
    return [s for s in statements if re.search(r"FROM log_entries\b.*event_type", s[0], re.S)]


def seeks_the_type(engine: Engine, statement: Statement) -> bool:
    """Whether the plan finds the event type in an index condition, not in a filter."""
    found = plan(engine, statement)
    if engine.dialect.name == "sqlite":
        return re.search(r"USING (COVERING )?INDEX \w+ \([^)]*event_type=", found) is not None
    return re.search(r"Index Cond: .*event_type", found) is not None


def test_an_actors_latest_assessment_is_an_index_seek_past_its_other_entries(
    store: LedgerStore, operator: Terminal
) -> None:
    mill = enrol(store, operator, "setificio-comasco")
    store.append([mill.update_self(f"Setificio Comasco {n}") for n in range(40)])
    statement = only_read_of_the_log(store, lambda: store.latest_assessments([mill.actor]))

    assert seeks_the_type(store.read_engine, statement), plan(store.read_engine, statement)


def test_the_pages_a_visitor_opens_find_entries_by_type_in_an_index(demo: Api) -> None:
    store = store_of(demo)
    pages: dict[str, Callable[[], object]] = {
        "home page assessments": lambda: store.latest_assessments([urn(BRAND), urn(WOOL_MILL)]),
        "company maturity": lambda: store.maturity(urn(BRAND)),
        "directory": lambda: store.directory_profiles(date(2026, 11, 27)),
        "directory profile": lambda: store.directory_profile(urn(WOOL_MILL), date(2026, 11, 27)),
        "passport": lambda: store.passport_facts(JACKETS[0]),
    }
    for page, read in pages.items():
        statements = reads_by_type(store, read)
        assert statements, f"{page}: no read by event type seen"
        walks = [
            sql for sql, params in statements if not seeks_the_type(store.engine, (sql, params))
        ]
        assert not walks, f"{page} walks the log: {walks}"


def test_a_receipt_finds_its_handover_by_sender_and_id_not_by_a_scan(
    store: LedgerStore, operator: Terminal
) -> None:
    # The handovers' key is (sender, id): read ahead by id alone, every batch naming a handover
    # (each receipt) read the whole table, every handover any actor ever sent.
    mill, dyer = enrol_actor(store, operator, "seteria"), enrol_actor(store, operator, "tintoria")
    lot = "urn:spola:lot:seteria:L1"
    store.append([mill.sign(material(lot, "100"))])
    store.append([mill.sign(handover(f"H-{n}", dyer.actor, [take(lot, "1")])) for n in range(3)])
    with sent(store.engine) as statements:
        store.append([dyer.sign(receipt(mill.actor, "H-1"))])
    reads = [s for s in statements if re.search(r"FROM handovers\b", s[0])]
    assert reads, "the receipt's handover was not read"
    for statement in reads:
        found = plan(store.engine, statement)
        assert "SCAN handovers" not in found and "Seq Scan on handovers" not in found, found
