"""Bundles an attacker without the log key could make: each must be invalid, and cheap to check.

The attacker may edit any byte of a bundle and re-seal its manifest (``body_sha256`` and the
counts are no secret), and may copy validly signed entries of the log anywhere; what it cannot
do is sign a checkpoint or a verdict statement. The bundles are edits of the checked-in passport
vector (``valid_passport.bundle``), but for the key cache's (the vectors' honest story, with
key adds an actor signed). Pure: runs on a verifier-only install too.

Chain hashes and the scope and subject are bound by the log key's verdict statement
(``ledger.verdicts``): an attacker who edits them cannot re-sign it.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from typing import Any

import pytest

import verifier.passports
import verifier.steps
from ledger.bundle import SCOPE_ACTOR, SCOPE_ITEM
from ledger.bundle_records import PassportRecord
from ledger.keys import PrivateKey
from tests.supply import material
from tests.vectors.bundles.sealing import (
    DATA,
    LOG_VKEY,
    OPERATOR,
    Bundle,
    read_bundle,
    seal,
    sign_bundle_verdicts,
)
from tests.vectors.bundles.story import add_key, honest_story
from verifier import Report, verify_bundle
from verifier.entries import KeyCache, LineChecker, LineResult

SCARF = "/01/08000000001016/21/ORCIXS3356CPAJNMKYAQ"
LOT_C = "urn:spola:lot:filanda:C"
FILANDA = "urn:spola:actor:filanda"
SALE = 19  # the scarf's sale: the entry that makes version 2 of its passport
ISSUE = 18  # the scarf's passport: version 1
MAISON_KEY_VALID = 15  # the brand's key is valid from here on (added at 14)


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


def _count_builds(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The facts of every passport build step 10 runs, from now on."""
    built: list[Any] = []
    real = verifier.passports.build_passport

    def counting(facts: Any) -> Any:
        built.append(facts)
        return real(facts)

    monkeypatch.setattr(verifier.passports, "build_passport", counting)
    return built


@pytest.mark.parametrize("proofs", [True, False], ids=["failing-proofs", "no-proofs"])
def test_copies_of_a_sale_the_log_does_not_hold_make_no_versions_to_build(
    monkeypatch: pytest.MonkeyPatch, proofs: bool
) -> None:
    # Each copy made a version, and each version's record a build over all the copies before
    # it: quadratic in the file (a thousand copies, a megabyte, took half a minute).
    built = _count_builds(monkeypatch)
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


# -- step 10: proven is by index; another entry at a proven index must not make a version --


def test_copies_of_the_issue_at_indexes_other_entries_proved_make_no_versions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The passport's issue copied after the head's last entry, relabelled with the indexes of
    # entries 15, 16 and 17 (whose proofs verified, so their indexes are "proven"), each
    # followed by that entry's proof (which fails for the copy). Step 10 took each copy's
    # event as the version of a proved index: three versions the log does not hold, each a
    # build over the copies before it (the cost a8a36ab meant to remove).
    good = _good()
    issue = next(e for e in good.entries if e.index == ISSUE)
    proofs = {p.index: p for p in good.inclusion}
    entries, inclusion = list(good.entries), list(good.inclusion)
    copied = [MAISON_KEY_VALID, MAISON_KEY_VALID + 1, MAISON_KEY_VALID + 2]
    for index in copied:
        entries.append(replace(issue, index=index))
        inclusion.append(proofs[index])
    records = [PassportRecord(SCARF, v, b"{}") for v in range(3, 3 + len(copied))]
    bundle = replace(
        good, entries=entries, inclusion=inclusion, passports=[*good.passports, *records]
    )

    built = _count_builds(monkeypatch)
    report = _verify(bundle)
    found = _found(report)
    assert len(built) == 2  # versions 1 and 2, the log's
    assert (10, "passport.version", None) in found  # versions 3 to 5: none in the log
    assert not {rule for _, rule, _ in found} & {"passport.build", "passport.field"}
    assert (6, "inclusion.proof", MAISON_KEY_VALID + 1) in found
    assert not report.valid


# -- the key cache: keys the registry never holds, learnt within a bound ---------------------


def test_key_adds_signed_by_an_actor_cannot_grow_the_key_cache_past_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One actor's key signs key adds the registry refuses (a key add is the operator's); their
    # signatures verify, so the cache learns their keys: without a bound it grew with the file.
    story = honest_story()  # the log key and three actors' keys
    for i in range(50):
        new = PrivateKey.from_seed(hashlib.sha256(b"junk %d" % i).digest())
        story.sign(FILANDA, add_key(FILANDA, new))
    data = seal(story.envelopes).to_bytes()
    unbounded = verify_bundle(io.BytesIO(data), LOG_VKEY, jobs=1)
    monkeypatch.setattr(KeyCache, "MAX_KEYS", 6)
    taken: list[LineResult] = []
    checker = LineChecker(1, OPERATOR.public_key.raw, taken.extend)
    checker.submit([record.to_line() for record in seal(story.envelopes).entries], 2)
    assert len(checker.known.raw) == len(checker.known.by_id) == 6
    for jobs in (1, 2):
        bounded = verify_bundle(io.BytesIO(data), LOG_VKEY, jobs=jobs)
        assert (bounded.findings, bounded.valid) == (unbounded.findings, unbounded.valid)


def test_an_event_signed_with_another_actors_key_is_named_as_such() -> None:
    # The filanda's key signs an event that claims to be the tintoria's: the signature verifies,
    # the key is registered, its feed continues; only the key's owner is wrong.
    story = honest_story()
    filanda = story.terminals[FILANDA]
    filanda.actor = "urn:spola:actor:tintoria"
    story.sign(FILANDA, material("urn:spola:lot:tintoria:X", "5"))
    impostor = len(story.envelopes) - 1
    report = _verify(seal(story.envelopes))
    assert not report.valid
    (finding,) = [f for f in report.findings if f.index == impostor]
    assert (finding.step, finding.rule) == (7, "signature.attribution")
    assert finding.expected == "the event's actor owns the signing key"
