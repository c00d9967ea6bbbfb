"""``spola`` given bad input the way an operator gives it: each mistake is one line on stderr
and a non-zero exit, never a traceback, and nothing is half done.

Every command runs as in tests/integration/test_cli.py: the installed console script in a fresh
process, with ``SPOLA_HOME`` and ``SPOLA_DATABASE_URL`` in a temporary directory.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.operator import KEY_FILE, LOG_FILE, load_operator
from spola.cli import main
from tests.integration.test_cli import Operator, Run, _one_line_error
from verifier.cli import main as verifier_main

pytestmark = pytest.mark.integration


@pytest.fixture
def op(tmp_path: Path) -> Operator:
    return Operator(tmp_path / "home", f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, [])


@pytest.fixture
def ready(op: Operator) -> Operator:
    assert op.spola("init").code == 0
    return op


def _usage_error(run: Run, *words: str) -> None:
    assert run.code == 2, run
    assert "Traceback" not in run.stderr, run.stderr
    for word in words:
        assert word in run.stderr, run.stderr


# -- init ------------------------------------------------------------------------------------


def test_init_refuses_an_empty_origin_instead_of_taking_the_default(op: Operator) -> None:
    run = op.spola("init", "--origin", "")
    _usage_error(run, "spola: --origin is empty", "non-empty")
    assert len(run.stderr.splitlines()) == 1
    assert not (op.home / LOG_FILE).exists()


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["export", "bundle", "--out", "OUT", "--item", ""], "--item"),
        (["export", "bundle", "--out", "OUT", "--actor", ""], "--actor"),
        (["export", "bundle", "--out", "OUT", "--since-checkpoint", ""], "--since-checkpoint"),
        (["export", "bundle", "--out=OUT", "--item="], "--item"),
        (["export", "bundle", "--out", ""], "--out"),
        (["export", "epcis", "--out", "OUT", "--item", ""], "--item"),
        (["labels", "--out", "OUT", "--subject", ""], "--subject"),
        (["directory", "search", "--near", ""], "--near"),
        (["directory", "show", ""], "actor"),
        (["rebuild", "--db", ""], "--db"),
    ],
)
def test_an_empty_argument_is_refused_by_name_before_anything_runs(
    ready: Operator,
    argv: list[str],
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A shell variable left unset gives "": `--item ""` exported the WHOLE ledger as if no
    # item had been named, `--since-checkpoint ""` a full bundle for an incremental audit,
    # `--near ""` searched everywhere, `--out ""` wrote to "." (a directory).
    monkeypatch.setenv("SPOLA_HOME", str(ready.home))
    monkeypatch.setenv("SPOLA_DATABASE_URL", ready.database_url)
    out = ready.cwd / "out.file"
    assert main([a.replace("OUT", str(out)) for a in argv]) == 2
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err == (
        f"spola: {name} is empty: give it a non-empty value (is a shell variable unset?)\n"
    )
    assert not out.exists()


def test_init_with_a_home_that_is_a_file_says_so_in_one_line(op: Operator) -> None:
    op.home.write_text("not a directory\n")
    _one_line_error(op.spola("init"), str(op.home), "not a directory")
    assert op.home.read_text() == "not a directory\n"


# -- actor profiles --------------------------------------------------------------------------


def test_a_profile_that_is_not_utf8_is_one_line(ready: Operator) -> None:
    profile = ready.cwd / "profile.json"
    profile.write_bytes(b'{"name": "Conceria \xe0 Ticino"}')  # Latin-1, as an old editor saves
    _one_line_error(ready.spola("actor", "register", "--from", str(profile)), "UTF-8")


# -- directory -------------------------------------------------------------------------------


def test_directory_show_with_a_bad_day_is_a_usage_line_naming_the_field(ready: Operator) -> None:
    run = ready.spola("directory", "show", "maison-navigli", "--on", "yesterday")
    assert run.code == 2, run
    assert "Traceback" not in run.stderr, run.stderr
    assert run.stderr.splitlines() == ["spola: on: 'yesterday' is not a date YYYY-MM-DD"]


# -- export ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bundle", "epcis"])
def test_export_to_a_directory_names_the_out_path_before_reading_the_log(
    ready: Operator, kind: str
) -> None:
    target = ready.cwd / "exports"
    target.mkdir()
    run = ready.spola("export", kind, "--out", str(target))
    line = _one_line_error(run, "--out", str(target), "is a directory")
    assert ".tmp" not in line  # not the name of a temporary file the operator never chose
    assert "log entries" not in run.stderr  # refused before the log was read
    assert list(target.iterdir()) == []
    assert [p.name for p in ready.cwd.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("kind", ["bundle", "epcis"])
def test_export_into_a_missing_directory_names_it(ready: Operator, kind: str) -> None:
    missing = ready.cwd / "no-such-dir"
    run = ready.spola("export", kind, "--out", str(missing / "out.file"))
    line = _one_line_error(run, "--out", f"the directory {missing} does not exist")
    assert ".tmp" not in line and ".body." not in line
    assert not missing.exists()


# -- serve -----------------------------------------------------------------------------------


@pytest.fixture
def port_in_use() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def test_serve_on_a_port_in_use_is_one_line_before_migrating(
    op: Operator, port_in_use: int
) -> None:
    assert op.spola("init").code == 0
    run = op.spola("serve", "--port", str(port_in_use))
    _one_line_error(run, f"('127.0.0.1', {port_in_use}): address already in use")
    assert not (op.cwd / "ledger.db").exists()


def test_serve_on_a_host_that_does_not_resolve_is_one_line(ready: Operator) -> None:
    run = ready.spola("serve", "--host", "256.1.1.1", "--port", "0")
    _one_line_error(run, "cannot listen on 256.1.1.1:0")


@pytest.mark.parametrize("port", ["65536", "-1"])
def test_serve_refuses_a_port_out_of_range_as_a_usage_error(op: Operator, port: str) -> None:
    _usage_error(op.spola("serve", "--port", port), "--port", "0 to 65535")


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_serve_refuses_fewer_than_one_worker_as_a_usage_error(op: Operator, workers: str) -> None:
    _usage_error(op.spola("serve", "--workers", workers), "--workers", "at least 1")


def test_serve_with_an_unreachable_read_replica_is_one_line_before_listening(
    ready: Operator,
) -> None:
    replica = "postgresql+psycopg://spola:pw@127.0.0.1:1/spola"
    run = ready.spola_with({"SPOLA_READ_DATABASE_URL": replica}, "serve", "--port", "0")
    line = _one_line_error(run, "cannot open the database 127.0.0.1:1/spola")
    assert "pw" not in line
    assert load_operator(ready.home)  # the home is untouched


@pytest.mark.parametrize("lost", [KEY_FILE, LOG_FILE])
@pytest.mark.parametrize("exist_ok", [False, True])
def test_init_on_a_half_made_home_names_the_missing_file_instead_of_asking_for_init(
    op: Operator, lost: str, exist_ok: bool
) -> None:
    assert op.spola("init").code == 0
    (op.home / lost).unlink()
    kept = {p.name: p.read_bytes() for p in op.home.iterdir()}
    run = op.spola("init", *(["--exist-ok"] if exist_ok else []))
    line = _one_line_error(run, str(op.home), lost, "missing")
    assert "run `spola init`" not in line
    assert {p.name: p.read_bytes() for p in op.home.iterdir()} == kept


# -- files given to read -----------------------------------------------------------------------

# The commands that read a file the operator names (SOURCE), writing nothing else (OUT).
READING_COMMANDS = pytest.mark.parametrize(
    "argv",
    [
        ["export", "bundle", "--out", "OUT", "--since-checkpoint", "SOURCE"],
        ["actor", "register", "--from", "SOURCE"],
    ],
    ids=["since-checkpoint", "actor-profile"],
)


@READING_COMMANDS
def test_a_file_to_read_that_never_ends_is_refused_at_its_limit(
    ready: Operator, argv: list[str]
) -> None:
    # /dev/zero (or a pipe nobody closes) was read whole before any check: the command took
    # all the memory there was, or hung.
    out = ready.cwd / "out.bundle"
    args = [a.replace("OUT", str(out)).replace("SOURCE", "/dev/zero") for a in argv]
    _one_line_error(ready.spola(*args), "/dev/zero", "over the limit of 65536 bytes")
    assert not out.exists()


@READING_COMMANDS
def test_a_file_to_read_that_is_missing_is_named_in_one_line(
    ready: Operator, argv: list[str]
) -> None:
    out = ready.cwd / "out.bundle"
    missing = ready.cwd / "no-such-file"
    args = [a.replace("OUT", str(out)).replace("SOURCE", str(missing)) for a in argv]
    _one_line_error(ready.spola(*args), f"cannot read {missing}", "No such file or directory")
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--item", "--lot"])
def test_export_epcis_names_the_filter_whose_digital_link_is_malformed(
    ready: Operator, flag: str
) -> None:
    # With both given, "GTIN ... has check digit 3" left the operator to guess which was wrong.
    good, bad = "/01/09506000134352/21/A1", "/01/09506000134353/21/A1"
    other = "--lot" if flag == "--item" else "--item"
    out = ready.cwd / "out.jsonld"
    run = ready.spola("export", "epcis", "--out", str(out), flag, bad, other, good)
    _one_line_error(run, f"spola: {flag}: ", "check digit")
    assert not out.exists()


# -- verify ----------------------------------------------------------------------------------


@pytest.mark.parametrize("empty", ["bundle", "--log-key", "--trusted-checkpoint"])
def test_verify_words_an_empty_argument_as_python_m_verifier_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], empty: str
) -> None:
    # The auditor reads the same line whichever way the verifier was started: `spola verify`
    # said "bundle is empty: give it a non-empty value", `python -m verifier` what to give.
    given = {
        "bundle": str(tmp_path / "ledger.bundle"),
        "--log-key": "ledger.example+01234567+AQ==",
        "--trusted-checkpoint": str(tmp_path / "trusted"),
    }
    given[empty] = ""
    argv = [given["bundle"], "--log-key", given["--log-key"]]
    argv += ["--trusted-checkpoint", given["--trusted-checkpoint"]]
    assert verifier_main(argv) == 2
    said = capsys.readouterr().err
    assert main(["verify", *argv]) == 2
    assert capsys.readouterr().err == said
    assert said.startswith("verify: ") and said.count("\n") == 1 and "is empty" in said
