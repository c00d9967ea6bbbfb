"""Backup and restore as docs/operations.md ("Backup") tells an operator to do them.

The database's own tools make and restore each backup: ``sqlite3 … ".backup …"`` while the
ledger appends, or ``pg_dump -Fc`` then ``createdb`` and ``pg_restore`` with the options the
section gives. The section's block of ``spola`` commands, read from the page itself, then
verifies the restored database with the installed console script, as an operator would paste
it. The other commands run through ``spola``'s ``main`` in this process (faster, same code).

What the section promises is checked too: a backup is a prefix of the live log; the restored
database keeps appending at the next index, its triggers, schema version, sequence and indexes
back; a restore behind a checkpoint already seen is named as such by ``spola verify
--trusted-checkpoint``, and so is the fork that appending to it makes; a restore that never
happened (an empty database, a mistyped path) is refused, not reported sound.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from api.operator import load_operator
from ledger.errors import EquivocationError, RefusedEnvelope
from ledger.store.engine import make_engine
from ledger.store.ledger import LedgerStore
from ledger.store.schema import equivocations, log_entries
from spola.cli import main
from tests.conftest import ENGINES, PG_ENV
from tests.integration.api_support import operator_at_head
from tests.integration.test_cli import Run
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"
SPOLA = Path(sys.executable).with_name("spola")  # the installed console script
SQLITE_ONLY = pytest.mark.parametrize("database_url", [ENGINES[0]], indirect=True)
POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", [ENGINES[1]], indirect=True)
# The section's restore line, run as it gives it (with a database name of the test's own).
PG_RESTORE = ("pg_restore", "--no-owner", "--single-transaction", "-d")


def backup_section() -> str:
    page = OPERATIONS.read_text(encoding="utf-8")
    start = page.index("\n## Backup\n")
    return page[start : page.index("\n## ", start + 1)]


def verification_block() -> str:
    """The section's shell block that verifies a restored database (``RESTORED_URL``)."""
    blocks = re.findall(r"```sh\n(.*?)```", backup_section(), re.DOTALL)
    (block,) = [b for b in blocks if "RESTORED_URL" in b]
    return block


