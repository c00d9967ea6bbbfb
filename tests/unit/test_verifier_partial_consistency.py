"""A consistency proof in a partial bundle: refused in step 1, never taken as checked.

A partial bundle carries the head checkpoint only, "no since checkpoint and no consistency
proof" (docs/bundle.md, "Partial bundles"); `spola export bundle` refuses `--since-checkpoint`
with `--item`/`--actor` and writes `consistency: 0` in a partial manifest. A consistency line
in one is a record its scope does not carry, refused as a whole-ledger bundle refuses inclusion
and passport lines (`bundle.line`), and not verified: step 4 stays skipped, and the report says
why it is invalid. A manifest counting one breaks the format too (`bundle.consistency`).

The hostile bundles are the passport vector (`valid_passport.bundle`) with a consistency line
added; the proof is cut from the whole log behind it (`passport_story`, 20 entries), so it is
a correct proof from a checkpoint the log key signed. Pure: runs on a verifier-only install.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Final

import pytest

from ledger.bundle import SCOPE_ACTOR, SCOPE_ITEM, SCOPE_PASSPORT, Manifest
from ledger.bundle_records import ConsistencyRecord
from ledger.hashing import leaf_hash
from ledger.merkle import consistency_proof
from tests.vectors.bundles.sealing import (
    DATA,
    LOG_VKEY,
    Bundle,
    checkpoint,
    read_bundle,
    seal,
    sign_bundle_verdicts,
)
from tests.vectors.bundles.story import FILANDA, SCARF, passport_story
from verifier import Report, verify_bundle

ROOT: Final = Path(__file__).resolve().parents[2]
TRUSTED_SIZE: Final = 13  # the log before the brand's registration: a checkpoint of it
REFUSED: Final = (1, "bundle.line", None)
EXPECTED: Final = "no consistency proof in a partial bundle"
ACTUAL: Final = "1 consistency record, not checked"
NOT_CARRIED: Final = "skipped: a partial bundle carries no consistency proof"
COUNTED: Final = (1, "bundle.consistency", None)
COUNT_EXPECTED: Final = "0: a partial bundle carries no consistency proof"
COUNT_ACTUAL: Final = "1 in the manifest"


def _leaves() -> list[bytes]:
    """The leaves of the whole log behind the passport vector (its head is this log's)."""
    whole = seal(passport_story().envelopes)
    good = read_bundle(DATA / "valid_passport.bundle")
    assert whole.head == good.head, "the passport vector is cut from passport_story's log"
    return [leaf_hash(e.entry) for e in whole.entries]


def _proof(leaves: list[bytes]) -> ConsistencyRecord:
    """A correct RFC 9162 proof from the trusted size to the head: it verifies."""
    proof = tuple(consistency_proof(leaves, TRUSTED_SIZE))
    return ConsistencyRecord(TRUSTED_SIZE, len(leaves), proof)


def _hostile(scope: str = SCOPE_PASSPORT) -> Bundle:
    """The passport vector (or its entries as an item's or an actor's bundle, the log key's
    statement signed for that scope), with a consistency line its manifest counts."""
    good = read_bundle(DATA / "valid_passport.bundle")
    if scope != SCOPE_PASSPORT:
        subject = FILANDA if scope == SCOPE_ACTOR else SCARF
        verdicts = sign_bundle_verdicts(good.head, good.entries, scope, subject)
        good = replace(good, scope=scope, subject=subject, passports=[], verdicts=verdicts)
    return replace(good, consistency=_proof(_leaves()))


def _verify(data: bytes, trusted: bytes | None = None) -> Report:
    return verify_bundle(io.BytesIO(data), LOG_VKEY, trusted_checkpoint=trusted, jobs=1)


def _found(report: Report) -> Counter[tuple[int, str, int | None]]:
    return Counter((f.step, f.rule, f.index) for f in report.findings)


def _trusted() -> bytes:
    return checkpoint(_leaves(), TRUSTED_SIZE)


@pytest.mark.parametrize("scope", [SCOPE_PASSPORT, SCOPE_ITEM, SCOPE_ACTOR])
def test_each_partial_bundle_without_the_line_is_valid(scope: str) -> None:
    # The hostile bundles below differ from these by the consistency line alone.
    bundle = replace(_hostile(scope), consistency=None)
    report = _verify(bundle.to_bytes(), _trusted())
    assert report.valid, report.to_text(width=200)
    assert report.step_status(4) == NOT_CARRIED


@pytest.mark.parametrize("scope", [SCOPE_PASSPORT, SCOPE_ITEM, SCOPE_ACTOR])
def test_a_consistency_proof_in_a_partial_bundle_is_refused(scope: str) -> None:
    # A correct proof from a checkpoint the auditor trusts, which the manifest counts. It was
    # verified, yet step 4 said "skipped: a partial bundle carries no consistency proof" and
    # the report VALID: what was checked misstated, a record the format excludes accepted.
    # The manifest's count of it is reported too: a partial manifest's is 0 by the format
    # (before, a count the line bore out was not reported).
    data = _hostile(scope).to_bytes()
    report = _verify(data, _trusted())
    assert not report.valid
    assert _found(report) == Counter([REFUSED, COUNTED]), report.to_text(width=200)
    texts = {f.rule: (f.expected, f.actual) for f in report.findings}
    assert texts == {
        "bundle.line": (EXPECTED, ACTUAL),
        "bundle.consistency": (COUNT_EXPECTED, COUNT_ACTUAL),
    }
    # Not verified, so not reported as checked: step 4 is what it is without the line.
    assert report.step_status(1) == "2 findings"
    assert report.step_status(4) == NOT_CARRIED


def test_without_a_trusted_checkpoint_the_line_is_refused_and_not_examined() -> None:
    # Before: a step 4 finding (consistency.sizes: no verified checkpoint to start from), as
    # if the proof were a part of the bundle that merely failed. (The manifest's count of the
    # line is reported as well: a partial manifest's is 0 by the format.)
    report = _verify(_hostile().to_bytes())
    assert _found(report) == Counter([REFUSED, COUNTED]), report.to_text(width=200)
    assert report.step_status(4) == "skipped: no trusted checkpoint given"


def test_a_proof_that_does_not_verify_is_refused_the_same_way() -> None:
    # Refused for what it is, whatever it holds: not reported as a failed step 4 check. (The
    # manifest counts the line: that count is reported as well, a partial manifest's being 0.)
    bundle = _hostile()
    assert bundle.consistency is not None
    broken = replace(bundle.consistency, proof=bundle.consistency.proof[:-1])
    report = _verify(replace(bundle, consistency=broken).to_bytes(), _trusted())
    assert _found(report) == Counter([REFUSED, COUNTED]), report.to_text(width=200)


def test_a_line_the_manifest_does_not_count_is_refused_once() -> None:
    # The manifest's count (0, as the exporter writes it) is the format's: only the line is
    # reported. (Before, the count was compared with the lines, and "0 in the manifest" was a
    # second finding, as if the manifest were wrong not to count a record it must not count.)
    data = _hostile().to_bytes()
    first, rest = data.split(b"\n", 1)
    manifest = replace(Manifest.from_line(first + b"\n"), consistency=0)
    assert manifest.body_sha256 == hashlib.sha256(rest).digest()
    report = _verify(manifest.to_line() + rest, _trusted())
    assert _found(report) == Counter([REFUSED]), report.to_text(width=200)


def test_the_reports_name_the_refused_line(tmp_path: Path) -> None:
    # What an auditor runs: `python -m verifier` exits 1; the human report and the JSON one
    # say which line was refused, that the manifest counts it against the format, and that
    # step 4 did not check it (the manifest's count is a second finding: before, only the line).
    bundle, trusted = tmp_path / "passport.bundle", tmp_path / "trusted.checkpoint"
    bundle.write_bytes(_hostile().to_bytes())
    trusted.write_bytes(_trusted())
    args = [str(bundle), "--log-key", LOG_VKEY, "--trusted-checkpoint", str(trusted)]
    human = _run([*args, "--jobs", "1"])
    assert human.returncode == 1, human.stderr
    lines = human.stdout.splitlines()
    assert any(line.startswith("1 ") and line.endswith(" 2 findings") for line in lines)
    assert any(line.startswith("4 ") and line.endswith(NOT_CARRIED) for line in lines)
    at = next(i for i, line in enumerate(lines) if "bundle.line" in line)
    assert lines[at].split() == ["1", "-", "bundle.line", *EXPECTED.split()]
    assert lines[at + 1].split() == ACTUAL.split()
    counted = next(i for i, line in enumerate(lines) if "bundle.consistency" in line)
    assert lines[counted].split() == ["1", "-", "bundle.consistency", *COUNT_EXPECTED.split()]
    assert lines[counted + 1].split() == COUNT_ACTUAL.split()
    assert lines[-1].startswith("INVALID: 2 findings (")
    machine = _run([*args, "--json", "--jobs", "1"])
    assert machine.returncode == 1, machine.stderr
    report = json.loads(machine.stdout)
    assert report["valid"] is False
    assert (report["scope"], report["subject"]) == (SCOPE_PASSPORT, SCARF)
    status = {step["step"]: step["status"] for step in report["steps"]}
    assert (status[1], status[4]) == ("2 findings", NOT_CARRIED)
    assert report["findings"] == [
        {
            "step": 1,
            "index": None,
            "rule": "bundle.consistency",
            "expected": COUNT_EXPECTED,
            "actual": COUNT_ACTUAL,
        },
        {"step": 1, "index": None, "rule": "bundle.line", "expected": EXPECTED, "actual": ACTUAL},
    ]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verifier", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
