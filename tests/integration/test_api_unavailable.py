"""The database not answering for a moment is a 503 with Retry-After, not a 500.

A PostgreSQL server that restarts, fails over or is told to end its sessions drops the
connections a worker's pool holds; without a pre-ping (each request would pay a round trip),
the next request on such a connection fails, and the pool then reconnects. That request's
client (a workshop terminal, a shop's scanner) should learn that trying again in a moment is
right: a 503 problem with ``Retry-After``. A SQLite lock held past the busy timeout or a pool
with no free connection is answered the same way (``ledger.store.engine.unavailable``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import exc
from sqlalchemy.engine import make_url

from api.problems import RETRY_UNAVAILABLE
from ledger.store.engine import unavailable
from tests.integration.api_support import Api, assert_problem, running_api, urn

pytestmark = pytest.mark.integration


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Api]:
    if not database_url.startswith("postgresql"):
        pytest.skip("a server that drops its sessions is PostgreSQL's case")
    with running_api(database_url, tmp_path / "home") as api:
        yield api


def _end_sessions(database_url: str) -> int:
    """Terminate every other session on the test's database, as a server restart would."""
    url = make_url(database_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def test_a_dropped_database_connection_is_a_503_with_retry_after_then_served(app: Api) -> None:
    assert app.client.get("/v1/log/checkpoint").status_code == 200  # a pooled connection
    assert _end_sessions(app.settings.database_url) >= 1

    response = app.client.get("/v1/log/checkpoint")
    assert_problem(response, 503, "unavailable", "did not answer", "try again")
    assert response.headers["retry-after"] == str(RETRY_UNAVAILABLE)
    assert "SELECT" not in response.text and "psycopg" not in response.text  # no internals

    # The pool reconnects: the next request is served, and an append goes through.
    assert app.client.get("/v1/log/checkpoint").status_code == 200
    posted = app.post(app.operator.register(urn("filanda-dopo")))
    assert posted.status_code == 201, posted.text


def test_unavailable_names_the_transient_database_errors_only() -> None:
    assert unavailable(exc.OperationalError("SELECT 1", {}, Exception("database is locked")))
    assert unavailable(exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"))
    assert not unavailable(exc.IntegrityError("INSERT", {}, Exception("unique")))
    assert not unavailable(ValueError("not the database"))
