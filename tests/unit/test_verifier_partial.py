"""Partial bundles: the new records, inclusion proofs (step 6) and passports rebuilt (step 10).

The bundles are the checked-in passport vector (``valid_passport.bundle``: one scarf's passport,
its entries with their proofs, the registry entries its signers depend on, two versions) and
edits of it made here. Pure: runs on a verifier-only install too.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.bundle import SCOPE_LEDGER, SCOPE_PASSPORT, Manifest, parse_record
from ledger.bundle_records import InclusionRecord, PassportRecord
from ledger.canonical import canonical_bytes
from ledger.errors import FormatError
from ledger.receipt import Violation
from tests.unit.verifier_support import verify_in_a_fresh_interpreter
from tests.vectors.bundles.sealing import DATA, LOG_VKEY, Bundle, checkpoint, read_bundle
from verifier import Report, verify_bundle
from verifier.passports import differences

SCARF = "/01/08000000001016/21/ORCIXS3356CPAJNMKYAQ"


def _good() -> Bundle:
    return read_bundle(DATA / "valid_passport.bundle")


def _verify(data: bytes, jobs: int = 1) -> Report:
    return verify_bundle(io.BytesIO(data), LOG_VKEY, jobs=jobs)


def _found(report: Report) -> set[tuple[int, str, int | None]]:
    return {(f.step, f.rule, f.index) for f in report.findings}


def _position(bundle: Bundle, index: int) -> int:
    return [e.index for e in bundle.entries].index(index)


def _resealed(data: bytes, drop: bytes) -> bytes:
    """``data`` without the body line ``drop``; the manifest's hash and counts updated."""
    first, *body = data.splitlines(keepends=True)
    body.remove(drop)
    rest = b"".join(body)
    manifest = Manifest.from_line(first)
    kind = parse_record(drop, number=2)
    resealed = replace(
        manifest,
        body_sha256=hashlib.sha256(rest).digest(),
        inclusion=manifest.inclusion - isinstance(kind, InclusionRecord),
        passports=manifest.passports - isinstance(kind, PassportRecord),
    )
    return resealed.to_line() + rest


# -- the format ------------------------------------------------------------------------------


def test_whole_ledger_manifest_keeps_exactly_its_members() -> None:
    line = (DATA / "valid.bundle").read_bytes().split(b"\n", 1)[0]
    assert set(json.loads(line)) == {
        "format", "v", "origin", "scope", "tree_size", "entries", "checkpoints",
        "consistency", "body_sha256",
    }  # fmt: skip
    manifest = Manifest.from_line(line + b"\n")
    assert (manifest.scope, manifest.partial, manifest.subject) == (SCOPE_LEDGER, False, None)


def test_partial_manifest_names_its_scope_subject_and_counts() -> None:
    line = (DATA / "valid_passport.bundle").read_bytes().split(b"\n", 1)[0] + b"\n"
    manifest = Manifest.from_line(line)
    assert (manifest.scope, manifest.subject) == (SCOPE_PASSPORT, SCARF)
    assert (manifest.entries, manifest.inclusion, manifest.passports) == (11, 11, 2)
    assert manifest.to_line() == line


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m | {"scope": "shard"}, "not supported"),
        (lambda m: m | {"scope": "ledger"}, "unknown member"),
        (lambda m: {k: v for k, v in m.items() if k != "subject"}, "subject"),
        (lambda m: m | {"subject": ""}, "subject"),
    ],
)
def test_manifest_with_a_wrong_scope_or_subject_is_refused(edit: object, message: str) -> None:
    line = (DATA / "valid_passport.bundle").read_bytes().split(b"\n", 1)[0]
    edited = edit(json.loads(line))  # type: ignore[operator]
    with pytest.raises(FormatError, match=message):
        Manifest.from_line(canonical_bytes(edited) + b"\n")


def test_inclusion_and_passport_records_round_trip_and_are_strict() -> None:
    proof = InclusionRecord(3, 20, (bytes(32), bytes([1]) * 32))
    assert parse_record(proof.to_line(), number=2) == proof
    passport = PassportRecord(SCARF, 2, b'{"a":1}')
    assert parse_record(passport.to_line(), number=2) == passport
    zero = passport.to_line().replace(b'"version":2', b'"version":0')
    with pytest.raises(FormatError, match="versions count from 1"):
        parse_record(zero, number=2)
    extra = proof.to_line().replace(b'"index"', b'"extra":1,"index"')
    with pytest.raises(FormatError, match="unknown member"):
        parse_record(extra, number=2)


# -- the verifier on a partial bundle --------------------------------------------------------


def test_honest_passport_bundle_is_valid_and_says_what_it_could_not_check() -> None:
    report = _verify(_good().to_bytes(), jobs=2)
    assert report.valid, report.to_text()
    steps = {s["step"]: s["status"] for s in report.to_json()["steps"]}
    assert steps[5] == "ok (partial bundle: chain and root checked through inclusion proofs)"
    assert steps[6] == steps[7] == steps[10] == "ok"
    assert steps[8] == "skipped: not applicable to a partial bundle"
    assert steps[9] == (
        "ok (partial bundle: verdicts checked against the log key's statement; rules not replayed)"
    )
    assert report.to_json()["scope"] == SCOPE_PASSPORT
    assert report.entries == report.signatures_checked == 11


def test_whole_ledger_bundle_has_no_inclusion_step_and_no_passport() -> None:
    report = _verify((DATA / "valid.bundle").read_bytes())
    steps = {s["step"]: s["status"] for s in report.to_json()["steps"]}
    assert steps[6].startswith("skipped")
    assert steps[10] == (
        "skipped: a whole-ledger bundle carries no passport documents: a passport's own bundle "
        "does (GET /v1/passports/{path}/bundle)"
    )
    assert "scope" not in report.to_json()


