"""Public reads seek what they filter on and read in the order they answer in.

Anyone may ask ``GET /v1/actors``, an actor's holdings, a lot, an item, a trace or the list of
passports, so none of them may walk an actor's whole history or sort a whole table per request.
The planner's choice is asked with EXPLAIN on the statements the store really sends while the
real app answers the request (``test_store_indexes`` shows how); on PostgreSQL sequential scans
are switched off for the question, so that a demo-sized table does not make a scan the cheaper
answer. Two findings are checked: what the plan seeks (the columns in an index condition) and
whether it sorts (SQLite's temporary B-tree, PostgreSQL's Sort node). A pending handover found
by actor and then filtered on its status walks every settled handover of that actor: a mill that
shipped a million times, all received, read a million rows for each anonymous request. So the
holdings are also run over 30 and then 300 settled handovers and kept items, and must cost the
same: on PostgreSQL the rows the scans read, those a filter threw away included (EXPLAIN
ANALYZE); on SQLite the virtual-machine instructions (``test_directory_read_bound.cost``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Engine

from api.demo_story import ATELIER, BRAND, JACKETS, SILK_MILL, TWILL
from ledger.store.ledger import LedgerStore
from tests.integration.api_support import Api, store_of, urn
from tests.integration.test_directory_read_bound import cost as steps
from tests.integration.test_store_indexes import Statement, plan, sent
from tests.supply import enrol_actor, handover, item, material, process, receipt, take
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

TABLES = ("actors", "balances", "lots", "items", "handovers")

# An index seek on SQLite: "SEARCH t USING [COVERING] INDEX name (a=? AND b>?)" (or the rowid).
_SQLITE_SEEK = re.compile(
    r"SEARCH (\w+) USING (?:COVERING )?(?:INDEX \w+|INTEGER PRIMARY KEY) \((.*)\)"
)
# A PostgreSQL index node; its condition is on a following line of the same node.
_PG_INDEX = re.compile(r"(?:Index (?:Only )?Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)")


def _engines(api: Api) -> list[Engine]:
    store = store_of(api)
    return (
        [store.engine] if store.read_engine is store.engine else [store.engine, store.read_engine]
    )


def statements(api: Api, path: str) -> list[Statement]:
    """The SELECT statements the store sends while the app answers ``GET path`` (200)."""
    with ExitStack() as stack:
        recorded = [stack.enter_context(sent(engine)) for engine in _engines(api)]
        response = api.client.get(path)
    assert response.status_code == 200, response.text
    return [s for found in recorded for s in found if s[0].lstrip().upper().startswith("SELECT")]


def reading(found: list[Statement], table: str) -> list[Statement]:
    """The statements that read ``table``."""
    return [s for s in found if re.search(rf"\b(FROM|JOIN) {table}\b", s[0])]


def seeks(engine: Engine, statement: Statement) -> Iterator[tuple[str, str]]:
    """(table or index, condition) of every index seek in the plan of ``statement``."""
    found = plan(engine, statement)
    if engine.dialect.name == "sqlite":
        for line in found.splitlines():
            if (match := _SQLITE_SEEK.search(line)) is not None:
                yield match.group(1), match.group(2)
        return
    index = None
    for line in found.splitlines():
        if "->" in line or index is None:
            match = _PG_INDEX.search(line)
            index = match.group(1) if match else ""
        if "Index Cond:" in line and index:
            yield index, line


def seeks_on(engine: Engine, statement: Statement, table: str, *columns: str) -> bool:
    """Whether one index seek of ``table`` finds every one of ``columns`` in its condition."""
    for name, condition in seeks(engine, statement):
        of_table = name == table or name.startswith((f"ix_{table}_", f"pk_{table}"))
        if of_table and all(re.search(rf"\b{c}\b", condition) for c in columns):
            return True
    return False


def sorts(engine: Engine, statement: Statement) -> bool:
    """Whether the plan sorts (or groups through a sort) instead of reading in index order."""
    found = plan(engine, statement)
    if engine.dialect.name == "sqlite":
        return "USE TEMP B-TREE" in found
    return re.search(r"\bSort\b", found) is not None


def scans(engine: Engine, statement: Statement) -> bool:
    """Whether the plan reads a whole table (or the whole of one of its indexes)."""
    found = plan(engine, statement)
    if engine.dialect.name == "sqlite":
        return re.search(r"^\s*SCAN (?!anon_)\w+", found, re.M) is not None  # not a subquery
    return "Seq Scan" in found or any(
        _PG_INDEX.search(node) and "Index Cond" not in node for node in found.split("->")
    )


def _read(node: dict[str, Any]) -> int:
    """Rows the scans of ``TABLES`` in a PostgreSQL plan read: those they returned and those
    they read and filtered out, over all their loops."""
    own = 0
    if node.get("Relation Name") in TABLES:
        seen = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        own = int((seen + node.get("Rows Removed by Index Recheck", 0)) * node["Actual Loops"])
    return own + sum(_read(child) for child in node.get("Plans", []))


def cost(engine: Engine, statement: Statement) -> int:
    """What running ``statement`` costs: on PostgreSQL the rows its scans read (EXPLAIN
    ANALYZE, tables analyzed, sequential scans ruled out as on a large table); on SQLite its
    virtual-machine steps."""
    if engine.dialect.name == "sqlite":
        return steps(engine, statement)
    sql, params = statement
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    with engine.connect() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        (found,) = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).one()
    return _read(found[0]["Plan"])


def _lot_path(lot: str) -> str:
    return f"/v1/lots/{quote(lot, safe=':')}"


def test_a_page_of_actors_is_read_in_registration_order_from_an_index(demo: Api) -> None:
    engine = store_of(demo).engine
    (statement,) = reading(statements(demo, "/v1/actors?offset=3&limit=4"), "actors")

    assert not sorts(engine, statement), plan(engine, statement)


def test_pending_handovers_are_sought_by_status_not_filtered_from_the_history(
    demo: Api,
) -> None:
    engine = store_of(demo).read_engine
    found = reading(statements(demo, f"/v1/actors/{urn(ATELIER)}/holdings"), "handovers")
    outgoing, incoming = found

    assert seeks_on(engine, outgoing, "handovers", "sender", "status"), plan(engine, outgoing)
    assert seeks_on(engine, incoming, "handovers", "receiver", "status"), plan(engine, incoming)
    assert not sorts(engine, outgoing), plan(engine, outgoing)
    assert not sorts(engine, incoming), plan(engine, incoming)


def test_holdings_read_each_list_in_its_order_from_an_index(demo: Api) -> None:
    engine = store_of(demo).read_engine
    for actor in (ATELIER, BRAND, SILK_MILL):
        found = statements(demo, f"/v1/actors/{urn(actor)}/holdings")
        for statement in found:
            assert not scans(engine, statement), plan(engine, statement)
        # Items held or owned: a page of each, sought apart; only the two pages are merged.
        (held_or_owned,) = reading(found, "items")
        for column in ("custodian", "owner"):
            assert seeks_on(engine, held_or_owned, "items", column), plan(engine, held_or_owned)
        for statement in (s for s in found if s is not held_or_owned):
            assert not sorts(engine, statement), plan(engine, statement)


BALE = "urn:spola:lot:mill:bale"


def settle(store: LedgerStore, mill: Terminal, brand: Terminal, first: int, count: int) -> None:
    """``count`` more handovers of 1 kg from the mill to the brand, each received, and
    ``count`` more items the mill makes and keeps."""
    names = [f"h{n:04d}" for n in range(first, first + count)]
    store.append([mill.sign(handover(name, brand.actor, [take(BALE, "1")])) for name in names])
    store.append([brand.sign(receipt(mill.actor, name)) for name in names])
    made = [item(f"urn:spola:item:mill:S{n:04d}", "0.001") for n in range(first, first + count)]
    store.append(
        [mill.sign(process([take(BALE, "1")], items=made[i : i + 30])) for i in range(0, count, 30)]
    )


def test_holdings_cost_the_same_however_long_the_settled_history(app: Api) -> None:
    # Before, each pending list read every settled handover of the actor, and the items every
    # item it keeps: ten times the history cost about ten times as much.
    store = store_of(app)
    mill = enrol_actor(store, app.operator, "mill")
    brand = enrol_actor(store, app.operator, "brand", ("brand",))
    store.append([mill.sign(material(BALE, "10000"))])
    store.append([mill.sign(handover("pending", brand.actor, [take(BALE, "1")]))])
    paths = [f"/v1/actors/{actor.actor}/holdings?limit=2" for actor in (mill, brand)]
    settle(store, mill, brand, 0, 30)
    few = [s for path in paths for s in statements(app, path)]
    at_30 = [cost(store.read_engine, s) for s in few]
    settle(store, mill, brand, 30, 270)
    many = [s for path in paths for s in statements(app, path)]
    at_300 = [cost(store.read_engine, s) for s in many]

    assert [sql for sql, _ in few] == [sql for sql, _ in many]
    assert all(b <= a * 1.2 + 20 for a, b in zip(at_30, at_300, strict=True)), (at_30, at_300)


def test_a_lots_transit_seeks_its_handovers_and_its_history_is_read_in_order(
    demo: Api,
) -> None:
    engine = store_of(demo).read_engine
    found = reading(statements(demo, _lot_path(TWILL)), "custody")
    transit = [s for s in found if "JOIN" in s[0]]
    (history,) = [s for s in found if "JOIN" not in s[0]]
    (pending,) = transit

    assert seeks_on(engine, pending, "custody", "action", "subject"), plan(engine, pending)
    assert not sorts(engine, pending), plan(engine, pending)
    assert seeks_on(engine, history, "custody", "subject"), plan(engine, history)
    assert not sorts(engine, history), plan(engine, history)


def test_the_passport_list_seeks_passports_instead_of_scanning_custody(demo: Api) -> None:
    engine = store_of(demo).read_engine
    for path in ("/v1/passports?limit=2", f"/v1/passports?limit=2&after={quote(JACKETS[0])}"):
        (listed,) = reading(statements(demo, path), "custody")

        assert seeks_on(engine, listed, "custody", "action"), plan(engine, listed)
        assert not scans(engine, listed), plan(engine, listed)
        assert not sorts(engine, listed), plan(engine, listed)


def test_the_home_page_counts_passports_without_scanning_custody(demo: Api) -> None:
    engine = store_of(demo).read_engine
    counted = [s for s in reading(statements(demo, "/"), "custody") if "count(" in s[0]]

    assert counted
    for statement in counted:
        assert seeks_on(engine, statement, "custody", "action"), plan(engine, statement)


PUBLIC_READS = (
    "/v1/actors/" + urn(SILK_MILL),
    "/v1/items" + JACKETS[0],
    "/v1/items" + JACKETS[0] + "/trace",
    _lot_path(TWILL) + "/trace",
    "/v1/log/entries?start=3&end=9",
    "/v1/log/proof/inclusion?index=5",
    "/v1/log/proof/consistency?first=5",
    "/v1/log/receipts/5",
    "/v1/entries/5/verdict",
)


def test_the_other_public_reads_neither_scan_nor_sort(demo: Api) -> None:
    engine = store_of(demo).engine
    for path in PUBLIC_READS:
        found = statements(demo, path)

        assert found, path
        for statement in found:
            assert not scans(engine, statement), (path, plan(engine, statement))
            assert not sorts(engine, statement), (path, plan(engine, statement))