@dataclass
class Site:
    """One operator's service: its home, its working directory, its live database (opened
    by the store, which appends as the served ledger would) and its operator terminal."""

    home: Path
    cwd: Path
    url: str
    store: LedgerStore
    operator: Terminal
    capsys: pytest.CaptureFixture[str]
    restored: list[str] = field(default_factory=list)  # PostgreSQL databases made by restores

    @property
    def sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def spola(self, *args: str) -> Run:
        """``spola ARGS`` through the CLI's ``main``, in this process."""
        self.capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's usage errors, a command's own exit line
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = self.capsys.readouterr()
        return Run(code, out, err)

    def register(self, count: int, prefix: str = "bottega") -> None:
        """``count`` more entries in the live log, one append each, as terminals send them."""
        for _ in range(count):
            actor = f"urn:spola:actor:{prefix}-{uuid.uuid4().hex[:8]}"
            self.store.append([self.operator.register(actor)])

    def profile(self, slug: str) -> str:
        """A profile file for ``spola actor register --from``; its name."""
        path = self.cwd / f"{slug}.json"
        actor = {"id": f"urn:spola:actor:{slug}", "name": slug, "roles": ["supplier"]}
        path.write_text(json.dumps({**actor, "country": "IT"}), encoding="utf-8")
        return path.name

    # -- the database's own tools ------------------------------------------------------------

    def backup(self, name: str) -> Path:
        """A backup of the live database, taken as the section says; its file."""
        out = self.cwd / name
        if self.sqlite:
            live = make_url(self.url).database
            _tool(["sqlite3", str(live), f".backup {out}"], self.cwd)
        else:
            with out.open("wb") as dump:
                database = str(make_url(self.url).database)
                _tool(["pg_dump", "-Fc", database], self.cwd, stdout=dump)
        return out

    def restore(self, backup: Path) -> str:
        """``backup`` restored to a new database (copied into place, or ``pg_restore``d into
        a database made for it); its URL."""
        if self.sqlite:
            restored = self.cwd / f"restored-{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(backup, restored)
            return f"sqlite:///{restored}"
        url = self.empty_database()
        _tool([*PG_RESTORE, str(make_url(url).database), str(backup)], self.cwd)
        return url

    def empty_database(self) -> str:
        """A new, empty PostgreSQL database (``createdb``), dropped after the test; its URL."""
        name = f"spola_restore_{uuid.uuid4().hex[:16]}"
        self.restored.append(name)
        _tool(["createdb", name], self.cwd)
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def drop_restored(self) -> None:
        for name in self.restored:
            _tool(["dropdb", "--if-exists", "--force", name], self.cwd)

    # -- the section's commands --------------------------------------------------------------

    def verify_as_documented(self, url: str) -> subprocess.CompletedProcess[str]:
        """The section's verification block, run by bash with the installed ``spola``."""
        script = "set -e\n" + verification_block().replace("RESTORED_URL", shlex.quote(url))
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPOLA_")}
        env.update(SPOLA_HOME=str(self.home), PATH=f"{SPOLA.parent}:{env.get('PATH', '')}")
        return subprocess.run(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def checkpoint(self, url: str, name: str) -> str:
        """``spola log checkpoint --db URL > name``; the file's name."""
        run = self.spola("log", "checkpoint", "--db", url)
        assert run.code == 0, run
        (self.cwd / name).write_text(run.stdout, encoding="utf-8")
        return name

    def verify(self, url: str, *trusted: str) -> Run:
        """``spola export bundle`` of ``url`` and ``spola verify`` of it (``--json``), with a
        ``--trusted-checkpoint`` if one is named."""
        exported = self.spola("export", "bundle", "--db", url, "--out", "check.bundle")
        assert exported.code == 0, exported
        option = ["--trusted-checkpoint", *trusted] if trusted else []
        return self.spola("verify", "check.bundle", "--log-key", "log.vkey", *option, "--json")


def _pg_environment() -> dict[str, str]:
    """libpq's variables for the test server (``SPOLA_TEST_DATABASE_URL``)."""
    env = dict(os.environ)
    admin = os.environ.get(PG_ENV)
    if admin:
        server = make_url(admin)
        env.update(PGHOST=server.host or "127.0.0.1", PGPORT=str(server.port or 5432))
        env.update(PGUSER=server.username or "postgres")
        if server.password:
            env["PGPASSWORD"] = str(server.password)
    return env


def _tool(args: list[str], cwd: Path, stdout: Any = None) -> None:
    done = subprocess.run(
        args,
        cwd=cwd,
        env=_pg_environment(),
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{shlex.join(args)}: {done.stderr.decode(errors='replace')}"


def _log(url: str) -> list[bytes]:
    """The log's entries, by index, read straight from the database."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(log_entries.c.entry).order_by(log_entries.c.idx))
            return [bytes(row.entry) for row in rows]
    finally:
        engine.dispose()


def _findings(run: Run) -> list[dict[str, Any]]:
    report: dict[str, Any] = json.loads(run.stdout)
    findings: list[dict[str, Any]] = report["findings"]
    return findings


@pytest.fixture
def site(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Site]:
    """A served ledger: ``spola init``, the log key saved to ``log.vkey``, five entries."""
    for name in [n for n in os.environ if n.startswith("SPOLA_") and n != PG_ENV]:
        monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("SPOLA_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    operator = load_operator(home)
    store = LedgerStore.open(database_url, operator=operator.key, origin=operator.origin)
    made = Site(home, tmp_path, database_url, store, operator_at_head(store, home), capsys)
    try:
        key = made.spola("log", "key", "--db", database_url)
        assert key.code == 0, key
        (tmp_path / "log.vkey").write_text(key.stdout, encoding="utf-8")
        made.register(4)
        yield made
    finally:
        store.close()
        made.drop_restored()


def _keeps_appending(site: Site, url: str) -> None:
    """The restored ledger takes the next event at the next index, as the operator adds it."""
    size = len(_log(url))
    run = site.spola("actor", "register", "--from", site.profile("after-restore"), "--db", url)
    assert run.code == 0, run
    assert run.stdout == f"actor register: applied as log entry {size}\n"
    assert len(_log(url)) == size + 1


# -- SQLite ------------------------------------------------------------------------------------


@SQLITE_ONLY
def test_sqlite_backup_taken_while_appending_restores_a_verified_prefix(site: Site) -> None:
    three_appended, stop = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def keep_appending() -> None:
        try:
            done = 0
            while not stop.is_set():
                site.register(1, "during-backup")
                done += 1
                if done == 3:
                    three_appended.set()
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
            three_appended.set()

    appender = threading.Thread(target=keep_appending)
    appender.start()
    try:
        assert three_appended.wait(timeout=60)
        before = site.store.tree_size()
        backup = site.backup("backup.db")
        after = site.store.tree_size()
    finally:
        stop.set()
        appender.join(timeout=60)
    assert not failures, failures
    site.register(2, "after-backup")
    restored = site.restore(backup)

    verified = site.verify_as_documented(restored)

    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "stored projections equal the replay of the log" in verified.stdout
    assert "\nVALID (" in verified.stdout
    held, live = _log(restored), _log(site.url)
    assert before <= len(held) <= after < len(live)
    assert held == live[: len(held)]  # a prefix: entries lost since, none changed
    # And as the log key shows it: the live log extends the checkpoint the backup holds.
    site.checkpoint(restored, "restored.checkpoint")
    assert site.verify(site.url, "restored.checkpoint").code == 0
    _keeps_appending(site, restored)


@SQLITE_ONLY
def test_sqlite_restore_over_a_crashed_database_and_its_wal(site: Site) -> None:
    # The service died (its WAL file still beside the database) and a backup is to replace
    # the database. Copied over the file, the backup would get the old WAL replayed on top of
    # it; `.restore`, as the section says, replaces the database through SQLite itself.
    backup = site.backup("backup.db")
    site.register(3, "lost")
    live = Path(str(make_url(site.url).database))
    crashed = site.cwd / "crashed.db"
    shutil.copyfile(live, crashed)
    assert Path(f"{live}-wal").stat().st_size > 0
    shutil.copyfile(f"{live}-wal", f"{crashed}-wal")

    assert 'sqlite3 spola.db ".restore backup.db"' in backup_section()
    _tool(["sqlite3", str(crashed), f".restore {backup}"], site.cwd)

    url = f"sqlite:///{crashed}"
    assert _log(url) == _log(f"sqlite:///{backup}") != _log(site.url)
    rebuilt = site.spola("rebuild", "--db", url)
    assert rebuilt.code == 0, rebuilt
    assert site.verify(url).code == 0
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    finally:
        engine.dispose()
    _keeps_appending(site, url)


# -- PostgreSQL --------------------------------------------------------------------------------


def _schema(url: str) -> dict[str, Any]:
    """What a restore must bring back beside the rows: schema version, triggers, indexes and
    the position of each sequence."""
    queries = {
        "version": "SELECT version_num FROM alembic_version",
        "triggers": "SELECT tgrelid::regclass::text || '.' || tgname || ':' || tgenabled::text "
        "FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1",
        "indexes": "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
        "sequences": "SELECT sequencename || '=' || coalesce(last_value, 0) "
        "FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1",
    }
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {k: conn.execute(text(q)).scalars().all() for k, q in queries.items()}
    finally:
        engine.dispose()


def _equivocate(store: LedgerStore, operator: Terminal, name: str) -> None:
    """A second, different event at the operator's seq 1: refused, and kept as evidence."""
    fields = {"type": "actor", "op": "update", "id": "urn:spola:actor:x", "name": name}
    conflicting = operator.sign({**fields, "roles": ["supplier"], "country": "IT"}, seq=1)
    with pytest.raises(RefusedEnvelope) as refused:
        store.append([conflicting])
    assert isinstance(refused.value.cause, EquivocationError)


@POSTGRESQL_ONLY
def test_postgresql_dump_restores_a_ledger_that_keeps_appending(site: Site) -> None:
    _equivocate(site.store, site.operator, "evidence before the backup")
    dump = site.backup("spola.dump")
    site.register(2, "after-backup")

    assert f"{shlex.join(PG_RESTORE)} spola_restored spola.dump" in backup_section()
    restored = site.restore(dump)

    live, schema = _schema(site.url), _schema(restored)
    assert schema == live
    assert schema["sequences"] == ["equivocations_id_seq=1"]
    assert len(schema["triggers"]) == 8  # UPDATE/DELETE and TRUNCATE, four tables, enabled
    verified = site.verify_as_documented(restored)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "\nVALID (" in verified.stdout
    held = _log(restored)
    assert held == _log(site.url)[: len(held)] and len(held) == len(_log(site.url)) - 2
    # Append-only still: the triggers came back enabled, and refuse a rewrite.
    engine = make_engine(restored)
    try:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text("UPDATE log_entries SET applied = NOT applied WHERE idx = 1"))
    finally:
        engine.dispose()
    _keeps_appending(site, restored)
    # New evidence takes the sequence's next id (a sequence restored at 0 would collide).
    operator = load_operator(site.home)
    again = LedgerStore.open(restored, operator=operator.key, origin=operator.origin)
    try:
        _equivocate(again, operator_at_head(again, site.home), "evidence after the restore")
        with again.connect() as conn:
            ids = conn.execute(select(equivocations.c.id).order_by(equivocations.c.id))
            assert ids.scalars().all() == [1, 2]
    finally:
        again.close()


# -- both engines ------------------------------------------------------------------------------


def test_a_restore_behind_a_checkpoint_already_seen_is_named(site: Site) -> None:
    backup = site.backup("old.backup")
    size = len(_log(site.url))
    site.register(3, "lost")
    seen = site.checkpoint(site.url, "seen.checkpoint")  # a receipt, an auditor's bundle
    restored = site.restore(backup)
    assert site.spola("rebuild", "--db", restored).code == 0
    assert site.verify(restored).code == 0  # sound in itself

    behind = site.verify(restored, seen)

    assert behind.code == 1, behind
    (finding,) = _findings(behind)
    assert (finding["step"], finding["rule"]) == (4, "consistency.trusted_size")
    assert finding["expected"] == f"at least the trusted checkpoint's {size + 3} entries"
    assert finding["actual"] == f"{size} entries, 3 behind the trusted checkpoint"
    text_report = site.spola(
        "verify", "check.bundle", "--log-key", "log.vkey", "--trusted-checkpoint", seen
    )
    assert text_report.code == 1
    assert f"{size} entries, 3 behind the trusted checkpoint\n" in text_report.stdout

    # Served again as it is, the restored log takes other events at the lost indexes: a fork.
    for n in range(4):
        other = site.profile(f"other-{n}")
        assert site.spola("actor", "register", "--from", other, "--db", restored).code == 0

    forked = site.verify(restored, seen)

    assert forked.code == 1, forked
    (finding,) = _findings(forked)
    assert (finding["step"], finding["rule"]) == (4, "consistency.trusted_root")
    assert finding["index"] == size + 2


def test_verifying_a_restore_that_never_happened_is_refused(site: Site) -> None:
    # A mistyped path, or a database made for the restore that pg_restore never filled: the
    # verification must not open it as a new ledger (a genesis entry, "equal", "VALID").
    if site.sqlite:
        missing = site.cwd / "restord.db"
        url = f"sqlite:///{missing}"
    else:
        url = site.empty_database()

    for args in (["rebuild"], ["export", "bundle", "--out", "restored.bundle"]):
        run = site.spola(*args, "--db", url)
        assert run.code == 1, run
        assert "Traceback" not in run.stderr
        (line,) = run.stderr.splitlines()
        assert line.startswith("spola: ") and "no ledger at " in line and "nothing to " in line, (
            line
        )
    assert not (site.cwd / "restored.bundle").exists()
    if site.sqlite:
        assert not missing.exists()
    else:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                assert inspect(conn).get_table_names() == []
        finally:
            engine.dispose()
