"""The maturity model (package data) and what a company's answers and ledger evidence score.

``load_model()`` reads ``ledger/data/maturity_model.json`` once and validates it: at least six
dimensions, five named levels each, at least four questions per dimension each tied to a level,
bands for every level, every ``metric`` one of ``METRICS``, a version history (``versions``,
oldest first, the last the current ``version``; each question's ``since`` one of them).
``assess()`` is pure: the answers of an ``assessment`` event (or none) with the model version
it answered, the automatic ledger metrics and the certificates the company holds in, levels per
dimension and overall, and a roadmap out.

Credit rules (docs/scoring.md, Maturity):
- a question whose ledger metric meets its threshold counts as "yes, evidenced": 1;
- otherwise an answer counts yes = 1, partial = 0.5, no = 0, times 1 when it cites a
  certificate the company holds that is valid on the assessment date, times 0.5 when
  self-declared (a "no" is self-declared whatever it cites); an unanswered question counts 0;
- scoring always uses the current model (texts, weights, levels, thresholds); a question
  introduced after the assessment's version was not asked: it is left out of the weights
  (neither credit nor debt) unless its metric counts it, and stays on the roadmap; a dimension
  that version asked nothing of counts every question, as with no assessment;
- a dimension is at level L when, for every level l ≤ L, the weighted credit of its questions
  of levels ≤ l reaches the band of l (cumulative); the overall level is the lower median of
  the dimension levels;
- the roadmap of a dimension below 5: its questions up to the next level that are not fully
  met, ranked by weight * gap (gap = 1 - credit), each with the answer already given (a "yes"
  without evidence stays on it: what it lacks is the evidence).

Queries (the metrics, the certificates) live in ``ledger.store.maturity``; HTTP in ``api/``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Annotated, Final, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    model_validator,
)

from ledger.assessment import Answer, ModelHistory, model_document
from scoring.errors import ScoringInputError

__all__ = [
    "METRICS", "CertificateSpan", "DimensionResult", "MaturityModel", "MaturityResult",
    "QuestionResult", "RoadmapItem", "assess", "load_model",
]  # fmt: skip

# The automatic ledger metrics a question may name (computed by ledger.store.maturity).
METRICS: Final = (
    "traceability_coverage",
    "signed_receipts_share",
    "certified_share",
    "local_share_lombardy",
    "local_share_italy",
    "mean_product_mci",
    "social_data_coverage",
    "environmental_data_coverage",
)
LEVELS: Final = (1, 2, 3, 4, 5)
MIN_DIMENSIONS: Final = 6
MIN_QUESTIONS_PER_DIMENSION: Final = 4
ANSWER_CREDIT: Final[dict[str, Decimal]] = {
    "yes": Decimal(1), "partial": Decimal("0.5"), "no": Decimal(0),
}  # fmt: skip
SELF_DECLARED: Final = Decimal("0.5")
# The notes of the mean product MCI when it has no value (the document's English; the page's
# STRINGS translate them).
NO_PASSPORT_NOTE: Final = "no passport issued by this company yet"
NO_MCI_NOTE: Final = "no MCI can be computed yet for any passport this company issued"
ONE: Final = Decimal(1)
ZERO: Final = Decimal(0)
Basis = Literal["metric", "certificate", "self-declared", "unanswered"]
Version = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}\.[0-9]{1,3}$")]
Ident = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,31}$")]
Share = Annotated[str, StringConstraints(pattern=r"^(0(\.[0-9]{1,6})?|1(\.0{1,6})?)$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Texts(_Frozen):
    it: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    en: Annotated[str, StringConstraints(min_length=1, max_length=300)]


def _known_metric(name: str) -> str:
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r} (known: {', '.join(METRICS)})")
    return name


class MetricRule(_Frozen):
    name: Annotated[str, AfterValidator(_known_metric)]
    at_least: Share


class Question(_Frozen):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,4}-[0-9]{1,3}$")]
    dimension: Ident
    level: int = Field(ge=1, le=5)
    weight: int = Field(ge=1, le=5)
    since: Version  # the model version that introduced it
    text: Texts
    action: Texts
    target: Texts
    metric: MetricRule | None = None


class LevelName(_Frozen):
    level: int = Field(ge=1, le=5)
    name: Texts


class LevelText(_Frozen):
    level: int = Field(ge=1, le=5)
    description: Texts


class Dimension(_Frozen):
    id: Ident
    name: Texts
    levels: list[LevelText]


class Source(_Frozen):
    id: Ident
    title: str
    url: str
    informs: str


class PublishedVersion(_Frozen):
    version: Version
    note: Annotated[str, StringConstraints(min_length=1, max_length=300)]


class MaturityModel(_Frozen):
    version: Version  # the current one: the last of ``versions``
    versions: list[PublishedVersion] = Field(min_length=1)  # oldest first
    title: Texts
    about: str
    sources: list[Source] = Field(min_length=3)
    bands: dict[str, Share]
    levels: list[LevelName]
    dimensions: list[Dimension] = Field(min_length=MIN_DIMENSIONS)
    questions: list[Question]
    _history: ModelHistory = PrivateAttr()  # built from ``versions`` and each ``since``

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if sorted(self.bands) != [str(n) for n in LEVELS] or [n.level for n in self.levels] != [
            *LEVELS
        ]:
            raise ValueError("bands and levels name exactly the levels 1 to 5, in order")
        if any(Decimal(self.bands[str(n)]) <= 0 for n in LEVELS):
            raise ValueError("every band is above 0")
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("question ids are unique")
        for dim in self.dimensions:
            if [t.level for t in dim.levels] != [*LEVELS]:
                raise ValueError(f"dimension {dim.id} describes the levels 1 to 5, in order")
            count = sum(q.dimension == dim.id for q in self.questions)
            if count < MIN_QUESTIONS_PER_DIMENSION:
                raise ValueError(f"dimension {dim.id} has {count} questions, fewer than 4")
        unknown = {q.dimension for q in self.questions} - {d.id for d in self.dimensions}
        if unknown:
            raise ValueError(f"questions name an unknown dimension {sorted(unknown)[0]}")
        self._history = ModelHistory.of(  # ValueError when the history does not hold together
            self.version,
            [v.version for v in self.versions],
            [(q.id, q.since) for q in self.questions],
        )
        return self

    @property
    def history(self) -> ModelHistory:
        """This model's version history, as the core reads the packaged one."""
        return self._history

    def asked_in(self, version: str) -> frozenset[str]:
        """The ids of the questions published ``version`` asked (introduced in it or before)."""
        if version not in self.history.versions:
            published = ", ".join(self.history.versions)
            raise ScoringInputError("model", f"{version} is not a published version ({published})")
        return self.history.questions(version)

    def band(self, level: int) -> Decimal:
        return Decimal(self.bands[str(level)])

    def questions_of(self, dimension: str) -> list[Question]:
        return [q for q in self.questions if q.dimension == dimension]


