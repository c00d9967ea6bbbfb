"""``spola rebuild`` on a SQLite file that SQLite itself finds damaged.

Rebuild is how an operator checks a restored backup (docs/operations.md, "Backup"). A file
copied over a database beside a WAL its crashed service left is replayed onto and damaged in
ways every row still reads through: a page no table or free list owns, an index that no longer
matches its table. The replay and the comparisons read the rows and found them equal; SQLite's
own integrity check is what sees the file. Damage here is made the way such a file is: in the
file's bytes, outside SQLite.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ledger.store.rebuild import DamagedFileError
from tests.integration import test_cli_rebuild
from tests.integration.test_cli import Operator
from tests.integration.test_cli_rebuild import operator_store

pytestmark = pytest.mark.integration

op_db = test_cli_rebuild.op_db
PAGE_COUNT_AT = 28  # the database header's "in-header database size", in pages (big-endian)


def _file(op_db: Operator) -> Path:
    if not op_db.database_url.startswith("sqlite:///"):
        pytest.skip("SQLite's own file")
    return Path(op_db.database_url.removeprefix("sqlite:///"))


def _add_a_page_nobody_owns(path: Path) -> None:
    """One zeroed page more at the end of the file, counted by its header: every row reads as
    before, and SQLite's integrity check says the page is never used."""
    with sqlite3.connect(path) as conn:  # the WAL folded into the file, and the file alone
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    pages = int.from_bytes(data[PAGE_COUNT_AT : PAGE_COUNT_AT + 4], "big")
    assert len(data) == pages * page_size
    data[PAGE_COUNT_AT : PAGE_COUNT_AT + 4] = (pages + 1).to_bytes(4, "big")
    path.write_bytes(bytes(data) + bytes(page_size))


def test_rebuild_refuses_a_sqlite_file_sqlite_finds_damaged(op_db: Operator) -> None:
    path = _file(op_db)
    _add_a_page_nobody_owns(path)
    store = operator_store(op_db.database_url, op_db.home)
    try:
        assert store.tree_size() == 8  # every row still reads
        for repair in (False, True):
            with pytest.raises(DamagedFileError, match=r"^the database file is damaged \(SQLite"):
                store.rebuild(repair=repair)
    finally:
        store.close()


def test_cli_rebuild_names_the_damage_sqlite_finds_in_one_line(op_db: Operator) -> None:
    path = _file(op_db)
    _add_a_page_nobody_owns(path)
    run = op_db.spola("rebuild")
    assert run.code == 1, run
    assert "Traceback" not in run.stderr, run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("spola: the database file is damaged"), last
    assert "is never used" in last, last
    assert "restore" in last, last


def test_rebuild_of_a_sound_file_runs_the_check_and_finds_it_sound(op_db: Operator) -> None:
    _file(op_db)
    run = op_db.spola("rebuild")
    assert run.code == 0, run
    assert "stored projections equal the replay of the log" in run.stdout, run.stdout
