"""Commands that only read the ledger refuse a database that holds none, and make none.

A mistyped ``--db`` (or ``SPOLA_DATABASE_URL``) used to be migrated, given a genesis entry and
answered from: an empty EPCIS document, "no passports issued yet", an empty directory, a
rebuild that found everything "equal". The operator learnt nothing of the typo, and a stray
ledger was left where it pointed. Run on both engines: a SQLite file that does not exist, and
a PostgreSQL database with no tables.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from ledger.store.engine import make_engine
from tests.integration.test_cli import Operator, _one_line_error

pytestmark = pytest.mark.integration

READS = {
    "rebuild": ["rebuild"],
    "export": ["export", "bundle", "--out", "OUT"],
    "export epcis": ["export", "epcis", "--out", "OUT"],
    "print": ["labels", "--out", "OUT"],
    "search": ["directory", "search"],
    "show": ["directory", "show", "maison-navigli"],
}


def _tables(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return inspect(conn).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", READS, ids=list(READS))
def test_a_read_on_a_database_without_a_ledger_is_refused_and_makes_none(
    tmp_path: Path, empty_database_url: str, command: str
) -> None:
    database_url = empty_database_url
    operator = Operator(tmp_path / "home", database_url, tmp_path, [])
    assert operator.spola("init").code == 0
    out = tmp_path / "out.file"
    args = [str(out) if arg == "OUT" else arg for arg in READS[command]]
    line = _one_line_error(operator.spola(*args), "no ledger at ", "nothing to ")
    assert "spola serve" in line, line
    assert not out.exists()
    if database_url.startswith("sqlite:///"):
        assert not Path(database_url.removeprefix("sqlite:///")).exists()
    else:
        assert _tables(database_url) == []
