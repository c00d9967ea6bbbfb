"""``spola`` as a newcomer first meets it: a partial install, a first export, a first server
on another port, a first faulty profile, a second ``init``, a key revoked after its rotation.

Each answer is one line on stderr that says what to do next, and the usual exit codes
(spola/cli.py): a command the install cannot run exits 1, as any other error does.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.settings import Settings
from ledger.keys import PrivateKey
from spola.cli import main
from tests.integration.api_support import running_api, seed_demo_database
from tests.integration.test_cli import Operator, Run

pytestmark = pytest.mark.integration

VECTORS = Path(__file__).parents[1] / "vectors" / "bundles" / "data"
ACTOR = "urn:spola:actor:setificio-lariano"  # one of the demo's workshops
SERVER_ONLY = ("sqlalchemy", "alembic", "psycopg", "fastapi", "starlette", "uvicorn")
SERVER_ONLY += ("qrcode", "png", "fpdf", "jinja2", "pygal")
TERMINAL_ONLY = ("httpx", "httpcore")

# ``python -c`` with these modules missing, as on an install of ``spola[verifier]``: importing
# any of them (or a submodule) fails as it fails where the package is not installed.
WITHOUT = """
import sys
missing = frozenset(sys.argv[1].split(","))

class Missing:
    def find_spec(self, name, path=None, target=None):
        if any(name == gone or name.startswith(f"{gone}.") for gone in missing):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Missing())
from spola.cli import main
raise SystemExit(main(sys.argv[2:]))
"""


def _without(op: Operator, missing: tuple[str, ...], *args: str) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOLA_")}
    env.update(SPOLA_HOME=str(op.home), SPOLA_DATABASE_URL=op.database_url)
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT, ",".join(missing), *args],
        env=env,
        cwd=op.cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def op(tmp_path: Path) -> Operator:
    return Operator(tmp_path / "home", f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, [])


def _server_commands(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """Each command that reads or writes the ledger's database: (its name, a command line)."""
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"id": ACTOR, "name": "S", "roles": ["supplier"]}))
    key = PrivateKey.generate().public_key
    yield from [
        ("log key", ["log", "key"]),
        ("log checkpoint", ["log", "checkpoint"]),
        ("demo", ["demo"]),
        ("rebuild", ["rebuild"]),
        ("export epcis", ["export", "epcis", "--out", str(tmp_path / "events.jsonld")]),
        ("export bundle", ["export", "bundle", "--out", str(tmp_path / "ledger.bundle")]),
        ("serve", ["serve"]),
        ("actor register", ["actor", "register", "--from", str(profile)]),
        ("actor add-key", ["actor", "add-key", ACTOR, "--public-key", key.to_base64()]),
        ("actor revoke-key", ["actor", "revoke-key", ACTOR, key.key_id]),
        ("token list", ["token", "list"]),
        ("labels", ["labels", "--out", str(tmp_path / "labels.pdf")]),
        ("directory search", ["directory", "search"]),
        ("directory show", ["directory", "show", ACTOR]),
    ]


def _names_the_install(run: Run, command: str, extra: str) -> None:
    assert run.code == 1, run
    assert "Traceback" not in run.stderr, run.stderr
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"spola: `spola {command}` needs the {extra} install"), line
    assert f"pip install 'spola[{extra}]'" in line, line


# -- a verifier-only or terminal-only install --------------------------------------------------


def test_server_commands_on_an_install_without_the_server_name_its_extra(
    op: Operator, tmp_path: Path
) -> None:
    assert _without(op, SERVER_ONLY, "init").code == 0  # the log key needs no server packages
    for command, args in _server_commands(tmp_path):
        run = _without(op, SERVER_ONLY + TERMINAL_ONLY, *args)
        _names_the_install(run, command, "server")
    # A terminal install has httpx, and still no server.
    _names_the_install(
        _without(op, SERVER_ONLY, "export", "bundle", "--out", "b"), "export bundle", "server"
    )


def test_sync_on_a_verifier_install_names_the_terminal_extra(op: Operator) -> None:
    run = _without(op, SERVER_ONLY + TERMINAL_ONLY, "sync", "--ledger", "http://127.0.0.1:9")
    _names_the_install(run, "sync", "terminal")


def test_verifier_and_terminal_commands_run_without_the_server(op: Operator) -> None:
    bundle, vkey = VECTORS / "valid.bundle", VECTORS / "log.vkey"
    missing = SERVER_ONLY + TERMINAL_ONLY

    run = _without(op, missing, "verify", str(bundle), "--log-key", str(vkey))
    assert run.code == 0, run
    assert "Traceback" not in run.stderr

    empty = op.cwd / "empty"
    empty.mkdir()
    run = _without(op, missing, "key", "show", "--home", str(empty))
    assert run.code == 1, run
    (line,) = run.stderr.splitlines()
    assert line == f"spola: no key file at {empty / 'terminal.key'}: run `spola key generate` first"


def test_a_missing_module_of_spola_itself_is_no_install_advice(op: Operator) -> None:
    """Only the packages an extra installs are install advice; a module of spola's own that
    does not import is a fault, and its traceback is what to report."""
    run = _without(op, ("ledger.store",), "log", "key")
    assert run.code == 1, run
    assert "Traceback" in run.stderr and "install" not in run.stderr


