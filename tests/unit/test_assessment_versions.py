"""Logged assessments outlive the maturity model version they answered.

The log is append-only and replayed (``spola rebuild``, the store's domain replay, the offline
verifier): an assessment logged against model 2026.1 must parse, and score, after the packaged
model moves on to 2026.2. These tests move the model by hand: ``use_model`` makes the core
(``ledger.assessment``) and scoring (``scoring.maturity``) read another model document in place
of the packaged file, and clears their caches. Pure: runs on a verifier-only install too.
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import ledger.assessment
import scoring.maturity
from ledger.assessment import NewerModelError, model_document, model_history
from ledger.canonical import canonical_bytes
from ledger.errors import FormatError
from ledger.events import parse_event
from scoring.maturity import MaturityModel, MaturityResult, assess, load_model
from tests.vectors.bundles.sealing import LOG_VKEY, seal
from tests.vectors.bundles.story import FILANDA, honest_story
from verifier import verify_bundle
from verifier.cli import EXIT_UNUSABLE, EXIT_VALID, main
from verifier.findings import UnusableInputError

PACKAGED = "2026.1"
NEXT = "2026.2"
ON = date(2026, 11, 15)
TRACEABILITY = ("tr-1", "tr-2", "tr-3", "tr-4", "tr-5")
# The question 2026.2 adds: traceability, level 2, weight 2, evidenced by signed receipts.
TR_6: dict[str, Any] = {
    "id": "tr-6", "dimension": "traceability", "level": 2, "weight": 2, "since": NEXT,
    "text": {"it": "Le consegne riportano il numero di lotto?",
             "en": "Do your deliveries name the lot they carry?"},
    "action": {"it": "Citare il lotto in ogni consegna.", "en": "Name the lot in every handover."},
    "target": {"it": "100% delle consegne", "en": "100% of handovers"},
    "metric": {"name": "signed_receipts_share", "at_least": "0.95"},
}  # fmt: skip


def moved_on_model() -> dict[str, Any]:
    """The packaged model as the next release would publish it: version 2026.2, adding tr-6."""
    data = copy.deepcopy(model_document())
    assert data["version"] == PACKAGED, "the tests assume the packaged version"
    data["version"] = NEXT
    data["versions"] = [*data["versions"], {"version": NEXT, "note": "adds tr-6"}]
    data["questions"] = [*data["questions"], TR_6]
    return data


def use_model(monkeypatch: pytest.MonkeyPatch, data: dict[str, Any]) -> None:
    """From now on, the core and scoring read ``data`` as the packaged model."""
    document = copy.deepcopy(data)
    monkeypatch.setattr(ledger.assessment, "model_document", lambda: document)
    monkeypatch.setattr(scoring.maturity, "model_document", lambda: document)
    forget_models()


def forget_models() -> None:
    model_history.cache_clear()
    load_model.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()  # the next test reads the packaged file again


def _payload(model: str, *questions: str) -> bytes:
    fields: dict[str, Any] = {
        "v": 1, "type": "assessment", "actor": "urn:spola:actor:maison-navigli", "seq": 3,
        "prev": "ab" * 32, "time": "2026-11-15T10:00:00Z", "model": model, "date": "2026-11-15",
        "answers": [{"question": q, "answer": "yes"} for q in questions],
    }  # fmt: skip
    return canonical_bytes(fields)


def _traceability(result: MaturityResult) -> Any:
    return next(d for d in result.dimensions if d.dimension.id == "traceability")


# -- the model file keeps its history -----------------------------------------------------------


def test_packaged_model_lists_its_published_versions_and_each_question_says_since_when() -> None:
    model = load_model()
    assert [v.version for v in model.versions][-1] == model.version == PACKAGED
    assert {q.since for q in model.questions} == {PACKAGED}
    history = model_history()
    assert history.versions == (PACKAGED,)
    assert history.questions(PACKAGED) == {q.id for q in model.questions}


@pytest.mark.parametrize(
    ("change", "want_error"),
    [
        (lambda d: d["questions"][0].update(since="2026.3"), "tr-1 is introduced in 2026.3"),
        (lambda d: d.update(version="2026.3"), "current version 2026.3 is not the last"),
        (lambda d: d["versions"].insert(0, {"version": "2027.1", "note": "n"}), "oldest first"),
        (lambda d: d["versions"].append({"version": PACKAGED, "note": "n"}), "oldest first"),
    ],
    ids=["unpublished-since", "current-not-last", "out-of-order", "repeated"],
)
def test_model_with_an_inconsistent_history_is_refused(change: Any, want_error: str) -> None:
    data = copy.deepcopy(model_document())
    change(data)
    with pytest.raises(ValueError, match=want_error):
        MaturityModel.model_validate(data)
    with pytest.raises(FormatError, match=want_error):
        ledger.assessment.ModelHistory.from_document(data)


# -- parsing: any published version, with that version's questions ----------------------------


def test_assessment_against_the_previous_version_parses_after_the_model_moves_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert parse_event(_payload(PACKAGED, *TRACEABILITY)).model == PACKAGED  # type: ignore[attr-defined]
    use_model(monkeypatch, moved_on_model())
    event = parse_event(_payload(PACKAGED, *TRACEABILITY))
    assert event.model == PACKAGED  # type: ignore[attr-defined]
    # tr-6 is not required of it: an assessment answers the questions it wants counted.
    assert "tr-6" not in {a.question for a in event.answers}  # type: ignore[attr-defined]
    assert parse_event(_payload(NEXT, "tr-1", "tr-6")).model == NEXT  # type: ignore[attr-defined]


def test_question_of_a_later_version_is_refused_in_an_earlier_version_assessment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_model(monkeypatch, moved_on_model())
    with pytest.raises(FormatError, match=f"model {PACKAGED} has no question tr-6"):
        parse_event(_payload(PACKAGED, "tr-1", "tr-6"))


@pytest.mark.parametrize("version", ["2026.2", "2026.10", "2027.1"])
def test_version_newer_than_the_installation_says_to_upgrade_not_that_it_is_malformed(
    version: str,
) -> None:
    with pytest.raises(NewerModelError) as raised:
        parse_event(_payload(version, "tr-1"))
    want = f"maturity model version {version} is newer than this installation's ({PACKAGED})"
    assert want in str(raised.value)
    assert isinstance(raised.value, FormatError)  # refused at admission (422) as before
    assert (raised.value.version, raised.value.installed) == (version, PACKAGED)


@pytest.mark.parametrize("version", ["2025.9", "2026.0"])
def test_unpublished_older_version_is_refused_as_unknown(version: str) -> None:
    with pytest.raises(FormatError, match=f"unknown maturity model version {version}") as raised:
        parse_event(_payload(version, "tr-1"))
    assert not isinstance(raised.value, NewerModelError)


# -- scoring: the current model; what an earlier version did not ask is not held against it ----


def test_earlier_version_assessment_is_scored_without_the_question_it_was_not_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = parse_event(_payload(PACKAGED, *TRACEABILITY)).answers  # type: ignore[attr-defined]
    before = _traceability(assess(load_model(), answers, version=PACKAGED, on=ON, metrics={}))
    assert before.level == 2  # self-declared "yes" everywhere: share 0.5
    use_model(monkeypatch, moved_on_model())
    model = load_model()
    after = _traceability(assess(model, answers, version=PACKAGED, on=ON, metrics={}))
    assert (after.level, after.shares, after.score) == (before.level, before.shares, before.score)
    tr6 = next(r for r in after.questions if r.question.id == "tr-6")
    assert (tr6.answer, tr6.basis, tr6.credit, tr6.asked) == (None, "unanswered", 0, False)
    assert "tr-6" in {i.question.id for i in after.roadmap}  # what to answer next time
    # Had the company answered 2026.2 and left tr-6 out, it would count 0, as any unanswered
    # question: level 2 is then 1 (tr-1) + 1 (tr-2) of weight 6, below the band of 0.5.
    current = _traceability(assess(model, answers, version=NEXT, on=ON, metrics={}))
    assert current.level == 1
    assert current.shares[1] == Decimal(2) / 6


def test_ledger_evidence_for_a_question_not_yet_asked_still_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_model(monkeypatch, moved_on_model())
    answers = parse_event(_payload(PACKAGED, *TRACEABILITY)).answers  # type: ignore[attr-defined]
    metrics = {"signed_receipts_share": scoring.maturity.ONE}
    dim = _traceability(assess(load_model(), answers, version=PACKAGED, on=ON, metrics=metrics))
    tr6 = next(r for r in dim.questions if r.question.id == "tr-6")
    assert (tr6.basis, tr6.credit, tr6.asked) == ("metric", 1, False)
    # tr-2 and tr-6 evidenced, tr-1 self-declared: (1 + 2 + 2) / 6 at level 2.
    assert dim.shares[1] == Decimal(5) / 6


def _with_a_new_dimension(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` whose latest version also adds a dimension, ``governance`` (go-1 to go-4)."""
    texts = {"it": "Testo.", "en": "Text."}
    levels = [{"level": n, "description": texts} for n in range(1, 6)]
    data["dimensions"].append({"id": "governance", "name": texts, "levels": levels})
    for n in range(1, 5):
        data["questions"].append(
            {"id": f"go-{n}", "dimension": "governance", "level": n, "weight": 1,
             "since": data["version"], "text": texts, "action": texts, "target": texts}
        )  # fmt: skip
    return data


