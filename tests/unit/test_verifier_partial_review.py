"""Hostile partial bundles, each pinned to exactly the findings it gives (step, rule, index).

Most bundles are the passport vector (``valid_passport.bundle``: entries 0, 1, 2, 11, 13 … 19
of a log of 20, each followed by its inclusion proof) with its entry and proof lines
rearranged, repeated, relabelled or left out, or with records its scope does not carry; the
manifest's counts and hash are made to match the lines, as anyone can, and the verdict
statement is the log key's over the entries as they stand, as the log key holder (who is not
trusted to keep the rules) could publish it. The others are partial bundles of the vectors'
stories with an entry the sequencer would have refused, published as applied. Each test
asserts every finding, so that a check whose finding is gone, or one that says more than what
is wrong, fails it.

Pure: only the core, the verifier and the vectors' pure helpers, so the verifier-only install
runs it too.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

import pytest

import verifier.passports
from ledger.bundle import SCOPE_ACTOR, SCOPE_ITEM, SCOPE_PASSPORT, Manifest
from ledger.bundle_records import (
    ROLE_HEAD,
    CheckpointRecord,
    ConsistencyRecord,
    EntryRecord,
    InclusionRecord,
    PassportRecord,
    VerdictsRecord,
)
from ledger.canonical import canonical_bytes
from ledger.errors import FormatError
from ledger.hashing import leaf_hash
from ledger.keys import PrivateKey
from ledger.merkle import consistency_proof, inclusion_proof
from tests.supply import material
from tests.terminal import Terminal
from tests.unit.test_assessment_versions import NEXT, forget_models, moved_on_model, use_model
from tests.vectors.bundles.sealing import (
    DATA,
    LOG_VKEY,
    ORIGIN,
    Bundle,
    partial,
    read_bundle,
    seal,
    sign_bundle_verdicts,
)
from tests.vectors.bundles.story import FILANDA, SCARF, add_key, honest_story, passport_story
from verifier import Report, UnusableInputError, verify_bundle

Found = Counter[tuple[int, str, int | None]]
Line = EntryRecord | InclusionRecord | bytes  # bytes: a line as written, read as no record

TREE: Final = 20  # the head checkpoint's size
MAISON_KEY: Final = 14  # the operator adds the brand's key: valid from 15
ISSUE: Final = 18  # the scarf's passport: version 1
SALE: Final = 19  # the scarf's sale: version 2
BEYOND: Final = 1_000_000  # an index far past the head


def _good() -> Bundle:
    return read_bundle(DATA / "valid_passport.bundle")


def _entry(index: int) -> EntryRecord:
    return next(e for e in _good().entries if e.index == index)


def _proof(index: int) -> InclusionRecord:
    return next(p for p in _good().inclusion if p.index == index)


def _both(index: int) -> list[Line]:
    """Entry ``index`` and its proof, as the exporter writes them."""
    return [_entry(index), _proof(index)]


def _honest(*but: int) -> list[Line]:
    """The vector's entry and proof lines, in order, but for the entries ``but``."""
    lines: list[Line] = []
    for entry in _good().entries:
        if entry.index not in but:
            lines += _both(entry.index)
    return lines


def _bundle(
    lines: Sequence[Line],
    *,
    scope: str = SCOPE_PASSPORT,
    subject: str = SCARF,
    passports: Sequence[PassportRecord] | None = None,
    header: Sequence[bytes] = (),
    consistency: int | None = None,
) -> bytes:
    """A partial bundle of ``lines`` (entries, proofs and lines as written, in this order), the
    log key's statement of its entries' verdicts, the vector's passport records (for a
    passport bundle, unless ``passports``), ``header`` lines after the statement; the manifest
    counts the lines (its consistency count ``consistency`` if given)."""
    good = _good()
    entries = [line for line in lines if isinstance(line, EntryRecord)]
    proofs = [line for line in lines if isinstance(line, InclusionRecord)]
    if passports is None:
        passports = good.passports if scope == SCOPE_PASSPORT else []
    statement = sign_bundle_verdicts(good.head, entries, scope, subject)
    body = [
        CheckpointRecord(ROLE_HEAD, good.head).to_line(),
        VerdictsRecord(statement).to_line(),
        *header,
        *(p.to_line() for p in passports),
        *(line if isinstance(line, bytes) else line.to_line() for line in lines),
    ]
    data = b"".join(body)
    counted = sum(b'"kind":"consistency"' in line for line in header)
    manifest = Manifest(
        origin=ORIGIN,
        scope=scope,
        tree_size=TREE,
        entries=len(entries),
        checkpoints=1,
        consistency=counted if consistency is None else consistency,
        body_sha256=hashlib.sha256(data).digest(),
        subject=subject,
        inclusion=len(proofs),
        passports=len(passports),
    )
    return manifest.to_line() + data


