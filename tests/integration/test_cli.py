"""``spola`` as an operator runs it: the installed console script, in a fresh process.

Every command runs with ``SPOLA_HOME`` and ``SPOLA_DATABASE_URL`` pointing at temporary places.
The contract (spola/cli.py): success exits 0; an error prints one line to stderr, no traceback,
and exits 1; usage errors exit 2. The log key's seed never appears in any output.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.operator import DEFAULT_ORIGIN, KEY_FILE, LOG_FILE, load_operator
from ledger.checkpoint import verify_checkpoint
from tests.integration.api_support import DEMO_ENTRIES

pytestmark = pytest.mark.integration

SCRIPT = Path(sys.executable).with_name("spola")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "spola"]


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


@dataclass
class Operator:
    """One operator's environment: a home and a database, and every output seen so far."""

    home: Path
    database_url: str
    cwd: Path
    outputs: list[str]

    def spola(self, *args: str) -> Run:
        return self.spola_with({}, *args)

    def spola_with(self, settings: dict[str, str], *args: str) -> Run:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPOLA_")}
        env.update(SPOLA_HOME=str(self.home), SPOLA_DATABASE_URL=self.database_url, **settings)
        done = subprocess.run(
            [*COMMAND, *args],
            env=env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        self.outputs += [done.stdout, done.stderr]
        return Run(done.returncode, done.stdout, done.stderr)


def _one_line_error(run: Run, *words: str) -> str:
    assert run.code == 1, run
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("spola: "), lines
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def op(tmp_path: Path) -> Operator:
    """An operator with a SQLite database, for commands whose engine does not matter."""
    return Operator(tmp_path / "home", f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, [])


@pytest.fixture
def op_db(tmp_path: Path, database_url: str) -> Operator:
    """An operator on each engine (SQLite and PostgreSQL)."""
    return Operator(tmp_path / "home", database_url, tmp_path, [])


# -- init ------------------------------------------------------------------------------------


def test_init_creates_an_owner_only_key_file_and_the_log_origin(op: Operator) -> None:
    run = op.spola("init")

    assert run.code == 0, run
    assert run.stdout == f"created the log key in {op.home}\n"
    assert run.stderr == ""
    key_file = op.home / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(op.home.stat().st_mode) & 0o077 == 0
    assert json.loads((op.home / LOG_FILE).read_text()) == {"origin": DEFAULT_ORIGIN}
    assert load_operator(op.home).origin == DEFAULT_ORIGIN


def test_init_takes_the_origin_the_operator_names(op: Operator) -> None:
    assert op.spola("init", "--origin", "ledger.example.it/spola").code == 0
    run = op.spola("log", "key")
    assert run.code == 0, run
    assert run.stdout.startswith("ledger.example.it/spola+")


def test_init_refuses_an_origin_with_spaces_in_one_line(op: Operator) -> None:
    run = op.spola("init", "--origin", "my ledger")
    _one_line_error(run, "origin", "without spaces")
    assert not (op.home / KEY_FILE).exists()


def test_second_init_refuses_to_overwrite_the_key_in_one_line(op: Operator) -> None:
    assert op.spola("init").code == 0
    key_bytes = (op.home / KEY_FILE).read_bytes()

    run = op.spola("init")

    _one_line_error(run, "already holds a log key", "refusing to overwrite")
    assert run.stdout == ""
    assert (op.home / KEY_FILE).read_bytes() == key_bytes


def test_init_exist_ok_keeps_the_existing_key(op: Operator) -> None:
    assert op.spola("init").code == 0
    key_bytes = (op.home / KEY_FILE).read_bytes()

    run = op.spola("init", "--exist-ok")

    assert run.code == 0, run
    assert run.stdout == f"kept the log key in {op.home}\n"
    assert (op.home / KEY_FILE).read_bytes() == key_bytes


def test_init_exist_ok_refuses_a_key_file_others_can_read(op: Operator) -> None:
    assert op.spola("init").code == 0
    (op.home / KEY_FILE).chmod(0o644)
    _one_line_error(op.spola("init", "--exist-ok"), "readable by others", "chmod 600")


# -- demo and log ----------------------------------------------------------------------------


def test_demo_is_idempotent(op_db: Operator) -> None:
    assert op_db.spola("init").code == 0

    first = op_db.spola("demo")
    second = op_db.spola("demo")

    size = DEMO_ENTRIES + 1  # and the genesis entry
    assert first.code == 0, first
    assert first.stdout == f"demo ledger ready: {DEMO_ENTRIES} entries appended, tree size {size}\n"
    assert "not applied" in first.stderr and "balance.insufficient" in first.stderr  # planned
    assert second.code == 0, second
    assert second.stdout == f"demo ledger ready: 0 entries appended, tree size {size}\n"
    assert second.stderr == ""


def test_log_key_prints_the_vkey_of_the_operator_key(op_db: Operator) -> None:
    assert op_db.spola("init").code == 0
    run = op_db.spola("log", "key")

    assert run.code == 0, run
    vkey = run.stdout.removesuffix("\n")
    name, hex_id, encoded = vkey.split("+", 2)
    assert name == DEFAULT_ORIGIN
    assert re.fullmatch(r"[0-9a-f]{8}", hex_id)
    raw = base64.b64decode(encoded, validate=True)
    assert raw == b"\x01" + load_operator(op_db.home).key.public_key.raw


def test_log_checkpoint_prints_a_note_that_verifies_with_the_log_key(op_db: Operator) -> None:
    assert op_db.spola("init").code == 0
    assert op_db.spola("demo").code == 0
    vkey = op_db.spola("log", "key").stdout.strip()

    run = op_db.spola("log", "checkpoint")

    assert run.code == 0, run
    checkpoint = verify_checkpoint(run.stdout.encode("utf-8"), vkey)
    assert (checkpoint.origin, checkpoint.size) == (DEFAULT_ORIGIN, DEMO_ENTRIES + 1)


def test_db_option_overrides_the_environment(op: Operator, tmp_path: Path) -> None:
    assert op.spola("init").code == 0
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert op.spola("demo", "--db", other).code == 0
    demo_size = str(DEMO_ENTRIES + 1)
    assert op.spola("log", "checkpoint", "--db", other).stdout.split("\n")[1] == demo_size
    assert op.spola("log", "checkpoint").stdout.split("\n")[1] == "1"  # only genesis here


def test_demo_without_init_fails_in_one_line(op: Operator) -> None:
    run = op.spola("demo")
    _one_line_error(run, "no log key", "spola init")
    assert run.stdout == ""


def test_log_started_by_another_key_is_refused_in_one_line(op_db: Operator, tmp_path: Path) -> None:
    assert op_db.spola("init").code == 0
    assert op_db.spola("log", "key").code == 0  # the log now starts with this key's genesis
    intruder = Operator(tmp_path / "other-home", op_db.database_url, tmp_path, op_db.outputs)
    assert intruder.spola("init").code == 0
    _one_line_error(intruder.spola("demo"), "was started by key", "not by the configured")


PASSWORD = "s3cret-pw"
BAD_URLS = {
    "unparseable": "not a database url",
    "unknown-dialect": "nonsense://host/db",
    "missing-directory": "sqlite:////nonexistent-spola-dir/sub/ledger.db",
    "refused-connection": f"postgresql+psycopg://spola:{PASSWORD}@127.0.0.1:1/spola",
    "driver-not-installed": "mysql://spola@127.0.0.1/spola",
    "port-not-a-number": f"postgresql+psycopg://spola:{PASSWORD}@127.0.0.1:notaport/spola",
}


@pytest.mark.parametrize("url", BAD_URLS.values(), ids=BAD_URLS.keys())
def test_bad_db_url_fails_in_one_clear_line(op: Operator, url: str) -> None:
    assert op.spola("init").code == 0
    run = op.spola("log", "key", "--db", url)
    line = _one_line_error(run, "database")
    assert PASSWORD not in line  # credentials never reach the terminal
    assert run.stdout == ""


def test_serve_with_a_bad_db_url_fails_in_one_line_before_listening(op: Operator) -> None:
    assert op.spola("init").code == 0
    run = op.spola("serve", "--port", "0", "--db", BAD_URLS["refused-connection"])
    line = _one_line_error(run, "cannot open the database", "Connection refused")
    assert PASSWORD not in line


def test_bad_numeric_setting_fails_in_one_line(op: Operator) -> None:
    assert op.spola("init").code == 0
    run = op.spola_with({"SPOLA_MAX_BATCH": "many"}, "demo")
    _one_line_error(run, "SPOLA_MAX_BATCH")


# -- usage and secrets -----------------------------------------------------------------------


@pytest.mark.parametrize("args", [(), ("log",), ("frobnicate",), ("serve", "--port", "x")])
def test_usage_errors_exit_2(op: Operator, args: tuple[str, ...]) -> None:
    run = op.spola(*args)
    assert run.code == 2, run
    assert "usage: spola" in run.stderr
    assert "Traceback" not in run.stderr


def test_module_entry_point_runs_the_same_cli(op: Operator) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "spola", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=op.cwd,
    )
    assert done.returncode == 0
    for command in ("init", "serve", "demo", "log"):
        assert command in done.stdout


