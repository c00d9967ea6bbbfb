"""Header records are held within bounds, whatever the manifest announces."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace

import pytest

from ledger.bundle import Manifest
from tests.vectors.bundles.sealing import DATA, LOG_VKEY, Bundle, read_bundle, with_since
from verifier import Report, steps, verify_bundle


def _verify(bundle: Bundle) -> Report:
    return verify_bundle(io.BytesIO(bundle.to_bytes()), LOG_VKEY)


def _found(report: Report) -> set[tuple[int, str]]:
    return {(f.step, f.rule) for f in report.findings}


def test_passport_records_of_a_whole_ledger_bundle_are_a_finding_not_kept() -> None:
    passports = read_bundle(DATA / "valid_passport.bundle").passports
    whole = replace(read_bundle(DATA / "valid.bundle"), passports=passports * 50)
    report = _verify(whole)
    # One finding with their count (a whole ledger's manifest counts no passports).
    assert [(f.step, f.rule, f.expected, f.actual) for f in report.findings] == [
        (1, "bundle.line", "no passport record", "100 lines in a whole-ledger bundle")
    ]
    steps_ = {s["step"]: s["status"] for s in report.to_json()["steps"]}
    assert steps_[10].startswith("skipped: a whole-ledger bundle carries no passport documents")


def test_passport_documents_beyond_the_limit_are_reported_and_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = read_bundle(DATA / "valid_passport.bundle")
    assert _verify(good).valid
    limit = len(good.passports[0].document) + 1  # room for the first record only
    monkeypatch.setattr(steps, "MAX_PASSPORT_BYTES", limit)
    report = _verify(good)
    assert (1, "bundle.passports") in _found(report)


def test_a_second_consistency_proof_is_reported_and_not_kept() -> None:
    whole = with_since(read_bundle(DATA / "valid.bundle"))
    assert _verify(whole).valid
    data = whole.to_bytes()
    first, body = data.split(b"\n", 1)
    proof = next(line for line in body.splitlines(keepends=True) if b'"consistency"' in line)
    doubled = body.replace(proof, proof * 3, 1)
    manifest = replace(
        Manifest.from_line(first + b"\n"),
        consistency=3,
        body_sha256=hashlib.sha256(doubled).digest(),
    )
    report = verify_bundle(io.BytesIO(manifest.to_line() + doubled), LOG_VKEY)
    assert _found(report) == {(1, "bundle.consistency")}


def test_findings_after_an_unreadable_entry_line_name_their_own_entries() -> None:
    data = read_bundle(DATA / "valid.bundle").to_bytes()
    first, *lines = data.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if b'"index":3,' in line)
    lines[at] = lines[at][:-1] + b"x\n"  # entry 3 no longer parses
    body = b"".join(lines)
    manifest = replace(Manifest.from_line(first), body_sha256=hashlib.sha256(body).digest())
    for jobs in (1, 2):
        report = verify_bundle(io.BytesIO(manifest.to_line() + body), LOG_VKEY, jobs=jobs)
        named = {(f.step, f.rule, f.index) for f in report.findings}
        assert (1, "bundle.line", 3) in named
        # Entry 3 added a key: entries signed with it are refused at their own indexes.
        assert {i for s, r, i in named if r == "key.unknown"} == {9, 10, 12}
        assert not any(r == "entry.index" or r == "entry.chain_hash" for _, r, _ in named)
