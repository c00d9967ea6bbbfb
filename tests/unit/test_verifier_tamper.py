"""The tamper suite: every named mutation of a bundle is caught with the right finding.

The bundles come from the checked-in generator (``tests/vectors/bundles/generate.py``), written
into a temporary directory and read back as an auditor would: the file and the log key only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.vectors.bundles.generate import generate, vectors
from verifier import verify_bundle


@pytest.fixture(scope="module")
def vector_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("bundles")
    generate(directory)
    return directory


def _rows() -> list[dict[str, Any]]:
    return [
        {"name": name, "desc": desc, "want": want} for name, (desc, _, want) in vectors().items()
    ]


ROWS = _rows()


@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
def test_mutation_is_reported_with_its_finding(vector_dir: Path, row: dict[str, Any]) -> None:
    vkey = (vector_dir / "log.vkey").read_text()
    with (vector_dir / f"{row['name']}.bundle").open("rb") as source:
        report = verify_bundle(source, vkey, jobs=2)
    found = {(f.step, f.rule, f.index) for f in report.findings}
    for want in row["want"]:
        assert tuple(want) in found, f"{row['desc']}: {want} not in {sorted(found, key=str)}"
    assert report.valid == (not row["want"]), report.to_text()


def test_vectors_file_names_every_bundle_with_desc_and_want(vector_dir: Path) -> None:
    rows = json.loads((vector_dir / "vectors.json").read_text())
    assert {r["name"] for r in rows} == {r["name"] for r in ROWS}
    for r in rows:
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
    }


def test_generator_is_deterministic(tmp_path: Path) -> None:
    generate(tmp_path / "a")
    generate(tmp_path / "b")
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name
