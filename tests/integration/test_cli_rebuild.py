"""``spola rebuild``: replay the log, prove the projections equal it, repair them if not."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from api.operator import load_operator
from ledger.store.bundle import export_bundle
from ledger.store.ledger import LedgerStore
from ledger.store.schema import balances, handovers, log_head
from tests.conftest import operator_after_genesis
from tests.integration.api_support import operator_at_head
from tests.integration.test_cli import Operator
from tests.supply import enrol_actor, handover, material, take
from verifier import verify_bundle

LOT = "urn:spola:lot:seteria:S-1"


def operator_store(database_url: str, home: Path) -> LedgerStore:
    """The store as the operator of ``home`` opens it: its log key and its log's origin."""
    operator = load_operator(home)
    return LedgerStore.open(database_url, operator=operator.key, origin=operator.origin)


@pytest.fixture
def op_db(tmp_path: Path, database_url: str) -> Operator:
    operator = Operator(tmp_path / "home", database_url, tmp_path, [])
    assert operator.spola("init").code == 0
    key = load_operator(operator.home).key
    store = operator_store(database_url, operator.home)
    try:
        op = operator_after_genesis(store, key)
        mill = enrol_actor(store, op, "seteria")
        dyer = enrol_actor(store, op, "tintoria")
        store.append([mill.sign(material(LOT, "100"))])
        store.append([mill.sign(handover("H-1", dyer.actor, [take(LOT, "30")]))])
        store.append([mill.sign(handover("H-2", dyer.actor, [take(LOT, "80")]))])  # refused
    finally:
        store.close()
    return operator


def _tamper(database_url: str, home: Path, amount: str = "700", lines: str | None = None) -> None:
    store = operator_store(database_url, home)
    try:
        with store.engine.begin() as conn:
            conn.execute(update(balances).where(balances.c.lot == LOT), {"amount": amount})
            if lines is not None:
                conn.execute(update(handovers), {"lines": lines})
    finally:
        store.close()


def test_rebuild_proves_equality(op_db: Operator) -> None:
    run = op_db.spola("rebuild")
    assert run.code == 0, run
    assert "replayed 8 entries" in run.stdout
    assert "1 lots" in run.stdout and "8 verdicts" in run.stdout
    assert run.stdout.endswith("stored projections equal the replay of the log\n")


def test_rebuild_finds_a_tampered_balance_and_repairs_it(op_db: Operator) -> None:
    _tamper(op_db.database_url, op_db.home)

    found = op_db.spola("rebuild")
    assert found.code == 1
    assert "balances ('urn:spola:lot:seteria:S-1', 'urn:spola:actor:seteria'): stored " in (
        found.stdout
    )
    assert found.stderr.strip().endswith(
        "(run with --repair to rewrite the projections from the log)"
    )
    assert len(found.stderr.strip().splitlines()[-1:]) == 1

    repaired = op_db.spola("rebuild", "--repair")
    assert repaired.code == 0, repaired
    assert "repaired: 1 differences rewritten from the log" in repaired.stdout
    again = op_db.spola("rebuild")
    assert again.code == 0 and "equal" in again.stdout


def test_rebuild_reports_and_repairs_rows_edited_into_nonsense(op_db: Operator) -> None:
    # A projection edited by hand into something that is no amount (or no JSON) at all: the
    # rebuild that should find and repair it died with a traceback instead (InvalidOperation).
    _tamper(op_db.database_url, op_db.home, amount="seven hundred", lines="[[")

    found = op_db.spola("rebuild")
    assert found.code == 1, found
    assert "Traceback" not in found.stderr, found.stderr
    assert "stored an unreadable row" in found.stdout, found.stdout
    assert "'seven hundred'" in found.stdout and "handovers ('urn:spola:actor:seteria', 'H-1')" in (
        found.stdout
    )

    repaired = op_db.spola("rebuild", "--repair")
    assert repaired.code == 0, repaired
    again = op_db.spola("rebuild")
    assert again.code == 0 and "equal" in again.stdout, again


@pytest.mark.parametrize(
    "edit",
    [{"chain_hash": bytes(32)}, {"compact_range": bytes(32)}, {"size": 5}],
    ids=["chain-hash", "compact-range", "size"],
)
def test_rebuild_finds_a_tampered_log_head_and_repairs_it(
    op_db: Operator, edit: dict[str, object]
) -> None:
    # The head row is the sequencer's cache of the log (size, last chain hash, compact range):
    # edited, the next append would chain and sign from it into the append-only log. Rebuild
    # said "equal" over a wrong chain hash, and died (IndexError) over a smaller size.
    store = operator_store(op_db.database_url, op_db.home)
    try:
        with store.engine.begin() as conn:
            conn.execute(update(log_head), edit)
    finally:
        store.close()

    found = op_db.spola("rebuild")
    assert found.code == 1, found
    assert "Traceback" not in found.stderr, found.stderr
    assert "log_head " in found.stdout, found.stdout

    repaired = op_db.spola("rebuild", "--repair")
    assert repaired.code == 0, repaired
    store = operator_store(op_db.database_url, op_db.home)
    try:
        with store.connect() as conn:
            head = conn.execute(select(log_head)).one()
        op = operator_at_head(store, op_db.home)
        store.append([op.register("urn:spola:actor:after-the-repair")])
        assert store.rebuild().equal
        out = op_db.cwd / "after.bundle"
        export_bundle(store, out)
        with out.open("rb") as source:
            report = verify_bundle(source, store.log_vkey)
    finally:
        store.close()
    assert head.size == 8
    assert report.findings == [], report.to_text()
