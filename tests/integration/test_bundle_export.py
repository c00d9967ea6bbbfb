"""A real store's log, exported as a bundle, verifies offline with the log key alone.

On SQLite and PostgreSQL: the demo season (every event type, a key rotation, a double spend
the ledger logged but did not apply) exported and verified, an export with a consistency proof
from an earlier checkpoint, and the two command lines (``spola export bundle``, ``spola
verify`` and ``python -m verifier``) with their exit statuses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from api.demo import seed_demo
from api.operator import DEFAULT_ORIGIN
from ledger.bundle import Manifest
from ledger.keys import PrivateKey
from ledger.note import vkey
from ledger.store.bundle import export_bundle
from ledger.store.ledger import LedgerStore
from tests.conftest import enrol
from tests.integration.api_support import DEMO_ENTRIES
from tests.integration.test_cli import Operator
from tests.terminal import Terminal
from verifier import verify_bundle

pytestmark = pytest.mark.integration


@pytest.fixture
def op(tmp_path: Path) -> Operator:
    return Operator(tmp_path / "home", f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, [])


@pytest.fixture
def op_db(tmp_path: Path, database_url: str) -> Operator:
    return Operator(tmp_path / "home", database_url, tmp_path, [])


def _verify(path: Path, vkey: str, trusted: bytes | None = None) -> dict[str, object]:
    with path.open("rb") as source:
        report = verify_bundle(source, vkey, trusted_checkpoint=trusted, jobs=2)
    assert report.findings == [], report.to_text()
    return report.to_json()


def test_demo_ledger_exports_a_bundle_that_verifies(store: LedgerStore, tmp_path: Path) -> None:
    seed_demo(store, tmp_path / "home")
    out = tmp_path / "demo.bundle"
    summary = export_bundle(store, out)
    assert summary.tree_size == store.tree_size() == DEMO_ENTRIES + 1
    manifest = Manifest.from_line(out.open("rb").readline())
    assert (manifest.tree_size, manifest.entries, manifest.checkpoints) == (
        DEMO_ENTRIES + 1,
        DEMO_ENTRIES + 1,
        1,
    )
    report = _verify(out, store.log_vkey)
    assert report["valid"] is True
    assert report["entries"] == DEMO_ENTRIES + 1
    assert not list(tmp_path.glob(".demo.bundle.*")), "no temporary file is left behind"


def test_bundle_since_an_earlier_checkpoint_proves_consistency(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    enrol(store, operator, "filanda")
    earlier = store.latest_checkpoint()
    for slug in ("tintoria", "stamperia", "sartoria"):
        enrol(store, operator, slug)
    out = tmp_path / "since.bundle"
    summary = export_bundle(store, out, since_checkpoint=earlier)
    assert summary.since_size == 3  # genesis, register, add key
    report = _verify(out, store.log_vkey, trusted=earlier)
    steps = {s["step"]: s["status"] for s in report["steps"]}  # type: ignore[attr-defined]
    assert steps[4] == "ok"


def test_cli_exports_and_both_entry_points_verify(op_db: Operator, tmp_path: Path) -> None:
    assert op_db.spola("init").code == 0
    assert op_db.spola("demo").code == 0
    key_file = tmp_path / "log.vkey"
    key_file.write_text(op_db.spola("log", "key").stdout)
    exported = op_db.spola("export", "bundle", "--out", str(tmp_path / "ledger.bundle"))
    assert exported.code == 0, exported.stderr
    assert f"exported {DEMO_ENTRIES + 1} log entries" in exported.stdout

    verified = op_db.spola("verify", str(tmp_path / "ledger.bundle"), "--log-key", str(key_file))
    assert verified.code == 0, verified.stdout + verified.stderr
    assert "VALID" in verified.stdout

    module = subprocess.run(
        [sys.executable, "-m", "verifier", "ledger.bundle", "--log-key", "log.vkey", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert module.returncode == 0, module.stderr
    assert json.loads(module.stdout)["valid"] is True


def test_verify_with_another_log_key_is_invalid(op_db: Operator, tmp_path: Path) -> None:
    assert op_db.spola("init").code == 0
    out = tmp_path / "ledger.bundle"
    assert op_db.spola("export", "bundle", "--out", str(out)).code == 0
    other = vkey(DEFAULT_ORIGIN, PrivateKey.from_seed(bytes(32)).public_key.raw)
    run = op_db.spola("verify", str(out), "--log-key", other)
    assert run.code == 1, run
    assert "INVALID" in run.stdout


def test_verify_a_file_that_is_no_bundle_exits_2(op: Operator, tmp_path: Path) -> None:
    (tmp_path / "not.bundle").write_text("hello\n")
    run = op.spola("verify", str(tmp_path / "not.bundle"), "--log-key", "x+00000000+AA==")
    assert run.code == 2, run
    assert run.stderr.startswith("spola: ") or run.stderr.startswith("verify: ")
