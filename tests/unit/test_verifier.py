"""The verifier's steps on bundles built in memory: findings, bounds, exit statuses."""

from __future__ import annotations

import argparse
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.bundle import MAX_LINE_BYTES, parse_record
from ledger.errors import FormatError
from ledger.hashing import leaf_hash
from ledger.keys import PrivateKey
from ledger.note import vkey
from ledger.receipt import Violation
from ledger.registry import KeyRecord
from ledger.replay import Replay, ReplayError
from spola.cli import build_parser
from tests.unit.verifier_support import verify_in_a_fresh_interpreter
from tests.vectors.bundles.sealing import (
    DATA,
    LOG_VKEY,
    OPERATOR,
    ORIGIN,
    Bundle,
    checkpoint,
    envelopes,
    read_bundle,
    seal,
)
from verifier import Report, UnusableInputError, verify_bundle
from verifier.cli import add_arguments, main


def _good() -> Bundle:
    return read_bundle(DATA / "valid.bundle")


def _verify(data: bytes, **options: object) -> Report:
    return verify_bundle(io.BytesIO(data), LOG_VKEY, **options)  # type: ignore[arg-type]


def _rules(report: Report) -> set[str]:
    return {f.rule for f in report.findings}


def test_honest_bundle_is_valid_on_one_thread_and_many() -> None:
    data = _good().to_bytes()
    for jobs in (1, 4):
        report = _verify(data, jobs=jobs)
        assert report.valid, report.to_text()
        assert report.signatures_checked == report.entries == 13


def test_every_finding_is_listed_not_only_the_first() -> None:
    good = _good()
    entries = list(good.entries)
    entries[3] = replace(entries[3], applied=False, violation=Violation("made.up", "no"))
    entries[10] = replace(entries[10], chain_hash=bytes(32))
    report = _verify(replace(good, entries=entries).to_bytes())
    assert {(f.step, f.index) for f in report.findings} >= {(9, 3), (5, 10)}


def test_verdict_hidden_by_the_ledger_is_a_disagreement() -> None:
    bundle = seal(envelopes(_good()), {7: Violation("custody.not_holder", "invented")})
    report = _verify(bundle.to_bytes())
    assert [(f.step, f.index, f.rule) for f in report.findings] == [(9, 7, "custody.not_holder")]
    assert report.findings[0].expected == "replay: applied"


def test_edited_body_breaks_the_manifest_hash() -> None:
    first, body = _good().to_bytes().split(b"\n", 1)
    edited = body.replace(b'"index":1,', b'"index":2,', 1)
    report = _verify(first + b"\n" + edited)
    assert "bundle.body_sha256" in _rules(report)


def test_trusted_checkpoint_of_another_history_is_a_fork() -> None:
    good = _good()
    other = seal(envelopes(_good())[:5])  # same operator, a different tree at size 5
    leaves = [leaf_hash(r.entry) for r in other.entries]
    forked = checkpoint([*leaves[:4], leaf_hash(b"another entry")], 5)
    report = _verify(good.to_bytes(), trusted_checkpoint=forked)
    assert [(f.step, f.rule) for f in report.findings] == [(4, "consistency.trusted_root")]
    honest = checkpoint([leaf_hash(r.entry) for r in good.entries], 5)
    assert _verify(good.to_bytes(), trusted_checkpoint=honest).valid


def test_trusted_checkpoint_beyond_the_bundle_is_reported() -> None:
    good = _good()
    leaves = [leaf_hash(r.entry) for r in good.entries]
    later = checkpoint([*leaves, leaf_hash(b"x")], len(leaves) + 1)
    report = _verify(good.to_bytes(), trusted_checkpoint=later)
    assert "consistency.trusted_size" in _rules(report)


def test_trusted_checkpoint_by_another_key_is_unusable_input() -> None:
    good = _good()
    impostor = PrivateKey.from_seed(bytes(range(32)))
    leaves = [leaf_hash(r.entry) for r in good.entries]
    with pytest.raises(UnusableInputError):
        _verify(good.to_bytes(), trusted_checkpoint=checkpoint(leaves, 3, impostor))


@pytest.mark.parametrize(
    "data",
    [b"", b"hello\n", b'{"format":"spola-bundle","v":2}\n', b"{" * 5000 + b"\n"],
    ids=["empty", "text", "version", "oversize-manifest"],
)
def test_unreadable_manifest_is_unusable_input(data: bytes) -> None:
    with pytest.raises(UnusableInputError):
        _verify(data)


