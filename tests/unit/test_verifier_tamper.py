"""The tamper suite: every named mutation of a bundle is caught with the right finding.

The bundles are checked in (``tests/vectors/bundles/data``) and read as an auditor would: the
file and the log key only. The generator (``tests/vectors/bundles/generate.py``) must write
them byte for byte; it needs the test builders, which import the store, so that test is
skipped on a verifier-only install (``make verifier-install-check``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.vectors.bundles.sealing import DATA
from verifier import verify_bundle

ROWS: list[dict[str, Any]] = json.loads((DATA / "vectors.json").read_text())


@pytest.fixture(scope="module")
def vector_dir() -> Path:
    return DATA


@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
def test_mutation_is_reported_with_its_finding(vector_dir: Path, row: dict[str, Any]) -> None:
    vkey = (vector_dir / "log.vkey").read_text()
    with (vector_dir / f"{row['name']}.bundle").open("rb") as source:
        report = verify_bundle(source, vkey, jobs=2)
    found = {(f.step, f.rule, f.index) for f in report.findings}
    for want in ((w["step"], w["rule"], w["index"]) for w in row["want"]):
        assert want in found, f"{row['desc']}: {want} not in {sorted(found, key=str)}"
    assert report.valid == (not row["want"]), report.to_text()


def test_vectors_file_names_every_bundle_with_desc_and_want(vector_dir: Path) -> None:
    bundles = {p.stem for p in vector_dir.glob("*.bundle")}
    assert bundles == {r["name"] for r in ROWS}
    for r in ROWS:
        assert r["desc"]
        assert (vector_dir / f"{r['name']}.bundle").is_file()
        assert all(set(w) == {"step", "rule", "index"} for w in r["want"])


def test_the_mutations_cover_the_issue_list() -> None:
    names = {r["name"] for r in ROWS}
    assert names >= {
        "payload_byte_flip",
        "signature_flip",
        "entries_reordered",
        "entry_dropped",
        "entry_inserted",
        "entry_duplicated",
        "forged_checkpoint",
        "checkpoint_unknown_key",
        "wrong_tree_size",
        "key_before_registration",
        "key_after_revocation",
        "feed_gap",
        "feed_fork",
        "custody_without_receipt",
        "double_spend",
        "mass_created",
        "claim_inflated",
        "truncated_proof",
        "passport_field_altered",
        "passport_cites_missing_entry",
        "truncated_inclusion_proof",
        "partial_entry_swapped",
    }


def test_generator_writes_the_checked_in_vectors(tmp_path: Path) -> None:
    generator = pytest.importorskip("tests.vectors.bundles.generate", exc_type=ImportError)
    generator.generate(tmp_path / "a")
    generator.generate(tmp_path / "b")
    written = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert written == sorted(p.name for p in DATA.iterdir())
    for name in written:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
        assert (tmp_path / "a" / name).read_bytes() == (DATA / name).read_bytes(), name
