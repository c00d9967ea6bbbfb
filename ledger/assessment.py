"""The ``assessment`` event: a company's signed maturity self-assessment.

A company (signed by one of its own keys: the registry already refuses an event whose ``actor``
is not the signer's) answers the questions of the maturity model version ``model`` as it stood
on ``date``: each answer ``yes``, ``partial`` or ``no``, optionally citing a certificate that
backs it and a short note. Scoring — what the answers and the ledger's own evidence are worth —
is ``scoring.maturity``'s; this module only decides what a well-formed assessment is.

At parse time, so at admission, it refuses unknown answer values, a question answered twice,
a date after the event's time, and a question id the packaged model version does not have.
The model is the core's package data (``ledger/data/maturity_model.json``, beside the
catalogue), read lazily on the first assessment and cached: importing this module reads no
file. Published question ids are never removed from the model (see docs/scoring.md), so a
logged assessment always parses again.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Annotated, ClassVar, Final, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from ledger.events import EVENT_MODELS, Day, Event, Scheme, StrictModel, Text

MAX_ANSWERS: Final = 200
MODEL_RESOURCE: Final = ("ledger", "data/maturity_model.json")

QuestionId = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,4}-[0-9]{1,3}$")]
ModelVersion = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}\.[0-9]{1,3}$")]
AnswerValue = Literal["yes", "partial", "no"]


@cache
def model_questions() -> tuple[str, frozenset[str]]:
    """(version, question ids) of the packaged maturity model, read once."""
    package, name = MODEL_RESOURCE
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    data = json.loads(text)
    return str(data["version"]), frozenset(str(q["id"]) for q in data["questions"])


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
        version, known = model_questions()
        if self.model != version:
            raise ValueError(f"model: unknown maturity model version {self.model!r} ({version})")
        unknown = sorted(seen - known)
        if unknown:
            raise ValueError(f"answers: model {version} has no question {unknown[0]}")
        return self


EVENT_MODELS[AssessmentEvent.type_name] = AssessmentEvent