@cache
def load_model() -> MaturityModel:
    """The packaged maturity model, validated; read once."""
    return MaturityModel.model_validate(model_document())


@dataclass(frozen=True)
class CertificateSpan:
    """A certificate the company holds, as its signed events state it."""

    scheme: str
    id: str
    valid_from: date
    valid_until: date


@dataclass(frozen=True)
class QuestionResult:
    question: Question
    answer: str | None  # yes, partial, no; None when unanswered
    basis: Basis
    credit: Decimal  # 0 to 1
    asked: bool = True  # False: introduced after the assessment's model version

    @property
    def gap(self) -> Decimal:
        return ONE - self.credit


@dataclass(frozen=True)
class RoadmapItem:
    question: Question
    gap: Decimal
    priority: Decimal  # weight * gap
    answer: str | None = None  # the answer given, so a step already declared says what it lacks
    basis: Basis = "unanswered"


@dataclass(frozen=True)
class DimensionResult:
    dimension: Dimension
    level: int  # 0 (below level 1) to 5
    score: Decimal  # 5 * weighted credit share of all its questions, 0 to 5
    shares: tuple[Decimal, ...]  # cumulative weighted credit share up to each level 1..5
    questions: tuple[QuestionResult, ...]
    roadmap: tuple[RoadmapItem, ...]


@dataclass(frozen=True)
class MaturityResult:
    model: MaturityModel
    on: date | None
    dimensions: tuple[DimensionResult, ...]
    overall: int


def _holds(ref: Answer, on: date | None, certificates: Collection[CertificateSpan]) -> bool:
    cited = ref.certificate
    if cited is None or on is None:
        return False
    return any(
        c.scheme == cited.scheme and c.id == cited.id and c.valid_from <= on <= c.valid_until
        for c in certificates
    )


