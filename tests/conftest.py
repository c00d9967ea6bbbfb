"""Fixtures shared by the whole suite: databases on both engines, a store, terminals.

Every storage test runs on SQLite and, when ``SPOLA_TEST_DATABASE_URL`` names a PostgreSQL
server (``.ci/run`` always sets it), on PostgreSQL too. Each PostgreSQL test gets a database of
its own with a unique name, dropped afterwards: the server is shared, never assumed empty.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ledger.envelope import Envelope
from ledger.events import OPERATOR_ACTOR
from ledger.feed import payload_digest
from ledger.keys import PrivateKey
from ledger.store.ledger import LedgerStore
from tests.terminal import Terminal

PG_ENV = "SPOLA_TEST_DATABASE_URL"
ORIGIN = "test.spola.local/ledger"


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        return None
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_pg_database() -> str:
    """A fresh, uniquely named PostgreSQL database; its URL."""
    admin = _pg_admin_url()
    assert admin is not None
    name = f"spola_test_{uuid.uuid4().hex[:16]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    admin = _pg_admin_url()
    assert admin is not None
    name = make_url(url).database
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.integration),
        pytest.param("postgresql", marks=[pytest.mark.integration, pytest.mark.postgres]),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    if _pg_admin_url() is None:
        pytest.skip(f"{PG_ENV} is not set (.ci/run sets it)")
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def operator_key() -> PrivateKey:
    return PrivateKey.generate()


@pytest.fixture
def store(database_url: str, operator_key: PrivateKey) -> Iterator[LedgerStore]:
    """A migrated store whose log holds its genesis entry (index 0)."""
    ledger = LedgerStore.open(database_url, operator=operator_key, origin=ORIGIN)
    try:
        yield ledger
    finally:
        ledger.close()


def operator_after_genesis(store: LedgerStore, operator_key: PrivateKey) -> Terminal:
    """The operator's terminal of ``store``, positioned after the genesis entry it signed."""
    genesis = store.entries(0, 1)[0]
    payload = Envelope.from_bytes(genesis.entry).payload
    return Terminal(actor=OPERATOR_ACTOR, key=operator_key, seq=1, prev=payload_digest(payload))


@pytest.fixture
def operator(store: LedgerStore, operator_key: PrivateKey) -> Terminal:
    """The operator's terminal, positioned after the genesis entry it signed."""
    return operator_after_genesis(store, operator_key)


def enrol(store: LedgerStore, operator: Terminal, slug: str) -> Terminal:
    """Register actor ``slug`` and a terminal key for it; the actor's terminal."""
    actor_id = f"urn:spola:actor:{slug}"
    terminal = Terminal(actor=actor_id)
    store.append([operator.register(actor_id), operator.add_key(actor_id, terminal.key)])
    return terminal
