"""Engines and migrations for SQLite (embedded default) and PostgreSQL (production).

SQLite runs in WAL mode with ``synchronous=FULL`` (an acknowledged append survives power loss),
a busy timeout instead of instant "database is locked" errors, and ``BEGIN IMMEDIATE`` for
write transactions so that the sequencer takes the write lock before it reads the log head.
PostgreSQL needs nothing special: the sequencer locks the head row with ``SELECT … FOR UPDATE``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, exc, inspect, text
from sqlalchemy.engine import make_url

import migrations
from ledger.errors import LedgerError
from ledger.store.schema import log_head

log = logging.getLogger(__name__)

_SQLITE_BUSY: Final = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED: a lock held past the timeout
_PG_TRANSIENT: Final = ("08", "40", "53", "57")  # SQLSTATE classes worth a retry

WRITE = "spola_write"  # execution option: this connection's transactions write the log


class NewerSchemaError(LedgerError):
    """The database was migrated by a newer spola: this code does not know its schema."""


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` is the database not answering for now rather than a fault of the
    request: a connection the server dropped or refused, a SQLite lock held past the busy
    timeout, no pooled connection free in time. Worth trying again in a moment; the
    transaction it broke was rolled back (or, if the commit itself was cut, may have landed:
    resubmitting an envelope is answered with its receipt either way).

    Not every ``OperationalError`` is that: SQLite raises it for "no such table" too, a schema
    or migration mistake that no retry mends, which stays a 500 and is logged as one."""
    if isinstance(error, exc.TimeoutError):
        return True  # no pooled connection free in time
    if not isinstance(error, exc.OperationalError):
        return False
    if error.connection_invalidated:
        return True  # the server dropped the connection; the pool reconnects
    code = getattr(error.orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _SQLITE_BUSY  # the primary code of an extended one
    state = getattr(error.orig, "sqlstate", None)
    # psycopg: no SQLSTATE when the server cannot be reached; otherwise a connection
    # exception, rollback (serialization, deadlock), insufficient resources, operator
    # intervention (shutdown, cancelled statement) or a lock not available in time.
    return state is None or state[:2] in _PG_TRANSIENT or state == "55P03"


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://…``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory":
            # Each pooled connection (each thread) would get its own empty database, and the
            # log would be gone at exit.
            raise ValueError("an in-memory SQLite database cannot hold a log; name a file")
        return _sqlite_engine(url)
    if parsed.drivername in ("postgres", "postgresql"):  # libpq's two spellings, no driver
        parsed = parsed.set(drivername="postgresql+psycopg")
    # No pre-ping: it would cost a round trip on every checkout (a proof is two queries).
    # A connection the server dropped fails one request and the pool then reconnects.
    return create_engine(parsed, pool_size=pool_size, pool_recycle=1800)


def _sqlite_engine(url: str) -> Engine:
    # isolation_level=None stops the sqlite3 module from issuing its own BEGIN; the hooks
    # below issue BEGIN (or BEGIN IMMEDIATE for writers) themselves, as SQLAlchemy documents.
    engine = create_engine(url, connect_args={"isolation_level": None, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # 64 MiB of page cache (default 2 MiB): the leaf-hash index takes random inserts,
        # and past a few hundred thousand entries a small cache reads a page for each.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    return config


MIGRATION_LOCK = 0x5350_4F4C_4101  # PostgreSQL advisory lock key: "SPOLA" + 1


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it already is).

    Several workers may start at once on a fresh database: the migration runs under a lock
    (an advisory lock on PostgreSQL, the write lock on SQLite), so one migrates and the
    others find the schema at head.
    """
    config = alembic_config()
    with engine.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        _refuse_unknown_revision(connection, config)
        command.upgrade(config, "head")
    log.info("schema at head on %s", engine.url.render_as_string(hide_password=True))


def _refuse_unknown_revision(connection: Connection, config: Config) -> None:
    """A revision this code's migrations do not name was written by a newer release: running
    on its schema could misread or corrupt it, and alembic would only say it cannot find it."""
    current = MigrationContext.configure(connection).get_current_revision()
    scripts = ScriptDirectory.from_config(config)
    if current is not None and current not in {s.revision for s in scripts.walk_revisions()}:
        raise NewerSchemaError(
            f"the database schema is at revision {current}, newer than this spola knows "
            f"(its newest is {scripts.get_current_head()}): run the release that migrated it"
        )


def missing_ledger(url: str) -> str | None:
    """Why the database at ``url`` holds no ledger (its URL without a password, and the
    reason), or None: it holds one, or cannot be opened at all (opening the store says why).

    Read before ``LedgerStore.open``, which would make a new ledger there (schema, genesis
    entry): a check of a restored backup run on a mistyped path, or on a database the restore
    never filled, must not find a fresh ledger and call it sound. A SQLite file is read plainly:
    ``make_engine``'s pragmas would turn any file it names into WAL."""
    try:
        parsed = make_url(url)
        shown = parsed.render_as_string(hide_password=True)
        sqlite = parsed.get_backend_name() == "sqlite"
        path = parsed.database if sqlite and not parsed.query else None  # no URI, no memory
        if path not in (None, "", ":memory:") and not Path(str(path)).is_file():
            return f"{shown}: the file {path} does not exist"
        engine = create_engine(parsed) if sqlite else make_engine(url)
    except (exc.SQLAlchemyError, ImportError, ValueError):
        return None
    try:
        with engine.connect() as conn:
            present = inspect(conn).has_table(log_head.name)
    except exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    return None if present else f"{shown}: the database has no {log_head.name} table"