# -- the EPCIS export's progress -------------------------------------------------------------


@pytest.mark.parametrize("only", [(), ("--actor", ACTOR)], ids=["all", "one actor"])
def test_export_progress_ends_with_the_whole_log_read(
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    only: tuple[str, ...],
) -> None:
    seed_demo_database(database_url, tmp_path / "home")
    monkeypatch.setenv("SPOLA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SPOLA_DATABASE_URL", database_url)

    code = main(["export", "epcis", "--out", str(tmp_path / "events.jsonld"), *only])

    err = capsys.readouterr().err
    assert code == 0, err
    last = err.splitlines()[-1]
    assert last.startswith("read ") and last.endswith(" log entries (100%)"), err
    read, _, size = last.removeprefix("read ").partition(" of ")
    assert read == size.split()[0]


# -- spola serve's public base URL -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("host", "base"),
    [("127.0.0.1", "http://127.0.0.1"), ("0.0.0.0", "http://127.0.0.1")],
    ids=["loopback", "every address"],
)
def test_serve_builds_qr_codes_on_the_port_it_serves(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    host: str,
    base: str,
) -> None:
    # spola serve sets the variable for its workers: set here first, so that it is undone.
    monkeypatch.setenv("SPOLA_PUBLIC_BASE_URL", "http://undone.example")
    monkeypatch.delenv("SPOLA_PUBLIC_BASE_URL")
    monkeypatch.setenv("SPOLA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SPOLA_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    assert main(["init"]) == 0
    served: list[str] = []
    monkeypatch.setattr(
        "uvicorn.run", lambda *_, **__: served.append(Settings.from_env().public_base_url)
    )
    port = _free_port()
    capsys.readouterr()

    assert main(["serve", "--host", host, "--port", str(port)]) == 0

    assert served == [f"{base}:{port}"]
    err = capsys.readouterr().err
    if host == "0.0.0.0":
        (line,) = err.splitlines()
        assert f"{base}:{port}" in line and "set SPOLA_PUBLIC_BASE_URL" in line, line
        assert ":8000" not in line
    else:
        assert err == ""


# -- a faulty actor profile ------------------------------------------------------------------


def test_actor_update_names_every_faulty_field(
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPOLA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SPOLA_DATABASE_URL", database_url)
    assert main(["init"]) == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": ACTOR, "country": "Italy"}))
    capsys.readouterr()

    assert main(["actor", "update", "--from", str(bad)]) == 1

    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("spola: actor event: "), line
    for field in ("name: Field required", "roles: Field required", "country: "):
        assert field in line, line
    assert "more)" not in line

    many = {"id": ACTOR, "name": 1, "roles": "x", "country": 2, "region": 3, "gln": 4, "x": 5}
    bad.write_text(json.dumps({**many, "y": 6, "z": 7}))
    assert main(["actor", "update", "--from", str(bad)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.count(": ") >= 6 and line.endswith(" more)"), line
    assert len(line) < 800, line


# -- a second init ---------------------------------------------------------------------------


def test_a_second_init_names_the_option_that_keeps_the_key(op: Operator) -> None:
    assert op.spola("init").code == 0

    run = op.spola("init")

    assert run.code == 1, run
    (line,) = run.stderr.splitlines()
    assert "refusing to overwrite" in line and "--exist-ok" in line, line


# -- revoking a key that was rotated ---------------------------------------------------------


def test_revoking_a_rotated_key_says_it_was_rotated_and_where(
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        workshop = api.enrol("setificio-lariano")
        other = api.enrol("tessitura-comasca").actor
        old = workshop.key_id
        new = PrivateKey.generate()
        (receipt,) = api.accept(workshop.rotate(new))
        rotated_at = receipt["index"]
        size = api.tree_size()

        # Over HTTP the ledger's verdict is as it was (its words are part of what it
        # published and what a replay compares): the CLI asks first, and says more.
        (refused,) = api.accept(api.operator.revoke(workshop.actor, old))
        verdict = api.client.get(f"/v1/entries/{refused['index']}/verdict").json()
        assert verdict["violation"]["rule"] == "registry.key_not_valid"
        size = api.tree_size()

        monkeypatch.setenv("SPOLA_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("SPOLA_DATABASE_URL", database_url)
        assert main(["actor", "revoke-key", workshop.actor, old]) == 1

        (line,) = capsys.readouterr().err.splitlines()
        assert "rotated" in line and f"log index {rotated_at}" in line, line
        assert new.public_key.key_id in line and "already revoked" not in line, line
        assert api.tree_size() == size  # nothing logged for a revocation bound to fail

        # A key revoked once is said to be revoked, where.
        assert main(["actor", "revoke-key", workshop.actor, new.public_key.key_id]) == 0
        revoked_at = api.tree_size() - 1
        capsys.readouterr()
        assert main(["actor", "revoke-key", workshop.actor, new.public_key.key_id]) == 1
        (line,) = capsys.readouterr().err.splitlines()
        assert f"already revoked at log index {revoked_at}" in line, line

        # Another actor's key is no key of this one, retired or not: the registry says so.
        assert main(["actor", "revoke-key", other, old]) == 1
        assert "rule registry.unknown_key" in capsys.readouterr().err
