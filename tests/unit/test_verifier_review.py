"""Holes found reviewing the verifier's changes of one day (verdict statements v2, the
tri-state signature result, ``_names``, proven entries): each test fails without its fix.

The bundles are edits of the checked-in passport vector (``valid_passport.bundle``), as an
attacker without the log key could make them. Pure: runs on a verifier-only install too.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from typing import Any

import pytest

import verifier.passports
from ledger.bundle import PassportRecord
from ledger.keys import PrivateKey
from tests.vectors.bundles.sealing import DATA, LOG_VKEY, OPERATOR, Bundle, read_bundle, seal
from tests.vectors.bundles.story import FILANDA, add_key, honest_story
from verifier import Report, verify_bundle
from verifier.entries import KeyCache, LineChecker, LineResult

SCARF = "/01/08000000001016/21/ORCIXS3356CPAJNMKYAQ"
ISSUE = 18  # the scarf's passport: version 1
MAISON_KEY_VALID = 15  # the brand's key is valid from here on (added at 14)


def _good() -> Bundle:
    return read_bundle(DATA / "valid_passport.bundle")


def _verify(bundle: Bundle) -> Report:
    return verify_bundle(io.BytesIO(bundle.to_bytes()), LOG_VKEY, jobs=1)


def _found(report: Report) -> set[tuple[int, str, int | None]]:
    return {(f.step, f.rule, f.index) for f in report.findings}


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

    built: list[Any] = []
    real = verifier.passports.build_passport

    def counting(facts: Any) -> Any:
        built.append(facts)
        return real(facts)

    monkeypatch.setattr(verifier.passports, "build_passport", counting)
    report = _verify(bundle)
    found = _found(report)
    assert len(built) == 2  # versions 1 and 2, the log's
    assert (10, "passport.version", None) in found  # versions 3 to 5: none in the log
    assert not {rule for _, rule, _ in found} & {"passport.build", "passport.field"}
    assert (6, "inclusion.proof", MAISON_KEY_VALID + 1) in found
    assert not report.valid


# -- remaining: the key cache learns keys the registry never holds ---------------------------


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