def test_entry_without_its_inclusion_proof_is_reported() -> None:
    good = _good()
    at = _position(good, 15)
    data = _resealed(good.to_bytes(), good.inclusion[at].to_line())
    assert _found(_verify(data)) == {(6, "inclusion.missing", 15)}


def test_proof_to_another_tree_size_is_reported() -> None:
    good = _good()
    proofs = list(good.inclusion)
    at = _position(good, 16)
    proofs[at] = replace(proofs[at], tree_size=19)
    assert (6, "inclusion.tree_size", 16) in _found(
        _verify(replace(good, inclusion=proofs).to_bytes())
    )


def test_entries_out_of_index_order_are_reported() -> None:
    good = _good()
    entries, proofs = list(good.entries), list(good.inclusion)
    a, b = _position(good, 15), _position(good, 16)
    entries[a], entries[b] = entries[b], entries[a]
    proofs[a], proofs[b] = proofs[b], proofs[a]
    found = _found(_verify(replace(good, entries=entries, inclusion=proofs).to_bytes()))
    assert (5, "entry.index", 15) in found


def test_bundle_without_a_signers_key_event_cannot_establish_its_key() -> None:
    good = _good()
    at = _position(good, 14)  # the operator adds maison's key
    bundle = replace(
        good,
        entries=[*good.entries[:at], *good.entries[at + 1 :]],
        inclusion=[*good.inclusion[:at], *good.inclusion[at + 1 :]],
    )
    found = _found(_verify(bundle.to_bytes()))
    assert {(7, "key.unknown", i) for i in (16, 17, 18, 19)} <= found


def test_adjacent_entries_still_have_their_chain_link_checked() -> None:
    good = _good()
    entries = list(good.entries)
    at = _position(good, 16)
    entries[at] = replace(entries[at], chain_hash=bytes(32))
    found = _found(_verify(replace(good, entries=entries).to_bytes()))
    assert (5, "entry.chain_hash", 16) in found


# -- step 10 ---------------------------------------------------------------------------------


def test_passport_citing_an_entry_the_ledger_did_not_apply_is_reported() -> None:
    good = _good()
    entries = list(good.entries)
    at = _position(good, 15)
    entries[at] = replace(entries[at], applied=False, violation=Violation("made.up", "no"))
    found = _found(_verify(replace(good, entries=entries).to_bytes()))
    assert (10, "passport.not_applied", 15) in found


def test_passport_of_another_subject_is_reported() -> None:
    good = _good()
    other = replace(good.passports[0], subject="/01/08000000001016/21/BMO2ZTDZWCAXFY2VIAFQ")
    found = _found(_verify(replace(good, passports=[other, good.passports[1]]).to_bytes()))
    assert (10, "passport.subject", None) in found


def test_passport_version_the_events_do_not_have_is_reported() -> None:
    good = _good()
    third = replace(good.passports[1], version=3)
    found = _found(_verify(replace(good, passports=[*good.passports, third]).to_bytes()))
    assert found == {(10, "passport.version", None)}


def test_passport_document_that_is_not_canonical_is_reported() -> None:
    good = _good()
    loose = replace(good.passports[0], document=b'{ "subject": 1 }')
    found = _found(_verify(replace(good, passports=[loose, good.passports[1]]).to_bytes()))
    assert found == {(10, "passport.document", None)}


def test_every_differing_json_path_is_named() -> None:
    want = {"a": {"b": [1, 2], "c/d": "x"}, "gone": True}
    got = {"a": {"b": [1, 3], "c/d": "y"}, "new": None}
    assert sorted(differences(want, got)) == sorted(
        [
            ("/a/b/1", 2, 3),
            ("/a/c~1d", "x", "y"),
            ("/gone", True, differences.__globals__["_ABSENT"]),
            ("/new", differences.__globals__["_ABSENT"], None),
        ]
    )
    assert list(differences([1], [1, 2])) == [("/", [1], [1, 2])]
    assert list(differences(1, True)) == [("/", 1, True)]


def test_checking_passports_imports_no_page_renderer_and_no_service(tmp_path: Path) -> None:
    output = verify_in_a_fresh_interpreter(
        [str(DATA / "valid_passport.bundle"), "--log-key", LOG_VKEY, "--jobs", "1"],
        banned=("sqlalchemy", "fastapi", "psycopg", "httpx", "starlette", "jinja2", "api"),
        banned_modules=("passports.page", "passports.qr"),
    )
    assert "passports rebuilt from the events" in output


def test_trusted_checkpoint_is_checked_against_the_head_only_at_its_own_size() -> None:
    good = _good()
    data = good.to_bytes()
    same = verify_bundle(io.BytesIO(data), LOG_VKEY, trusted_checkpoint=good.head, jobs=1)
    assert same.valid and same.step_status(4) == "ok"
    leaves = [bytes([i]) * 32 for i in range(25)]
    other = verify_bundle(
        io.BytesIO(data), LOG_VKEY, trusted_checkpoint=checkpoint(leaves, 20), jobs=1
    )
    assert _found(other) == {(4, "consistency.trusted_root", None)}
    earlier = verify_bundle(
        io.BytesIO(data), LOG_VKEY, trusted_checkpoint=checkpoint(leaves, 5), jobs=1
    )
    assert earlier.valid
    assert earlier.step_status(4) == "skipped: a partial bundle carries no consistency proof"
    # A head older than what the auditor trusts shows the log as it was before (a passport
    # before a resale, a key before its revocation): reported, as for a whole ledger.
    later = verify_bundle(
        io.BytesIO(data), LOG_VKEY, trusted_checkpoint=checkpoint(leaves, 25), jobs=1
    )
    assert _found(later) == {(4, "consistency.trusted_size", None)}