def test_the_key_seed_never_appears_in_any_output(op_db: Operator) -> None:
    op_db.spola("init")
    op_db.spola("init")
    op_db.spola("init", "--exist-ok")
    op_db.spola("demo")
    op_db.spola("demo")
    op_db.spola("log", "key")
    op_db.spola("log", "checkpoint")
    op_db.spola("log", "key", "--db", BAD_URLS["missing-directory"])
    (op_db.home / KEY_FILE).chmod(0o640)
    op_db.spola("log", "key")

    seed = load_operator_seed(op_db.home)
    forms = {
        base64.b64encode(seed).decode(),
        base64.urlsafe_b64encode(seed).decode(),
        seed.hex(),
        seed.hex().upper(),
    }
    everything = "\n".join(op_db.outputs)
    assert "readable by others" in everything  # the refusals really ran
    for form in forms:
        assert form not in everything
    assert repr(seed)[2:-1] not in everything


def load_operator_seed(home: Path) -> bytes:
    header, encoded = (home / KEY_FILE).read_text().splitlines()
    assert header == "spola operator key v1"
    return base64.b64decode(encoded)


@pytest.mark.parametrize(
    "command", [[*COMMAND, "verify"], [sys.executable, "-m", "verifier"]], ids=["spola", "module"]
)
def test_output_cut_short_by_the_reader_is_no_error(command: list[str]) -> None:
    # `spola verify … | head`: the reader closed the pipe, and spola said "spola: Broken
    # pipe" and exited 1 — python -m verifier with a traceback — as if the bundle were invalid.
    # Python buffers stdout when it is a pipe, unless PYTHONUNBUFFERED is set (as it may be
    # where tests run): the failed write then comes at exit, where it printed "Exception
    # ignored … BrokenPipeError" to a user's shell. Run as a user's shell runs it.
    vectors = Path(__file__).parents[1] / "vectors" / "bundles" / "data"
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    reader, writer = os.pipe()
    os.close(reader)  # closed before it writes anything: its first write fails
    with os.fdopen(writer, "wb") as stdout:
        done = subprocess.run(
            [*command, str(vectors / "valid.bundle"), "--log-key", str(vectors / "log.vkey")],
            stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120, check=False, env=env,
        )  # fmt: skip
    assert done.stderr == ""
    assert done.returncode == 141
