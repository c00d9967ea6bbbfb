"""The ``profile`` event: what an actor declares about itself for the supplier directory.

An actor signs, with its own key, the processes it offers and the materials it handles
(catalogue ids), the certificates it holds (scheme, id, issuer, validity), a contact text and
which figures of its track record the public may see. These are *declarations*: the directory
(``ledger.store.directory``) shows an offered process as verified only when applied events of
that actor performed it, and derives every figure of the track record from the log alone.

Volumes are the one figure hidden unless the actor lists it in ``public_figures``. The latest
profile event of an actor replaces the earlier ones. Its one domain rule (``ledger.rules``) is
that every offered process and handled material is in the catalogue; it has no effects.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Final, Literal, Self, get_args

from pydantic import Field, StringConstraints, model_validator

from ledger.events import EVENT_MODELS, Event
from ledger.supply import Certificate
from ledger.supply_fields import CatalogueId

Figure = Literal[
    "volumes",  # kg processed by process and material
    "partners",  # distinct actors handed over to or received from
    "acceptance",  # share of handovers received that the actor accepted
    "certified",  # share of the actor's making events with certified output
    "distance",  # mean distance of its handovers
    "services",  # repairs, take-backs and recyclings performed
    "maturity",  # the maturity level, when an assessment exists
]
FIGURES: Final[tuple[Figure, ...]] = get_args(Figure)
DEFAULT_PUBLIC: Final[tuple[Figure, ...]] = tuple(f for f in FIGURES if f != "volumes")
MAX_OFFERS: Final = 64
Contact = Annotated[str, StringConstraints(min_length=1, max_length=500)]


def _distinct(values: list[str], what: str) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"{what}: an id appears twice")


class ProfileEvent(Event):
    """An actor's declared directory profile; signed by the actor itself."""

    type_name: ClassVar[str] = "profile"

    type: Literal["profile"]
    processes: list[CatalogueId] = Field(default_factory=list, max_length=MAX_OFFERS)
    materials: list[CatalogueId] = Field(default_factory=list, max_length=MAX_OFFERS)
    certificates: list[Certificate] = Field(default_factory=list, max_length=16)
    contact: Contact | None = None
    public_figures: list[Figure] = Field(
        default_factory=lambda: list(DEFAULT_PUBLIC), max_length=len(FIGURES)
    )

    @model_validator(mode="after")
    def _unique(self) -> Self:
        _distinct(self.processes, "processes")
        _distinct(self.materials, "materials")
        _distinct(list(self.public_figures), "public_figures")
        return self


EVENT_MODELS[ProfileEvent.type_name] = ProfileEvent
