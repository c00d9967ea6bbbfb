"""Fixtures shared by the whole suite: databases on both engines, a store, terminals.

Every storage test runs on SQLite and, when ``SPOLA_TEST_DATABASE_URL`` names a PostgreSQL
server (``.ci/run`` always sets it), on PostgreSQL too. Each PostgreSQL test gets a database of
its own with a unique name, dropped afterwards: the server is shared, never assumed empty.
``database_url`` is already migrated (a copy of a template migrated once per test process);
``empty_database_url`` has no schema at all, for the tests of migrating one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ledger.envelope import Envelope
from ledger.events import OPERATOR_ACTOR
from ledger.feed import payload_digest
from ledger.keys import PrivateKey
from ledger.store.engine import make_engine, upgrade
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


def create_pg_database(template: str | None = None) -> str:
    """A fresh, uniquely named PostgreSQL database (a copy of ``template`` if named); its URL."""
    admin = _pg_admin_url()
    assert admin is not None
    name = f"spola_test_{uuid.uuid4().hex[:16]}"
    copy = "" if template is None else f' TEMPLATE "{template}"'
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
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


AHEAD = 2  # PostgreSQL copies made before a test asks for them


class Databases:
    """This test process's databases: a migrated template per engine, copied for each test.

    Migrating costs ~0.1 s on SQLite and ~0.4 s on PostgreSQL, and about a thousand tests
    open a fresh ledger: a copy (a file copy; ``CREATE DATABASE … TEMPLATE``) costs a fraction.
    On PostgreSQL background threads also make the next copies while a test runs and drop the
    used ones (``DROP DATABASE`` waits for a server-wide checkpoint), so a test waits for
    neither. Templates are made on first use and dropped when the session ends. Nothing
    connects to a template after it is migrated (PostgreSQL refuses to copy a database in use).
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sqlite: Path | None = None
        self._postgresql: str | None = None  # the template's URL
        # One thread makes copies (two ahead of the tests), one drops: a drop waits for a
        # checkpoint, and copies queued behind it would make the next test wait too.
        self._making = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-copies")
        self._dropping = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-drops")
        self._ready: deque[Future[str]] = deque()
        self._drops: list[Future[None]] = []

    def sqlite(self, path: Path) -> str:
        """A migrated SQLite database at ``path``; its URL."""
        if self._sqlite is None:
            template = self._directory / "template.db"
            _migrate(f"sqlite:///{template}")
            self._sqlite = template
        shutil.copyfile(self._sqlite, path)
        return f"sqlite:///{path}"

    def postgresql(self) -> str:
        """A migrated PostgreSQL database of its own; its URL. Give it back to ``drop``."""
        while len(self._ready) < AHEAD + 1:
            self._ready.append(self._making.submit(self._copy))
        return self._ready.popleft().result()

    def drop(self, url: str) -> None:
        self._drops.append(self._dropping.submit(drop_pg_database, url))

    def _copy(self) -> str:
        if self._postgresql is None:
            template = create_pg_database()
            try:
                _migrate(template)
            except BaseException:
                drop_pg_database(template)
                raise
            self._postgresql = template
        return create_pg_database(make_url(self._postgresql).database)

    def close(self) -> None:
        for unused in self._ready:
            with contextlib.suppress(Exception):  # its error was a test's, or nobody's
                self.drop(unused.result())
        self._making.shutdown(wait=True)
        self._dropping.shutdown(wait=True)
        for dropped in self._drops:
            dropped.result()
        if self._postgresql is not None:
            drop_pg_database(self._postgresql)


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # SQLite folds its WAL into the file on the last close


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    made = Databases(tmp_path_factory.mktemp("templates"))
    try:
        yield made
    finally:
        made.close()


ENGINES = [
    pytest.param("sqlite", marks=pytest.mark.integration),
    pytest.param("postgresql", marks=[pytest.mark.integration, pytest.mark.postgres]),
]


def _skip_without_postgresql() -> None:
    if _pg_admin_url() is None:
        pytest.skip(f"{PG_ENV} is not set (.ci/run sets it)")


@pytest.fixture(params=ENGINES)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, databases: Databases
) -> Iterator[str]:
    """A database on each engine, migrated to head and holding no entry (no genesis yet)."""
    if request.param == "sqlite":
        yield databases.sqlite(tmp_path / "ledger.db")
        return
    _skip_without_postgresql()
    url = databases.postgresql()
    try:
        yield url
    finally:
        databases.drop(url)


@pytest.fixture(params=ENGINES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each engine: no schema, for tests of migrating one."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    _skip_without_postgresql()
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
