"""Migrations: an empty database reaches head, upgrading again changes nothing, no drift.

The schema exists twice — ``ledger/store/schema.py`` (what the code queries) and
``migrations/versions`` (what the database gets) — so autogenerate must find no difference
between them on either engine. The log has no downgrade: history is never dropped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select, text

from ledger.hashing import CHAIN_GENESIS
from ledger.store.engine import alembic_config, make_engine, upgrade
from ledger.store.ledger import LedgerStore
from ledger.store.schema import APPEND_ONLY_TABLES, balances, log_head, metadata
from tests.terminal import Terminal


@pytest.fixture
def engine(empty_database_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_from_an_empty_database_reaches_head(engine: Engine) -> None:
    assert _revision(engine) is None
    assert _tables(engine) == set()

    upgrade(engine)

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None and _revision(engine) == head
    assert _tables(engine) == set(metadata.tables) | {"alembic_version"}
    with engine.connect() as conn:
        row = conn.execute(select(log_head)).one()
    assert (row.id, row.size, bytes(row.chain_hash), bytes(row.compact_range)) == (
        1,
        0,
        CHAIN_GENESIS,
        b"",
    )


def test_upgrading_twice_is_a_no_op(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        before = conn.execute(select(log_head)).all()
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()

    upgrade(engine)

    with engine.connect() as conn:
        assert conn.execute(select(log_head)).all() == before
        assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == versions
    assert _tables(engine) == set(metadata.tables) | {"alembic_version"}


def test_upgrading_a_running_log_keeps_it(store: LedgerStore, operator: Terminal) -> None:
    store.append([operator.register("urn:spola:actor:prima")])
    size, checkpoint = store.tree_size(), store.latest_checkpoint()
    entries = store.entries(0, size)

    upgrade(store.engine)

    assert (store.tree_size(), store.latest_checkpoint()) == (size, checkpoint)
    assert store.entries(0, size) == entries


def test_autogenerate_finds_no_drift(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_drift_check_would_see_a_missing_column(engine: Engine) -> None:
    # The drift test above is only worth something if compare_metadata looks at this schema.
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE stray (id INTEGER PRIMARY KEY)"))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d[0] for d in diff] == ["remove_table"]


def test_downgrade_refuses_to_drop_history(engine: Engine) -> None:
    upgrade(engine)
    config = alembic_config()
    with engine.begin() as conn, pytest.raises(RuntimeError, match="history"):
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert _tables(engine) >= set(APPEND_ONLY_TABLES)
    assert _revision(engine) is not None


def test_amounts_become_text_and_keep_their_rows(engine: Engine) -> None:
    # 0007 retypes the decimal columns on PostgreSQL (SQLite's VARCHAR(40) already stores any
    # length): rows stored before survive, and a decimal longer than 40 characters then fits
    # on every engine.
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0006_event_type_index")
    lot = "urn:spola:lot:conceria:H26-0007"
    with engine.begin() as conn:
        conn.execute(balances.insert(), {"lot": lot, "holder": "urn:a", "amount": "12.5"})

    upgrade(engine)

    long_amount = "0." + "0" * 14 + "1" * 28
    with engine.begin() as conn:
        conn.execute(balances.insert(), {"lot": lot, "holder": "urn:b", "amount": long_amount})
        rows = conn.execute(select(balances.c.holder, balances.c.amount)).all()
    assert sorted(tuple(row) for row in rows) == [("urn:a", "12.5"), ("urn:b", long_amount)]
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