def test_malformed_log_key_is_unusable_input() -> None:
    with pytest.raises(UnusableInputError):
        verify_bundle(io.BytesIO(_good().to_bytes()), "not a key")


def test_log_key_of_another_log_is_a_finding() -> None:
    other = vkey("elsewhere.example/log", OPERATOR.public_key.raw)
    report = verify_bundle(io.BytesIO(_good().to_bytes()), other)
    assert "log_key.origin" in _rules(report)


def test_overlong_line_stops_reading_within_bounds() -> None:
    data = _good().to_bytes() + b"x" * (MAX_LINE_BYTES + 10) + b"\n"
    report = _verify(data)
    assert "bundle.line" in _rules(report)


def test_records_parse_strictly() -> None:
    with pytest.raises(FormatError):
        parse_record(b'{"kind":"entry"}\n', number=2)
    with pytest.raises(FormatError):
        parse_record(b'{"kind":"mystery"}\n', number=2)
    with pytest.raises(FormatError):  # not RFC 8785: members out of order
        parse_record(b'{"role":"head","kind":"checkpoint","note":"x"}\n', number=2)


def test_replay_feed_still_raises_and_check_continues() -> None:
    story = envelopes(_good())
    log_key = KeyRecord(
        OPERATOR.public_key.key_id, OPERATOR.public_key.raw, "urn:spola:actor:operator", 0
    )
    raising = Replay(log_key)
    raising.feed(story[0].to_bytes())
    with pytest.raises(ReplayError):
        raising.feed(story[2].to_bytes())  # a key event out of the operator's feed order
    checking = Replay(log_key)
    checking.check(story[0].to_bytes())
    refusal = checking.check(story[2].to_bytes())
    assert isinstance(refusal, ReplayError)
    assert refusal.index == 1
    assert checking.size == 2  # the refused entry kept its index
    assert checking.check(story[1].to_bytes()) is None  # and the feed did not move


def test_a_replay_without_history_keeps_the_rules_state_and_nothing_per_entry() -> None:
    story = [envelope.to_bytes() for envelope in envelopes(_good())]
    log_key = KeyRecord(
        OPERATOR.public_key.key_id, OPERATOR.public_key.raw, "urn:spola:actor:operator", 0
    )
    full, lean = Replay(log_key), Replay(log_key, history=False)
    assert [full.check(entry) for entry in story] == [lean.check(entry) for entry in story]
    assert full.projection.custody and full.projection.provenance and full.verdicts
    assert (lean.projection.custody, lean.projection.provenance, lean.verdicts) == ([], [], [])
    assert lean.size == full.size == len(story)
    for state in ("lots", "balances", "items", "handovers", "passports"):
        assert getattr(lean.projection, state) == getattr(full.projection, state), state
    assert lean.registry == full.registry and lean.feeds == full.feeds


def test_cli_exit_statuses_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.bundle"
    good.write_bytes(_good().to_bytes())
    key_file = tmp_path / "log.vkey"
    key_file.write_text(LOG_VKEY + "\n")
    assert main([str(good), "--log-key", str(key_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["valid"] is True
    bad = tmp_path / "bad.bundle"
    bad.write_bytes(_good().to_bytes().replace(b'"index":12', b'"index":13'))
    assert main([str(bad), "--log-key", LOG_VKEY, "--json"]) == 1
    finding = json.loads(capsys.readouterr().out)["findings"][0]
    assert set(finding) == {"step", "index", "rule", "expected", "actual"}
    assert main([str(tmp_path / "missing.bundle"), "--log-key", LOG_VKEY]) == 2
    assert main([str(good), "--log-key", str(tmp_path / "missing.vkey")]) == 2


def test_python_m_verifier_never_imports_the_service_stack(tmp_path: Path) -> None:
    bundle = tmp_path / "good.bundle"
    bundle.write_bytes(_good().to_bytes())
    output = verify_in_a_fresh_interpreter([str(bundle), "--log-key", LOG_VKEY])
    assert ORIGIN in output


def test_spola_verify_takes_the_same_options_as_python_m_verifier() -> None:
    # spola's parser also builds the workshop terminal's commands, which import httpx: absent
    # from a verifier-only install (make verifier-install-check), where python -m verifier runs.
    pytest.importorskip("httpx", reason="the terminal extra is not installed")
    spola = build_parser().parse_args(["verify", "b", "--log-key", "k", "--json", "--jobs", "3"])
    own = argparse.ArgumentParser()
    add_arguments(own)
    mine = own.parse_args(["b", "--log-key", "k", "--json", "--jobs", "3"])
    assert {k: v for k, v in vars(spola).items() if k not in ("command", "func")} == vars(mine)
