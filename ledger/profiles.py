"""What the supplier directory knows of an actor: places, offers, certificates, figures.

Value types shared by the store (``ledger.store.directory`` gathers them from profiles and
applied events) and by ``scoring.directory`` (which filters and ranks them): facts, no policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from ledger.geo import great_circle_km

# A lifecycle recycling event does not say how: it evidences either recycling process.
RECYCLING: Final = ("mechanical-recycling", "chemical-recycling")
LIFECYCLE_PROCESSES: Final[Mapping[str, tuple[str, ...]]] = {
    "recycling": RECYCLING,
    "repair": ("repair",),
    "take-back": ("take-back",),
}


@dataclass(frozen=True)
class Place:
    """A facility: where a candidate works or a step was done."""

    lat: Decimal
    lon: Decimal
    name: str | None = None
    town: str | None = None
    region: str | None = None
    country: str | None = None

    def km_to(self, other: Place) -> Decimal:
        return great_circle_km(self.lat, self.lon, other.lat, other.lon)


@dataclass(frozen=True)
class Offer:
    """A process or material: ``declared`` in the profile, performed in ``entries``."""

    id: str
    declared: bool
    entries: tuple[int, ...] = ()

    @property
    def verified(self) -> bool:
        return bool(self.entries)


@dataclass(frozen=True)
class HeldCertificate:
    scheme: str
    id: str
    issuer: str
    valid_from: date
    valid_until: date
    entries: tuple[int, ...] = ()  # applied events that carried a certificate of this scheme

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_until


@dataclass(frozen=True)
class Candidate:
    """An actor as the directory ranks it: only figures the viewer may see are in ``record``."""

    actor: str
    name: str
    country: str
    region: str | None
    places: tuple[Place, ...]
    processes: tuple[Offer, ...]
    materials: tuple[Offer, ...]
    certificates: tuple[HeldCertificate, ...]
    record: Mapping[str, Decimal]  # acceptance, certified (shares), partners (count)

    def offer(self, process: str) -> Offer | None:
        return next((o for o in self.processes if o.id == process), None)

    def certified_on(self, day: date, scheme: str | None = None) -> list[HeldCertificate]:
        return [
            c
            for c in self.certificates
            if c.valid_on(day) and (scheme is None or c.scheme.casefold() == scheme.casefold())
        ]

    def nearest(self, point: Place) -> tuple[Place, Decimal] | None:
        found = [(p, point.km_to(p)) for p in self.places]
        return min(found, key=lambda pair: pair[1]) if found else None
