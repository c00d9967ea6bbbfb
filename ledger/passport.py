"""The ``passport`` event: a brand's signed issue (or re-issue) of a digital product passport.

The brand signs what only it knows — the product's name and category, where it was made, how to
care for, repair and return it, the compliance documents behind it. Everything else a passport
shows (materials, journey, certificates, lifecycle) is derived from the log by ``passports``, so
the passport cannot say more than the signed events behind it.

The subject is a GS1 Digital Link path: an item ``/01/{gtin}/21/{serial}`` or a batch
``/01/{gtin}/10/{lot}``, the identifier its QR code carries. Whether the signer may issue it (a
brand that made or owns the item, or holds the batch; a re-issue only by the first issuer) is a
domain rule in ``ledger.rules``.

``PassportFacts`` is the whole input of ``passports.build``: the applied entries behind one
version of a passport — those that made the subject or anything upstream of it, moved any of
those (handovers and receipts), happened to the subject after it was made (lifecycle) or issued
its passport, none after the version's log index — and the actors' profiles as they stood then.
The store gathers them (``ledger.store.passports``), the offline verifier from a bundle; the
same facts always build the same passport. ``passport_versions`` derives a subject's versions
from the events alone, as the store does from its custody rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, ClassVar, Final, Literal, Self

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from ledger.errors import FormatError
from ledger.events import (
    EVENT_MODELS,
    ActorEvent,
    ActorId,
    Country,
    Event,
    HexHash,
    StrictModel,
    Text,
)
from ledger.identifiers import DigitalLink
from ledger.supply import LifecycleEvent
from ledger.supply_fields import Amount

MAX_CARE: Final = 12
MAX_DOCUMENTS: Final = 16


def _subject(value: str) -> str:
    try:
        link = DigitalLink.parse(value)
    except FormatError as exc:
        raise ValueError(f"a passport subject is a GS1 Digital Link path: {exc}") from None
    if link.granularity not in ("item", "batch") or link.cpv is not None:
        raise ValueError(
            "a passport is for an item /01/{gtin}/21/{serial} or a batch /01/{gtin}/10/{lot}"
        )
    if link.path() != value:
        raise ValueError(f"write the subject as {link.path()}")
    return value


def _https(value: str) -> str:
    if not value.startswith("https://") or any(c.isspace() for c in value):
        raise ValueError("a document URL is an https:// URL without spaces")
    return value


Subject = Annotated[str, StringConstraints(max_length=120), AfterValidator(_subject)]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
Url = Annotated[str, StringConstraints(max_length=300), AfterValidator(_https)]
Category = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,39}$")]
# A BCP 47 language tag of the common shapes: a language, then a script or region (it, en-GB,
# sr-Latn, zh-Hant-TW).
LANGUAGE_TAG: Final = r"^[a-z]{2,3}(-[A-Za-z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$"
Language = Annotated[str, StringConstraints(pattern=LANGUAGE_TAG)]


class Product(StrictModel):
    """What the brand declares of the product; the ESPR unique identifier is the subject."""

    name: Text
    category: Category  # e.g. scarf, jacket, bag: the key for category averages in scoring
    description: LongText | None = None
    country: Country  # of manufacture (the last substantial transformation)
    region: Text | None = None
    lifetime_years: Amount | None = None  # the brand's declared expected lifetime
    # The language the brand wrote this passport's texts in (name, description, instructions,
    # document titles): pages mark them with it, so that they are read aloud in it.
    lang: Language | None = None


class Instructions(StrictModel):
    """Care, repair and take-back, in the brand's words; services name registered actors."""

    care: list[Text] = Field(default_factory=list, max_length=MAX_CARE)
    repair: LongText | None = None
    repair_service: ActorId | None = None
    take_back: LongText | None = None
    take_back_service: ActorId | None = None


DocumentKind = Literal[
    "declaration-of-conformity", "technical-documentation", "certificate", "test-report", "other"
]


class Document(StrictModel):
    """A compliance document, pinned by its SHA-256 when the brand gives one."""

    kind: DocumentKind
    title: Text
    url: Url
    sha256: HexHash | None = None


class PassportEvent(Event):
    """Issues (first time) or re-issues the passport of ``subject``."""

    type_name: ClassVar[str] = "passport"

    type: Literal["passport"]
    subject: Subject
    product: Product
    instructions: Instructions = Instructions()
    documents: list[Document] = Field(default_factory=list, max_length=MAX_DOCUMENTS)

    @model_validator(mode="after")
    def _services(self) -> Self:
        if self.instructions.repair_service and not self.instructions.repair:
            raise ValueError("instructions.repair: say how to get a repair when naming a service")
        return self

    @property
    def link(self) -> DigitalLink:
        return DigitalLink.parse(self.subject)


EVENT_MODELS[PassportEvent.type_name] = PassportEvent


@dataclass(frozen=True)
class Fact:
    index: int
    event: Event


@dataclass(frozen=True)
class VersionRef:
    """Version ``number`` of a passport: the state of the log after entry ``index``."""

    number: int
    index: int
    cause: str  # passport, sold, resold, rented, repaired, taken-back, recycled


@dataclass(frozen=True)
class PassportFacts:
    subject: str
    versions: tuple[VersionRef, ...]  # every version up to and including the one built
    facts: tuple[Fact, ...]  # in log order, none after the version's index
    actors: Mapping[str, ActorEvent]  # each actor's profile as of the version's index

    @property
    def version(self) -> VersionRef:
        return self.versions[-1]

    @property
    def issue(self) -> Fact:
        """The latest passport event: the brand's declarations this version shows."""
        issued = [f for f in self.facts if isinstance(f.event, PassportEvent)]
        if not issued:
            raise ValueError(f"no passport event for {self.subject} among the facts")
        return issued[-1]


# The version cause of each lifecycle kind: the custody action ``ledger.rules`` records for it
# and ``ledger.store.passports`` looks up (kept here because ``ledger.rules`` imports this
# module).
LIFECYCLE_CAUSES: Final = {
    "sale": "sold",
    "resale": "resold",
    "rental": "rented",
    "repair": "repaired",
    "take-back": "taken-back",
    "recycling": "recycled",
}


def passport_versions(subject: str, facts: Iterable[Fact]) -> list[VersionRef]:
    """The versions of the passport of ``subject``, from applied facts in log order.

    Version 1 is the first passport event of the subject; every later passport event of it and
    every lifecycle event of the item starts the next one. Empty when it has no passport.
    """
    found: list[VersionRef] = []
    for fact in facts:
        event = fact.event
        cause = None
        if isinstance(event, PassportEvent) and event.subject == subject:
            cause = "passport"
        elif found and isinstance(event, LifecycleEvent) and event.item == subject:
            cause = LIFECYCLE_CAUSES[event.kind]
        if cause is not None and (not found or found[-1].index != fact.index):
            found.append(VersionRef(len(found) + 1, fact.index, cause))
    return found