def test_dimension_new_since_the_assessment_starts_from_the_evidence_not_from_level_five(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # None of its questions was asked: left out, its share would be that of no question (1).
    use_model(monkeypatch, _with_a_new_dimension(moved_on_model()))
    answers = parse_event(_payload(PACKAGED, *TRACEABILITY)).answers  # type: ignore[attr-defined]
    result = assess(load_model(), answers, version=PACKAGED, on=ON, metrics={})
    governance = next(d for d in result.dimensions if d.dimension.id == "governance")
    assert (governance.level, governance.score) == (0, 0)
    assert all(r.asked and r.basis == "unanswered" for r in governance.questions)
    assert _traceability(result).level == 2


def test_scoring_an_unpublished_version_is_refused() -> None:
    with pytest.raises(FormatError, match=r"2027\.1 is not a published version"):
        assess(load_model(), (), version="2027.1", on=ON, metrics={})


# -- the offline verifier ----------------------------------------------------------------------


def _assessment(model: str, *questions: str) -> dict[str, Any]:
    answers = [{"question": q, "answer": "yes"} for q in questions]
    return {"type": "assessment", "model": model, "date": "2026-04-02", "answers": answers}


def _bundle_file(tmp_path: Path, model: str, *questions: str) -> Path:
    story = honest_story()
    story.sign(FILANDA, _assessment(model, *questions))
    story.sign(FILANDA, _assessment(model, "tr-1"))  # its feed goes on after it
    path = tmp_path / "ledger.bundle"
    path.write_bytes(seal(story.envelopes).to_bytes())
    return path


def test_bundle_holding_a_previous_version_assessment_verifies_after_the_model_moves_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = _bundle_file(tmp_path, PACKAGED, *TRACEABILITY)
    use_model(monkeypatch, moved_on_model())
    report = verify_bundle(io.BytesIO(path.read_bytes()), LOG_VKEY, jobs=1)
    assert report.valid, report.findings


def test_bundle_using_a_newer_model_is_unusable_by_an_older_verifier_not_invalid(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The ledger runs 2026.2 and logged an assessment answering tr-6; the auditor's verifier
    # is still 2026.1. It cannot judge that entry: upgrade, do not suspect tampering.
    use_model(monkeypatch, moved_on_model())
    path = _bundle_file(tmp_path, NEXT, "tr-1", "tr-6")
    assert verify_bundle(io.BytesIO(path.read_bytes()), LOG_VKEY, jobs=1).valid
    monkeypatch.undo()
    forget_models()
    want = f"maturity model version {NEXT} is newer than this installation's ({PACKAGED})"
    with pytest.raises(UnusableInputError, match="entry 13: .*" + re.escape(want)):
        verify_bundle(io.BytesIO(path.read_bytes()), LOG_VKEY, jobs=1)
    assert main([str(path), "--log-key", LOG_VKEY, "--jobs", "1"]) == EXIT_UNUSABLE
    err = capsys.readouterr().err
    assert want in err and "upgrade" in err
    use_model(monkeypatch, moved_on_model())
    assert main([str(path), "--log-key", LOG_VKEY, "--jobs", "1"]) == EXIT_VALID
