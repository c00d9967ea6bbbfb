"""``spola rebuild``: replay the log, prove the projections equal it, repair them if not."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from api.operator import load_operator
from ledger.store.ledger import LedgerStore
from ledger.store.schema import balances
from tests.conftest import ORIGIN, operator_after_genesis
from tests.integration.test_cli import Operator
from tests.supply import enrol_actor, handover, material, take

LOT = "urn:spola:lot:seteria:S-1"


@pytest.fixture
def op_db(tmp_path: Path, database_url: str) -> Operator:
    operator = Operator(tmp_path / "home", database_url, tmp_path, [])
    assert operator.spola("init").code == 0
    key = load_operator(operator.home).key
    store = LedgerStore.open(database_url, operator=key, origin=ORIGIN)
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


def _tamper(database_url: str, home: Path) -> None:
    store = LedgerStore.open(database_url, operator=load_operator(home).key, origin=ORIGIN)
    try:
        with store.engine.begin() as conn:
            conn.execute(update(balances).where(balances.c.lot == LOT), {"amount": "700"})
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