def _verify(data: bytes, jobs: int = 1) -> Report:
    return verify_bundle(io.BytesIO(data), LOG_VKEY, jobs=jobs)


def _found(report: Report) -> Found:
    return Counter((f.step, f.rule, f.index) for f in report.findings)


def _invalid_with(data: bytes, *want: tuple[int, str, int | None]) -> Report:
    report = _verify(data)
    assert not report.valid
    assert _found(report) == Counter(want), report.to_text(width=200)
    return report


def _count_builds(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The facts of every passport build step 10 runs, from now on."""
    built: list[Any] = []
    real = verifier.passports.build_passport

    def counting(facts: Any) -> Any:
        built.append(facts)
        return real(facts)

    monkeypatch.setattr(verifier.passports, "build_passport", counting)
    return built


def _whole_leaves() -> list[bytes]:
    whole = seal(passport_story().envelopes)
    assert whole.head == _good().head, "the passport vector is cut from passport_story's log"
    return [leaf_hash(e.entry) for e in whole.entries]


def test_the_bundle_the_hostile_ones_are_made_from_is_valid() -> None:
    # Without this, a finding below could come from the base, not from the edit.
    for scope, subject in ((SCOPE_PASSPORT, SCARF), (SCOPE_ITEM, SCARF), (SCOPE_ACTOR, FILANDA)):
        for jobs in (1, 2):
            report = _verify(_bundle(_honest(), scope=scope, subject=subject), jobs)
            assert report.valid, report.to_text(width=200)


# -- the manifest ------------------------------------------------------------------------


def _manifest_edited(**members: object) -> bytes:
    first = _bundle(_honest()).split(b"\n", 1)[0]
    edited = json.loads(first) | members
    return canonical_bytes({k: v for k, v in edited.items() if v is not None}) + b"\n"


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"format": "spola-bundles"}, "not a spola-bundle file"),
        ({"v": 2}, "version 2 is not 1"),
        ({"v": True}, "version True is not 1"),
        ({"body_sha256": "AB" * 32}, "body_sha256 must be 64 lowercase hex digits"),
        ({"scope": "ledger"}, "unknown member 'inclusion'"),  # partial members, whole scope
        ({"extra": 1}, "unknown member 'extra'"),
        ({"subject": "x" * 201}, "subject must be 1 to 200 characters"),
        ({"inclusion": None}, "'inclusion' must be a int"),
        ({"passports": -1}, "'passports' must be a uint64"),
    ],
)
def test_a_manifest_the_format_does_not_allow_is_unusable_input(
    members: dict[str, object], message: str
) -> None:
    line = _manifest_edited(**members)
    with pytest.raises(FormatError, match=re.escape(message)):
        Manifest.from_line(line)
    rest = _bundle(_honest()).split(b"\n", 1)[1]
    with pytest.raises(UnusableInputError, match=re.escape(message)):
        _verify(line + rest)


# -- records a partial bundle's scope does not carry -----------------------------------------


@pytest.mark.parametrize(("scope", "subject"), [(SCOPE_ITEM, SCARF), (SCOPE_ACTOR, FILANDA)])
def test_passport_records_in_an_item_or_actor_bundle_are_refused(scope: str, subject: str) -> None:
    # Only a passport bundle carries passport records, and the exporter writes none in another.
    # An item bundle carrying the scarf's two versions, its manifest counting them, was VALID;
    # an actor's gave two step 10 findings about the records' subject, as if the records were
    # the bundle's to carry and merely of the wrong item. Refused as a whole ledger refuses
    # them: once, with their number, and not checked.
    data = _bundle(_honest(), scope=scope, subject=subject, passports=_good().passports)
    report = _invalid_with(data, (1, "bundle.line", None))
    (finding,) = report.findings
    assert (finding.expected, finding.actual) == (
        "no passport record",
        f"2 lines in an {scope} bundle",
    )
    assert report.step_status(10) == (
        f"skipped: an {scope} bundle carries no passport documents: a passport's own bundle "
        "does (GET /v1/passports/{path}/bundle)"
    )


def test_passport_records_the_manifest_does_not_count_are_refused_and_counted() -> None:
    data = _bundle(_honest(), scope=SCOPE_ITEM, passports=_good().passports[:1])
    first, rest = data.split(b"\n", 1)
    manifest = replace(Manifest.from_line(first + b"\n"), passports=0)
    report = _invalid_with(
        manifest.to_line() + rest, (1, "bundle.line", None), (1, "bundle.passports", None)
    )
    texts = {f.rule: (f.expected, f.actual) for f in report.findings}
    assert texts["bundle.line"] == ("no passport record", "1 line in an item bundle")
    assert texts["bundle.passports"] == ("0 in the manifest", "1 lines")


COUNT_REFUSED: Final = ("0: a partial bundle carries no consistency proof", "1 in the manifest")


def test_a_partial_manifest_counting_a_consistency_proof_it_lacks_names_the_count() -> None:
    # The format fixes a partial manifest's consistency count at 0: any other is reported in
    # step 1, naming the field and the format's rule. (It was compared with the lines instead,
    # "1 in the manifest" against "0 lines", as if a line would have made it right.)
    report = _invalid_with(_bundle(_honest(), consistency=1), (1, "bundle.consistency", None))
    (finding,) = report.findings
    assert (finding.expected, finding.actual) == COUNT_REFUSED


def test_a_counted_consistency_proof_in_a_partial_bundle_is_refused_in_step_1() -> None:
    # A correct proof, from a checkpoint of the same log: the record is refused, not checked,
    # and so is the manifest's count of it (which the line bore out before, so that only the
    # line was reported: the manifest breaks the format as much as the line does).
    leaves = _whole_leaves()
    proof = ConsistencyRecord(13, TREE, tuple(consistency_proof(leaves, 13))).to_line()
    report = _invalid_with(
        _bundle(_honest(), header=[proof]),
        (1, "bundle.line", None),
        (1, "bundle.consistency", None),
    )
    counted = next(f for f in report.findings if f.rule == "bundle.consistency")
    assert (counted.expected, counted.actual) == COUNT_REFUSED
    assert report.step_status(4) == "skipped: no trusted checkpoint given"


def test_an_uncounted_consistency_proof_in_a_partial_bundle_is_refused_once() -> None:
    # The manifest's 0, as the format fixes it, and a consistency line: the line alone is
    # reported; the count is not compared with the lines.
    leaves = _whole_leaves()
    proof = ConsistencyRecord(13, TREE, tuple(consistency_proof(leaves, 13))).to_line()
    _invalid_with(_bundle(_honest(), header=[proof], consistency=0), (1, "bundle.line", None))


# -- (5) and (6): the order of entries and proofs --------------------------------------------


def test_entries_out_of_order_are_each_reported_and_make_no_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The sale moved before the brand's entries 15 to 18, each line with its own (valid)
    # proof: every entry after the sale is below it, so none of them counts for step 10, and
    # each is reported in step 5. Before, only the first (15) was: 16 to 18, in the bundle
    # with proofs that verify, were left out of step 10 without a word, which then said the
    # passport cites entries the bundle does not carry.
    built = _count_builds(monkeypatch)
    lines = [*_honest(15, 16, 17, ISSUE, SALE), *_both(SALE)]
    lines += [*_both(15), *_both(16), *_both(17), *_both(ISSUE)]
    out_of_order = [(5, "entry.index", i) for i in (15, 16, 17, ISSUE)]
    cited = [(10, "passport.entry_missing", i) for i in (15, 16, 17, ISSUE)]
    _invalid_with(
        _bundle(lines), *out_of_order, *cited, *cited, *[(10, "passport.version", None)] * 2
    )
    assert built == []  # no version is made by entries in the wrong order


def test_an_entry_past_the_tree_size_is_reported_alone() -> None:
    # A copy of the sale at an index far past the head, its proof relabelled, before the sale
    # itself. Before, it made every later entry "out of order" (the sale too), and step 10
    # then found no sale: three findings for one line.
    lines = [*_honest(SALE), replace(_entry(SALE), index=BEYOND)]
    lines += [replace(_proof(SALE), index=BEYOND), *_both(SALE)]
    _invalid_with(_bundle(lines), (5, "entry.index", BEYOND), (6, "inclusion.proof", BEYOND))


def test_an_entry_at_the_tree_size_is_reported() -> None:
    # The first index past the head: in no tree of its size.
    lines = [*_honest(), replace(_entry(SALE), index=TREE), replace(_proof(SALE), index=TREE)]
    _invalid_with(
        _bundle(lines),
        (5, "entry.index", TREE),
        (5, "entry.chain_hash", TREE),  # it follows entry 19, with 19's chain hash
        (6, "inclusion.proof", TREE),
    )


@pytest.mark.parametrize("size", [15, 25])
def test_a_manifest_tree_size_other_than_the_heads_is_one_finding(size: int) -> None:
    # The manifest is nobody's signature: the head checkpoint's size bounds the indexes. With
    # the manifest's 15, entries 15 to 19 were each "past the tree size", and step 10 then
    # missed them all: fourteen findings for one edited number.
    data = _bundle(_honest())
    first, rest = data.split(b"\n", 1)
    manifest = replace(Manifest.from_line(first + b"\n"), tree_size=size)
    _invalid_with(manifest.to_line() + rest, (3, "checkpoint.tree_size", None))


def test_an_entry_given_twice_is_reported_once() -> None:
    lines = [*_honest(), *_both(SALE)]
    _invalid_with(_bundle(lines), (5, "entry.index", SALE))


def test_an_index_taken_by_an_entry_the_log_does_not_hold_makes_no_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The issue copied to the sale's index (with the sale's proof, which fails for it), then
    # the issue again and the true sale, each with its own proof. Before, the true sale, being
    # above the entry just before it, marked index 19 as proved, so step 10 took the copy (the
    # first entry there) as the log's entry 19: a second issue, and version 2 built from it
    # (the passport's true version 2 then "differed" from what the log holds, field by field).
    built = _count_builds(monkeypatch)
    lines = [*_honest(SALE), replace(_entry(ISSUE), index=SALE), _proof(SALE)]
    lines += [*_both(ISSUE), *_both(SALE)]
    _invalid_with(
        _bundle(lines),
        (5, "entry.chain_hash", SALE),
        (6, "inclusion.proof", SALE),
        (5, "entry.index", ISSUE),
        (5, "entry.index", SALE),
        (10, "passport.version", None),
    )
    assert len(built) == 1  # version 1, the log's; the copy makes none


def test_a_proof_for_another_entry_is_reported_with_the_one_still_missing() -> None:
    lines = _honest()
    at = lines.index(_proof(16))
    lines[at] = _proof(15)
    _invalid_with(_bundle(lines), (6, "inclusion.order", 15), (6, "inclusion.missing", 16))


def test_a_proof_naming_its_entry_with_another_entrys_hashes_is_reported() -> None:
    lines = _honest()
    at = lines.index(_proof(16))
    lines[at] = replace(_proof(15), index=16)
    _invalid_with(_bundle(lines), (6, "inclusion.proof", 16))


def test_a_missing_proof_is_reported() -> None:
    lines = _honest()
    lines.remove(_proof(16))
    _invalid_with(_bundle(lines), (6, "inclusion.missing", 16))


def test_the_last_entrys_missing_proof_is_reported_and_makes_no_version() -> None:
    lines = _honest()
    lines.remove(_proof(SALE))
    _invalid_with(_bundle(lines), (6, "inclusion.missing", SALE), (10, "passport.version", None))


def test_an_extra_proof_is_reported() -> None:
    lines = _honest()
    lines.insert(lines.index(_proof(16)) + 1, _proof(16))
    _invalid_with(_bundle(lines), (6, "inclusion.order", 16))


def test_a_proof_before_any_entry_is_reported() -> None:
    lines = [_proof(0), *_honest()]
    # Read among the header records: a proof before its entry.
    data = _bundle(lines)
    _invalid_with(data, (1, "bundle.order", None))


def test_a_valid_proof_to_an_earlier_tree_is_reported() -> None:
    # A correct proof of entry 15 in the tree of its first 17 entries: not the head's.
    leaves = _whole_leaves()
    lines = _honest()
    at = lines.index(_proof(15))
    lines[at] = InclusionRecord(15, 17, tuple(inclusion_proof(leaves[:17], 15)))
    _invalid_with(_bundle(lines), (6, "inclusion.tree_size", 15))


def _cut(index: int) -> bytes:
    """Entry ``index``'s line cut short: no record, as a transfer that lost its end leaves it."""
    line = _entry(index).to_line()
    return line[: len(line) // 2] + b"\n"


def _cut_proof(index: int) -> bytes:
    """Proof ``index``'s line cut short."""
    line = _proof(index).to_line()
    return line[: len(line) // 2] + b"\n"


def test_an_unreadable_entry_line_is_one_finding_and_step_10_names_it() -> None:
    # The brand's receipt (16) cut short, its proof after it; the statement is the log key's
    # over the entries the bundle holds. Before, the proof was "an entry first" (the line was
    # not told to step 6), and step 10 rebuilt both versions from facts without the receipt:
    # field differences blaming the genuine passport documents.
    lines = _honest()
    lines[lines.index(_entry(16))] = _cut(16)
    report = _invalid_with(_bundle(lines), (1, "bundle.line", None))
    assert report.step_status(6) == "ok"
    assert report.step_status(10) == (
        "skipped: 2 passport records not checked: entry 16 could not be read (step 1), "
        "and the versions from index 16 on depend on it"
    )


def test_an_unreadable_entry_line_without_its_proof_is_named_by_its_place() -> None:
    # The proof gone too: the line's index is unknown, only that it follows entry 15.
    lines = _honest()
    lines[lines.index(_entry(16))] = _cut(16)
    lines.remove(_proof(16))
    report = _invalid_with(_bundle(lines), (1, "bundle.line", None))
    assert report.step_status(10) == (
        "skipped: 2 passport records not checked: an entry after 15 could not be read "
        "(step 1), and the versions from index 16 on depend on it"
    )


def test_an_unreadable_entry_line_after_the_versions_leaves_them_checked() -> None:
    # An entry line cut short after the sale, with a proof naming an index past it: the
    # versions before it are rebuilt from complete facts, and checked.
    lines = [*_honest(), _cut(SALE), replace(_proof(SALE), index=SALE)]
    report = _invalid_with(_bundle(lines), (1, "bundle.line", None))
    assert report.step_status(10) == "ok"


def test_an_unreadable_entry_line_and_its_unreadable_proof_are_one_finding_each() -> None:
    # Both lines of the receipt cut short: the second stands for the first's proof.
    lines = _honest()
    at = lines.index(_entry(16))
    lines[at : at + 2] = [_cut(16), _cut_proof(16)]
    report = _invalid_with(_bundle(lines), (1, "bundle.line", None), (1, "bundle.line", None))
    assert report.step_status(10) == (
        "skipped: 2 passport records not checked: an entry after 15 could not be read "
        "(step 1), and the versions from index 16 on depend on it"
    )


def test_the_unreadable_proof_of_an_entry_out_of_order_leaves_step_10_whole() -> None:
    # A second copy of entry 15 after the sale, its proof cut short: the copy is no entry of
    # the bundle's at its index (step 5), so its proof, readable or not, proves nothing step
    # 10 uses, and the versions are checked.
    lines = [*_honest(), _entry(15), _cut_proof(15)]
    report = _invalid_with(_bundle(lines), (5, "entry.index", 15), (1, "bundle.line", None))
    assert report.step_status(10) == "ok"


def test_of_two_unreadable_lines_step_10_names_the_first() -> None:
    # The facts are complete below the lower of the two: the sale's proof cut short, and the
    # receipt's before it.
    lines = _honest()
    for index in (SALE, 16):
        lines[lines.index(_proof(index))] = _cut_proof(index)
    report = _invalid_with(_bundle(lines), (1, "bundle.line", None), (1, "bundle.line", None))
    assert report.step_status(10) == (
        "skipped: 2 passport records not checked: the inclusion proof of entry 16 could not "
        "be read (step 1), and the versions from index 16 on depend on it"
    )


def test_a_bundle_cut_short_in_an_entry_line_names_it() -> None:
    # The file ends in the middle of the issue's line (the manifest made to match): the
    # records of both versions cannot be rebuilt; they are not "beyond the events".
    lines = [*_honest(ISSUE, SALE), _cut(ISSUE)]
    report = _invalid_with(_bundle(lines), (1, "bundle.line", None))
    assert report.step_status(10) == (
        "skipped: 2 passport records not checked: an entry after 17 could not be read "
        "(step 1), and the versions from index 18 on depend on it"
    )


def test_an_unreadable_proof_line_is_taken_as_its_entrys_proof() -> None:
    # The issue's proof cut short: the line stands where the issue's proof goes. Before, the
    # issue's proof was also "missing", and step 10, without the issue proved, found the
    # two records beyond the versions of the events.
    lines = _honest()
    lines[lines.index(_proof(ISSUE))] = _cut_proof(ISSUE)
    report = _invalid_with(_bundle(lines), (1, "bundle.line", None))
    assert report.step_status(10) == (
        "skipped: 2 passport records not checked: the inclusion proof of entry 18 could not "
        "be read (step 1), and the versions from index 18 on depend on it"
    )


# -- (7): key events ------------------------------------------------------------------------


def test_a_key_event_after_the_entries_that_use_it_is_reported() -> None:
    lines = [*_honest(MAISON_KEY), *_both(MAISON_KEY)]
    _invalid_with(
        _bundle(lines),
        (5, "entry.index", MAISON_KEY),
        *((7, "key.unknown", i) for i in (16, 17, ISSUE, SALE)),
        (10, "passport.version", None),
        (10, "passport.version", None),
    )


def test_a_missing_key_event_is_reported() -> None:
    _invalid_with(
        _bundle(_honest(MAISON_KEY)),
        *((7, "key.unknown", i) for i in (16, 17, ISSUE, SALE)),
        (10, "passport.version", None),
        (10, "passport.version", None),
    )


def test_a_key_add_the_registry_refuses_published_as_applied_is_reported_and_adds_no_key() -> None:
    # Filanda adds a key of its own (a key add is the operator's) and signs with it; the log
    # publishes both as applied, and the log key signs those verdicts. The partial bundle's
    # registry replay names the broken rule, and the key it would have added stays unknown.
    story = honest_story()
    own = PrivateKey.from_seed(hashlib.sha256(b"filanda's own key").digest())
    story.sign(FILANDA, add_key(FILANDA, own))
    refused = len(story.envelopes) - 1
    story.terminals[FILANDA] = Terminal(FILANDA, own)
    story.sign(FILANDA, material("urn:spola:lot:filanda:Z", "1"))
    whole = seal(story.envelopes, published={refused: None, refused + 1: None})
    bundle = partial(whole, list(range(len(whole.entries))), scope=SCOPE_ACTOR, subject=FILANDA)
    report = _invalid_with(
        bundle.to_bytes(),
        (7, "registry.operator_only", refused),
        (7, "key.unknown", refused + 1),
    )
    assert report.findings[0].actual == "applied"


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_signature_that_does_not_verify_is_reported(jobs: int) -> None:
    # The brand's passport issue with one bit of its signature flipped, logged as applied and
    # sealed by the log key holder (proofs and statement over the bytes as they are).
    story = passport_story()
    envelopes = list(story.envelopes)
    issue = envelopes[ISSUE]
    (signature,) = issue.signatures
    flipped = bytes([signature.sig[0] ^ 1]) + signature.sig[1:]
    envelopes[ISSUE] = replace(issue, signatures=(replace(signature, sig=flipped),))
    whole = seal(envelopes, published={ISSUE: None})
    indexes = [e.index for e in _good().entries]
    bundle = partial(whole, indexes, scope=SCOPE_ITEM, subject=SCARF)
    report = _verify(bundle.to_bytes(), jobs)
    assert _found(report) == Counter([(7, "signature.invalid", ISSUE)]), report.to_text(width=200)


def test_a_partial_bundle_with_an_entry_of_a_newer_maturity_model_is_unusable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Filanda's assessment answers a question of the next model version, which the ledger
    # runs and this verifier does not know yet: upgrade, do not suspect the log (exit 2).
    use_model(monkeypatch, moved_on_model())
    story = honest_story()
    answers = [{"question": q, "answer": "yes"} for q in ("tr-1", "tr-6")]
    assessment = {"type": "assessment", "model": NEXT, "date": "2026-04-02", "answers": answers}
    story.sign(FILANDA, assessment)
    entry = len(story.envelopes) - 1
    whole = seal(story.envelopes)
    data = partial(whole, list(range(entry + 1)), scope=SCOPE_ACTOR, subject=FILANDA).to_bytes()
    assert _verify(data).valid
    monkeypatch.undo()
    forget_models()
    with pytest.raises(UnusableInputError, match=f"entry {entry}: .* newer than this install"):
        _verify(data)