def credit_of(
    question: Question,
    answer: Answer | None,
    *,
    on: date | None,
    metrics: Mapping[str, Decimal | None],
    certificates: Collection[CertificateSpan],
) -> QuestionResult:
    """What one question is worth, and on what basis (the module docstring's credit rules)."""
    given = None if answer is None else answer.answer
    rule = question.metric
    if rule is not None:
        value = metrics.get(rule.name)
        if value is not None and value >= Decimal(rule.at_least):
            return QuestionResult(question, given, "metric", ONE)
    if answer is None:
        return QuestionResult(question, None, "unanswered", ZERO)
    value = ANSWER_CREDIT[answer.answer]
    if value > 0 and _holds(answer, on, certificates):  # a certificate backs no "no"
        return QuestionResult(question, given, "certificate", value)
    return QuestionResult(question, given, "self-declared", value * SELF_DECLARED)


def _counts(result: QuestionResult) -> bool:
    """Whether a question weighs in: asked by the assessment's version, or evidenced anyway."""
    return result.asked or result.basis == "metric"


def _share(results: Sequence[QuestionResult]) -> Decimal:
    counted = [r for r in results if _counts(r)]
    weight = sum(r.question.weight for r in counted)
    if not weight:
        return ONE
    credit = sum((r.credit * r.question.weight for r in counted), ZERO)
    return credit / weight


def _level(model: MaturityModel, results: Sequence[QuestionResult]) -> tuple[int, list[Decimal]]:
    shares = [_share([r for r in results if r.question.level <= n]) for n in LEVELS]
    level = 0
    for n, share in zip(LEVELS, shares, strict=True):
        if share < model.band(n):
            break
        level = n
    return level, shares


def _roadmap(results: Sequence[QuestionResult], level: int) -> tuple[RoadmapItem, ...]:
    if level >= LEVELS[-1]:
        return ()
    open_items = [
        RoadmapItem(r.question, r.gap, r.gap * r.question.weight, r.answer, r.basis)
        for r in results
        if r.question.level <= level + 1 and r.gap > 0
    ]
    return tuple(sorted(open_items, key=lambda i: (-i.priority, i.question.level, i.question.id)))


def _dimension_results(
    questions: Sequence[Question],
    answers: Mapping[str, Answer],
    asked: frozenset[str],
    *,
    on: date | None,
    metrics: Mapping[str, Decimal | None],
    certificates: Collection[CertificateSpan],
) -> tuple[QuestionResult, ...]:
    """Each question's result, marked not asked where the assessment's version did not have it.

    A dimension the version asked nothing of (new since) is scored as with no assessment: every
    question counts, so that it starts from the evidence rather than from an empty share."""
    fresh = not any(q.id in asked for q in questions)
    results = []
    for q in questions:
        result = credit_of(q, answers.get(q.id), on=on, metrics=metrics, certificates=certificates)
        results.append(result if fresh or q.id in asked else replace(result, asked=False))
    return tuple(results)


def assess(
    model: MaturityModel,
    answers: Sequence[Answer] = (),
    *,
    version: str | None = None,
    on: date | None = None,
    metrics: Mapping[str, Decimal | None],
    certificates: Collection[CertificateSpan] = (),
) -> MaturityResult:
    """Levels, scores and roadmap of one company from its answers (dated ``on``, against model
    ``version``; None: the current one, or no assessment) and evidence.

    Answers to questions the model does not have are ignored. Questions ``version`` did not ask
    weigh in only when their metric counts them (but for a dimension it asked nothing of); they
    stay on the roadmap.
    """
    by_question = {a.question: a for a in answers}
    asked = model.asked_in(model.version if version is None else version)
    dimensions = []
    for dim in model.dimensions:
        results = _dimension_results(
            model.questions_of(dim.id),
            by_question,
            asked,
            on=on,
            metrics=metrics,
            certificates=certificates,
        )
        level, shares = _level(model, results)
        score = (5 * _share(results)).quantize(Decimal("0.01"))
        roadmap = _roadmap(results, level)
        dimensions.append(DimensionResult(dim, level, score, tuple(shares), results, roadmap))
    levels = sorted(d.level for d in dimensions)
    overall = levels[(len(levels) - 1) // 2]  # the lower median
    return MaturityResult(model, on, tuple(dimensions), overall)
