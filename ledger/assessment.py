"""The ``assessment`` event: a company's signed maturity self-assessment.

A company (signed by one of its own keys: the registry already refuses an event whose ``actor``
is not the signer's) answers the questions of the maturity model version ``model`` as it stood
on ``date``: each answer ``yes``, ``partial`` or ``no``, optionally citing a certificate that
backs it and a short note. Scoring — what the answers and the ledger's own evidence are worth —
is ``scoring.maturity``'s; this module only decides what a well-formed assessment is.

At parse time, so at admission and in every replay, it refuses unknown answer values, a
question answered twice, a date after the event's time, a model version the packaged model has
not published, and a question id that *that* version does not have. The log is append-only and
replayed, so an assessment stays parseable when the model moves on: the model file keeps its
history (``versions``, oldest first, the last the current one; each question's ``since``, the
version that introduced it), and question ids are never removed (docs/scoring.md). A version
newer than the packaged one is refused with ``NewerModelError``: the installation, not the
event, is out of date.

The model is the core's package data (``ledger/data/maturity_model.json``, beside the
catalogue), read lazily on the first assessment and cached: importing this module reads no
file. ``scoring.maturity`` validates the whole model; this module reads only its history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Annotated, Any, ClassVar, Final, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from ledger.errors import FormatError
from ledger.events import EVENT_MODELS, Day, Event, Scheme, StrictModel, Text

MAX_ANSWERS: Final = 200
MODEL_RESOURCE: Final = ("ledger", "data/maturity_model.json")
VERSION_PATTERN: Final = r"^[0-9]{4}\.[0-9]{1,3}$"

QuestionId = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,4}-[0-9]{1,3}$")]
ModelVersion = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]
AnswerValue = Literal["yes", "partial", "no"]


class NewerModelError(FormatError):
    """An assessment against a model version this installation does not have yet, newer than
    its packaged one: upgrade the software (ledger, terminal or verifier) to read it."""

    def __init__(self, version: str, installed: str) -> None:
        super().__init__(
            f"assessment event: model: maturity model version {version} is newer than this "
            f"installation's ({installed}): upgrade spola to read it"
        )
        self.version = version
        self.installed = installed


def version_key(version: str) -> tuple[int, int]:
    """``YYYY.N`` as numbers, so that 2026.10 comes after 2026.9."""
    year, number = version.split(".")
    return int(year), int(number)


@dataclass(frozen=True)
class ModelHistory:
    """The published versions of the packaged model, oldest first, and when each question came."""

    versions: tuple[str, ...]  # the last is the packaged (current) version
    since: Mapping[str, int]  # question id → position in ``versions`` of the one introducing it

    @classmethod
    def of(
        cls, current: str, versions: Sequence[str], introduced: Iterable[tuple[str, str]]
    ) -> Self:
        """The history of a model at version ``current`` that published ``versions`` (oldest
        first) and introduced each question (id, version) of ``introduced``; ValueError
        naming what does not hold together. ``scoring.maturity`` builds its model's history
        here too: what a version asked is decided in this one place."""
        published, pairs = tuple(versions), list(introduced)
        problem = history_problem(current, published, pairs)
        if problem is not None:
            raise ValueError(problem)
        position = {v: n for n, v in enumerate(published)}
        return cls(published, {q: position[v] for q, v in pairs})

    @classmethod
    def from_document(cls, data: Any) -> Self:
        """The history of a model document; FormatError if it does not hold together."""
        try:
            versions = tuple(str(v["version"]) for v in data["versions"])
            current = str(data["version"])
            introduced = [(str(q["id"]), str(q["since"])) for q in data["questions"]]
        except (KeyError, TypeError) as exc:
            raise FormatError(f"maturity model: missing {exc}") from None
        try:
            return cls.of(current, versions, introduced)
        except ValueError as exc:
            raise FormatError(f"maturity model: {exc}") from None

    @property
    def current(self) -> str:
        return self.versions[-1]

    def check_version(self, version: str) -> int:
        """The position of published ``version``; NewerModelError or ValueError otherwise."""
        if version in self.versions:
            return self.versions.index(version)
        if version_key(version) > version_key(self.current):
            raise NewerModelError(version, self.current)
        published = ", ".join(self.versions)
        raise ValueError(
            f"model: unknown maturity model version {version} (published: {published})"
        )

    def questions(self, version: str) -> frozenset[str]:
        """The question ids of published ``version``: those introduced in it or before."""
        at = self.check_version(version)
        return frozenset(q for q, since in self.since.items() if since <= at)


def history_problem(
    current: str, versions: tuple[str, ...], introduced: list[tuple[str, str]]
) -> str | None:
    """What is wrong with a model's version history, if anything."""
    if not versions or any(re.fullmatch(VERSION_PATTERN, v) is None for v in versions):
        return "versions lists the published versions, each YYYY.N"
    keys = [version_key(v) for v in versions]
    if any(a >= b for a, b in pairwise(keys)):
        return "versions are listed once each, oldest first"
    if current != versions[-1]:
        return f"current version {current} is not the last published one ({versions[-1]})"
    for question, since in introduced:
        if since not in versions:
            return f"question {question} is introduced in {since}, which is not published"
    return None


def model_document() -> Any:
    """The packaged maturity model document, as JSON (read each call: callers cache)."""
    package, name = MODEL_RESOURCE
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def model_history() -> ModelHistory:
    """The packaged model's version history, read once."""
    return ModelHistory.from_document(model_document())


class CertificateRef(StrictModel):
    """A certificate the company holds, named as its material and process events name it."""

    scheme: Scheme
    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Answer(StrictModel):
    question: QuestionId
    answer: AnswerValue
    certificate: CertificateRef | None = None
    note: Text | None = None


class AssessmentEvent(Event):
    """A self-assessment against maturity model ``model`` on ``date``."""

    type_name: ClassVar[str] = "assessment"

    type: Literal["assessment"]
    model: ModelVersion
    date: Day
    answers: list[Answer] = Field(min_length=1, max_length=MAX_ANSWERS)

    @model_validator(mode="after")
    def _well_formed(self) -> Self:
        if self.date > self.time[:10]:
            raise ValueError(f"date: {self.date} is after the event's time {self.time}")
        seen: set[str] = set()
        for answer in self.answers:
            if answer.question in seen:
                raise ValueError(f"answers: question {answer.question} is answered twice")
            seen.add(answer.question)
        # NewerModelError is not a ValueError: it leaves the validation as it is, typed.
        known = model_history().questions(self.model)
        unknown = sorted(seen - known)
        if unknown:
            raise ValueError(f"answers: model {self.model} has no question {unknown[0]}")
        return self


EVENT_MODELS[AssessmentEvent.type_name] = AssessmentEvent
