"""The maturity model as data, the ``assessment`` event, and scoring by hand-computed examples.

The scoring examples use the packaged model's traceability questions: tr-1 (level 1, weight 2),
tr-2 (level 2, weight 2, signed_receipts_share >= 0.8), tr-3 (level 3, weight 3,
traceability_coverage >= 0.8), tr-4 (level 4, weight 3, traceability_coverage >= 0.95), tr-5
(level 5, weight 2); bands 0.5, 0.5, 0.6, 0.7, 0.8 (cumulative weighted credit share).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
from pydantic import ValidationError

from ledger.assessment import Answer, CertificateRef
from ledger.canonical import canonical_bytes
from ledger.errors import FormatError
from ledger.events import parse_event
from scoring.maturity import (
    METRICS,
    CertificateSpan,
    MaturityModel,
    MaturityResult,
    assess,
    load_model,
)

ON = date(2026, 11, 15)
GOTS = CertificateSpan("GOTS", "GOTS-1", date(2026, 1, 1), date(2026, 12, 31))
EXPIRED = CertificateSpan("GOTS", "GOTS-0", date(2025, 1, 1), date(2025, 12, 31))
TRACEABILITY = ("tr-1", "tr-2", "tr-3", "tr-4", "tr-5")


def _raw() -> dict[str, Any]:
    text = resources.files("ledger").joinpath("data", "maturity_model.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _yes(*questions: str, cite: str | None = None, answer: str = "yes") -> list[Answer]:
    ref = None if cite is None else CertificateRef(scheme="GOTS", id=cite)
    return [Answer(question=q, answer=answer, certificate=ref) for q in questions]  # type: ignore[arg-type]


def _dimension(result: MaturityResult, name: str) -> Any:
    return next(d for d in result.dimensions if d.dimension.id == name)


def _credit(result: MaturityResult, question: str) -> tuple[str, Decimal]:
    for d in result.dimensions:
        for r in d.questions:
            if r.question.id == question:
                return r.basis, r.credit
    raise AssertionError(question)


# -- the model as data ------------------------------------------------------------------------


def test_packaged_model_has_six_dimensions_of_five_levels_and_four_questions_each() -> None:
    model = load_model()
    assert len(model.dimensions) >= 6
    assert {d.id for d in model.dimensions} >= {
        "traceability", "materials", "circularity", "environment", "social", "digital",
    }  # fmt: skip
    assert len(model.questions) >= 24
    for dim in model.dimensions:
        assert [t.level for t in dim.levels] == [1, 2, 3, 4, 5]
        assert all(t.description.it and t.description.en for t in dim.levels)
        questions = model.questions_of(dim.id)
        assert len(questions) >= 4
        assert all(1 <= q.level <= 5 and q.action.it and q.target.en for q in questions)
    assert [model.band(n) for n in range(1, 6)] == sorted(model.band(n) for n in range(1, 6))


def test_every_metric_a_question_names_is_an_automatic_ledger_metric() -> None:
    named = {q.metric.name for q in load_model().questions if q.metric is not None}
    assert named <= set(METRICS)
    assert named >= {"traceability_coverage", "signed_receipts_share", "certified_share"}


def test_model_cites_sources_and_says_the_questions_are_its_own() -> None:
    model = load_model()
    assert {"espr", "oecd-garment", "textile-exchange", "wbcsd-cti", "zdhc-mrsl"} <= {
        s.id for s in model.sources
    }
    assert "spola's own" in model.about


def test_model_naming_an_unknown_metric_is_refused() -> None:
    raw = _raw()
    raw["questions"][1]["metric"] = {"name": "happiness_index", "at_least": "0.5"}
    with pytest.raises(ValidationError, match="unknown metric"):
        MaturityModel.model_validate(raw)


def test_model_with_a_dimension_of_three_questions_is_refused() -> None:
    raw = _raw()
    raw["questions"] = [q for q in raw["questions"] if q["id"] not in ("tr-4", "tr-5")]
    with pytest.raises(ValidationError, match="traceability has 3 questions"):
        MaturityModel.model_validate(raw)


# -- credit: full when evidenced, half when self-declared --------------------------------------


def test_self_declared_yes_counts_half_and_partial_a_quarter() -> None:
    result = assess(load_model(), [*_yes("tr-1"), *_yes("tr-5", answer="partial")], on=ON,
                    metrics={})  # fmt: skip
    assert _credit(result, "tr-1") == ("self-declared", Decimal("0.5"))
    assert _credit(result, "tr-5") == ("self-declared", Decimal("0.25"))
    assert _credit(result, "tr-3") == ("unanswered", Decimal(0))


def test_answer_citing_a_certificate_valid_on_the_date_counts_in_full() -> None:
    model = load_model()
    held = assess(model, _yes("tr-1", cite="GOTS-1"), on=ON, metrics={}, certificates=[GOTS])
    assert _credit(held, "tr-1") == ("certificate", Decimal(1))
    expired = assess(model, _yes("tr-1", cite="GOTS-0"), on=ON, metrics={}, certificates=[EXPIRED])
    assert _credit(expired, "tr-1") == ("self-declared", Decimal("0.5"))
    not_held = assess(model, _yes("tr-1", cite="GOTS-9"), on=ON, metrics={}, certificates=[GOTS])
    assert _credit(not_held, "tr-1") == ("self-declared", Decimal("0.5"))


def test_met_ledger_metric_counts_in_full_whatever_the_answer() -> None:
    metrics = {"traceability_coverage": Decimal("0.9"), "signed_receipts_share": Decimal("0.7")}
    result = assess(load_model(), _yes("tr-2", "tr-3", answer="no"), on=ON, metrics=metrics)
    assert _credit(result, "tr-3") == ("metric", Decimal(1))  # 0.9 >= 0.8
    assert _credit(result, "tr-4") == ("unanswered", Decimal(0))  # 0.9 < 0.95
    assert _credit(result, "tr-2") == ("self-declared", Decimal(0))  # 0.7 < 0.8, answered no


# -- levels and bands ----------------------------------------------------------------------------


def test_self_declaration_alone_stops_at_level_two() -> None:
    # Every share is 0.5: bands 1 and 2 (0.5) are reached, band 3 (0.6) is not.
    result = assess(load_model(), _yes(*TRACEABILITY), on=ON, metrics={})
    dim = _dimension(result, "traceability")
    assert dim.level == 2
    assert dim.shares == (Decimal("0.5"),) * 5
    assert dim.score == Decimal("2.50")


def test_evidence_lifts_the_level_by_the_cumulative_bands() -> None:
    # credits tr-1 .5, tr-2 1, tr-3 1, tr-4 .5, tr-5 .5; cumulative shares .5, 3/4, 6/7, 7.5/10,
    # 8.5/12 = .708: bands .5 .5 .6 .7 reached, .8 not -> level 4; score 5 * 8.5 / 12 = 3.54.
    metrics = {"traceability_coverage": Decimal("0.9"), "signed_receipts_share": Decimal(1)}
    dim = _dimension(assess(load_model(), _yes(*TRACEABILITY), on=ON, metrics=metrics),
                     "traceability")  # fmt: skip
    assert dim.level == 4
    assert dim.shares[1] == Decimal("0.75") and dim.shares[3] == Decimal("0.75")
    assert dim.score == Decimal("3.54")


def test_overall_level_is_the_lower_median_of_the_dimensions() -> None:
    model = load_model()
    by_dimension = [[q.id for q in model.questions_of(d.id)] for d in model.dimensions]
    three = [a for ids in by_dimension[:3] for a in _yes(*ids)]
    assert [d.level for d in assess(model, three, on=ON, metrics={}).dimensions] == [
        2, 2, 2, 0, 0, 0,
    ]  # fmt: skip
    assert assess(model, three, on=ON, metrics={}).overall == 0
    four = [a for ids in by_dimension[:4] for a in _yes(*ids)]
    assert assess(model, four, on=ON, metrics={}).overall == 2


# -- the roadmap -------------------------------------------------------------------------------


def test_roadmap_ranks_open_questions_up_to_the_next_level_by_weight_times_gap() -> None:
    # At level 2 the next is 3: tr-3 (3 x .5 = 1.5), then tr-1 and tr-2 (2 x .5 = 1), lower
    # level first; tr-4 and tr-5 wait for later levels.
    dim = _dimension(assess(load_model(), _yes(*TRACEABILITY), on=ON, metrics={}),
                     "traceability")  # fmt: skip
    ranked = [(i.question.id, i.priority) for i in dim.roadmap]
    assert ranked == [("tr-3", Decimal("1.5")), ("tr-1", Decimal("1.0")), ("tr-2", Decimal("1.0"))]
    assert dim.roadmap[0].question.metric is not None
    assert dim.roadmap[0].question.metric.name == "traceability_coverage"


def test_a_dimension_at_level_five_has_no_roadmap() -> None:
    metrics = {"traceability_coverage": Decimal(1), "signed_receipts_share": Decimal(1)}
    answers = _yes("tr-1", "tr-5", cite="GOTS-1")
    dim = _dimension(assess(load_model(), answers, on=ON, metrics=metrics, certificates=[GOTS]),
                     "traceability")  # fmt: skip
    assert dim.level == 5 and dim.roadmap == ()


# -- the assessment event ------------------------------------------------------------------------


def _payload(**changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "v": 1, "type": "assessment", "actor": "urn:spola:actor:maison-navigli", "seq": 3,
        "prev": "ab" * 32, "time": "2026-11-15T10:00:00Z", "model": "2026.1",
        "date": "2026-11-15",
        "answers": [{"question": "tr-1", "answer": "yes"},
                    {"question": "ma-2", "answer": "partial",
                     "certificate": {"scheme": "GOTS", "id": "GOTS-1"}, "note": "silk only"}],
    }  # fmt: skip
    return canonical_bytes(fields | changes)


def test_assessment_event_parses() -> None:
    event = parse_event(_payload())
    assert event.type == "assessment"
    assert [a.question for a in event.answers] == ["tr-1", "ma-2"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "want_error"),
    [
        ({"answers": [{"question": "tr-1", "answer": "maybe"}]}, "answers.0.answer"),
        ({"answers": [{"question": "tr-1", "answer": "yes"}] * 2}, "answered twice"),
        ({"answers": [{"question": "tr-99", "answer": "yes"}]}, "has no question tr-99"),
        ({"model": "2025.9"}, "unknown maturity model version"),
        ({"date": "2026-11-16"}, "after the event's time"),
        ({"answers": []}, "answers"),
        ({"answers": [{"question": f"tr-{n}", "answer": "no"} for n in range(201)]}, "answers"),
    ],
    ids=[
        "unknown-answer",
        "duplicate",
        "unknown-question",
        "unknown-model",
        "future-date",
        "empty",
        "oversize",
    ],
)
def test_malformed_assessment_is_refused(changes: dict[str, Any], want_error: str) -> None:
    with pytest.raises(FormatError, match=want_error):
        parse_event(_payload(**changes))
