"""Bundles an attacker without the log key could make: each must be invalid, and cheap to check.

The attacker may edit any byte of a bundle and re-seal its manifest (``body_sha256`` and the
counts are no secret), and may copy validly signed entries of the log anywhere; what it cannot
do is sign a checkpoint or a verdict statement. The bundles are edits of the checked-in passport
vector (``valid_passport.bundle``). Pure: runs on a verifier-only install too.

Chain hashes and the scope and subject are bound by the log key's verdict statement
(``ledger.verdicts``): an attacker who edits them cannot re-sign it.
"""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import pytest

import verifier.passports
import verifier.steps
from ledger.bundle import SCOPE_ACTOR, SCOPE_ITEM, PassportRecord
from tests.vectors.bundles.sealing import (
    DATA,
    LOG_VKEY,
    Bundle,
    read_bundle,
    sign_bundle_verdicts,
)
from verifier import Report, verify_bundle

SCARF = "/01/08000000001016/21/ORCIXS3356CPAJNMKYAQ"
LOT_C = "urn:spola:lot:filanda:C"
FILANDA = "urn:spola:actor:filanda"
SALE = 19  # the scarf's sale: the entry that makes version 2 of its passport


def _good() -> Bundle:
    return read_bundle(DATA / "valid_passport.bundle")


def _verify(bundle: Bundle) -> Report:
    return verify_bundle(io.BytesIO(bundle.to_bytes()), LOG_VKEY, jobs=1)


def _found(report: Report) -> set[tuple[int, str, int | None]]:
    return {(f.step, f.rule, f.index) for f in report.findings}


# -- the subject a partial bundle names ------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        SCARF[:-1],  # another item, whose serial the scarf's begins with
        LOT_C[:-2],  # a prefix of lot C's URN
        "type",  # a member name of every payload, named by no value
    ],
)
def test_an_item_bundle_whose_subject_no_entry_names_whole_is_reported(subject: str) -> None:
    # The scarf's entries relabelled as the history of another item: no entry names it, only
    # a longer string (or a member's name) begins with it. Named whole, the scarf's is valid.
    good = _good()
    verdicts = sign_bundle_verdicts(good.head, good.entries, SCOPE_ITEM, SCARF)  # the log's
    named = replace(good, scope=SCOPE_ITEM, subject=SCARF, passports=[], verdicts=verdicts)
    assert _verify(named).valid
    relabelled = replace(named, subject=subject)
    assert (5, "entry.subject", None) in _found(_verify(relabelled))


# -- step 10: versions made by entries the log does not hold --------------------------------


def _copies_of_the_sale(copies: int, *, proofs: bool) -> Bundle:
    """The sale copied after the head (each copy a version of its own, were it the log's),
    with the sale's proof relabelled (it fails) or none; a record for every such version."""
    good = _good()
    sale = next(e for e in good.entries if e.index == SALE)
    proof = next(p for p in good.inclusion if p.index == SALE)
    entries, inclusion = list(good.entries), list(good.inclusion)
    for index in range(SALE + 1, SALE + 1 + copies):
        entries.append(replace(sale, index=index))
        if proofs:
            inclusion.append(replace(proof, index=index))
    records = [PassportRecord(SCARF, v, b"{}") for v in range(3, 3 + copies)]
    return replace(
        good, entries=entries, inclusion=inclusion, passports=[*good.passports, *records]
    )


@pytest.mark.parametrize("proofs", [True, False], ids=["failing-proofs", "no-proofs"])
def test_copies_of_a_sale_the_log_does_not_hold_make_no_versions_to_build(
    monkeypatch: pytest.MonkeyPatch, proofs: bool
) -> None:
    # Each copy made a version, and each version's record a build over all the copies before
    # it: quadratic in the file (a thousand copies, a megabyte, took half a minute).
    built: list[Any] = []
    real = verifier.passports.build_passport

    def counting(facts: Any) -> Any:
        built.append(facts)
        return real(facts)

    monkeypatch.setattr(verifier.passports, "build_passport", counting)
    report = _verify(_copies_of_the_sale(40, proofs=proofs))
    found = _found(report)
    assert len(built) == 2  # versions 1 and 2, the log's
    missing = "inclusion.missing" if not proofs else "inclusion.proof"
    assert (6, missing, SALE + 1) in found
    assert (10, "passport.version", None) in found
    assert not report.valid


# -- holes that need a fix outside verifier/ -------------------------------------------------


def test_a_chain_hash_rewritten_where_no_neighbour_checks_it_is_reported() -> None:
    good = _good()
    # Entry 11 (lot C's material): neither 10 nor 12 is in the bundle, so no link checks it.
    rewritten = [replace(e, chain_hash=bytes(32)) if e.index == 11 else e for e in good.entries]
    assert _found(_verify(replace(good, entries=rewritten))) == {(9, "verdicts.digest", None)}


def test_a_passport_bundle_relabelled_as_an_actors_whole_history_is_reported() -> None:
    # Filanda signed entries 7 and 8 too (lot A, its handover): the scarf's bundle holds only
    # its lot C entries (11, 15), yet reads as "every entry filanda signed".
    relabelled = replace(_good(), scope=SCOPE_ACTOR, subject=FILANDA, passports=[])
    assert _found(_verify(relabelled)) == {(3, "verdicts.subject", None)}


def test_passport_records_with_empty_documents_count_against_the_held_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = _good()
    held = sum(len(p.document) for p in good.passports)
    monkeypatch.setattr(verifier.steps, "MAX_PASSPORT_BYTES", held + 1024)
    empty = [PassportRecord(SCARF, 1, b"") for _ in range(1000)]
    report = _verify(replace(good, passports=[*good.passports, *empty]))
    assert (1, "bundle.passports", None) in _found(report)
