"""The directory reads an actor's own entries up to the cut, not its whole history.

``track_record.histories`` keeps the latest ``MAX_EVENTS`` applied entries of each own type of
each actor. A ``row_number()`` window alone gives the right rows, but the database reads every
entry of the type before the window cuts it: a public search over an actor with a million
processes would read a million index rows. Here ``MAX_EVENTS`` is 3 and one actor signs 30,
then 300 materials; the statements that read its own entries must cost the same for both.
On PostgreSQL the cost is the rows its scans of ``log_entries`` return (``EXPLAIN ANALYZE``,
the table analyzed and a sequential scan ruled out, as on a log too large to scan); on SQLite,
the virtual-machine instructions the statement runs (a progress handler called at each one).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from ledger.store import track_record
from ledger.store.ledger import LedgerStore
from tests.integration.test_store_indexes import Statement, sent
from tests.supply import enrol_actor, material
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

LIMIT = 3


def add_materials(store: LedgerStore, terminal: Terminal, first: int, count: int) -> None:
    slug = terminal.actor.rsplit(":", 1)[1]
    lots = (f"urn:spola:lot:{slug}:{n:04d}" for n in range(first, first + count))
    store.append([terminal.sign(material(lot)) for lot in lots])


def own_reads(store: LedgerStore, actor_id: str) -> tuple[list[Statement], list[int]]:
    """The statements of ``histories`` that read the actor's own entries (those ranking
    ``log_entries`` by actor), and the indexes of the materials it found."""
    with sent(store.engine) as statements, store.engine.connect() as conn:
        history = track_record.histories(conn, [actor_id])[actor_id]
    ranked = "PARTITION BY log_entries.actor"
    return [s for s in statements if ranked in s[0]], [i for i, _ in history.making]


def _rows(plan: dict[str, Any], tables: tuple[str, ...]) -> int:
    """Rows the scans of ``tables`` in ``plan`` returned, over all their loops."""
    own = plan.get("Relation Name") in tables
    rows = int(plan["Actual Rows"] * plan["Actual Loops"]) if own else 0
    return rows + sum(_rows(child, tables) for child in plan.get("Plans", []))


def cost(engine: Engine, statement: Statement, tables: tuple[str, ...] = ("log_entries",)) -> int:
    """What running ``statement`` costs: on PostgreSQL the rows its scans of ``tables``
    return (EXPLAIN ANALYZE), on SQLite its virtual-machine steps (the progress handler)."""
    sql, params = statement
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")  # the planner sees the rows as they are
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            # A scan is the cheapest read of a table this small: the plans of a large one.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            (found,) = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).one()
            return _rows(found[0]["Plan"], tables)
        steps = [0]

        def step() -> int:
            steps[0] += 1
            return 0  # go on

        driver = conn.connection.driver_connection
        assert driver is not None
        driver.set_progress_handler(step, 1)
        try:
            conn.exec_driver_sql(sql, params).all()
        finally:
            driver.set_progress_handler(None, 1)
        return steps[0]


def test_an_actors_own_entries_are_read_up_to_the_cut_not_its_whole_history(
    store: LedgerStore, operator: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(track_record, "MAX_EVENTS", LIMIT)
    mill = enrol_actor(store, operator, "mill")
    add_materials(store, mill, 0, 30)
    few, found = own_reads(store, mill.actor)
    assert len(few) == 2 and len(found) == LIMIT  # the entries, and what they consumed
    at_30 = [cost(store.engine, s) for s in few]
    add_materials(store, mill, 30, 270)
    many, latest = own_reads(store, mill.actor)
    assert len(latest) == LIMIT and min(latest) > max(found)  # the newest three, read again
    at_300 = [cost(store.engine, s) for s in many]
    # Reading every entry would cost about ten times as much at 300 as at 30 entries.
    assert all(b <= a * 1.2 + 3 * LIMIT for a, b in zip(at_30, at_300, strict=True)), (
        at_30,
        at_300,
    )
    if store.engine.dialect.name != "sqlite":
        # The latest three a type and its cutoff, the three entries by index, and what the
        # materials consumed (nothing).
        assert all(b <= 10 * LIMIT for b in at_300), at_300
