"""Short chain: distances between facilities, tonne-kilometres, CO2e and local shares.

This module owns the transport arithmetic of a product's chain: the great-circle distance
between two facilities' coordinates, a leg's distance (declared, or estimated as great-circle times
the mode's circuity), its t·km and its CO2e with the pinned factor set
(``scoring/data/transport_factors.json``, loaded once, with its ``version``), and the share of
a chain made in Lombardy and in Italy, by mass and by number of steps. Where the legs and
steps come from (ledger facts) is not its business; docs/scoring.md cites every factor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledger import geo
from ledger.canonical import parse_json
from ledger.errors import FormatError, LedgerError
from scoring.errors import ScoringInputError

EARTH_RADIUS_KM: Final = geo.EARTH_RADIUS_KM
DATA_PACKAGE: Final = "scoring"
DATA_PATH: Final = ("data", "transport_factors.json")
MAX_FILE_BYTES: Final = 64 * 1024
KG_PER_TONNE: Final = Decimal(1000)

# Names a step's region may carry for Lombardy: English, Italian, ISO 3166-2.
LOMBARDY: Final = frozenset({"lombardy", "lombardia", "it-25"})
ITALY: Final = "IT"  # ISO 3166-1 alpha-2, as actor and facility events carry it

NonNegative = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Circuity = Annotated[Decimal, Field(ge=1, le=3, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Model):
    """A publication a factor is taken from."""

    title: str
    publisher: str
    year: int
    url: str


class ModeFactor(_Model):
    """One transport mode: its emission intensity and circuity, each with its source's id."""

    description: str
    co2e_kg_per_tkm: NonNegative
    co2e_source: str
    circuity: Circuity
    circuity_source: str


class FactorSet(_Model):
    """The pinned, versioned factor set; every factor names a source declared in the set."""

    version: str
    note: str
    sources: dict[str, Source]
    modes: dict[str, ModeFactor]

    def mode(self, name: str) -> ModeFactor:
        found = self.modes.get(name)
        if found is None:
            known = ", ".join(sorted(self.modes))
            raise ScoringInputError("mode", f"unknown transport mode {name!r} (known: {known})")
        return found


def load_factors(data: bytes) -> FactorSet:
    """Parse and check a factor-set file; FormatError says what is wrong."""
    try:
        obj = parse_json(data, max_bytes=MAX_FILE_BYTES, max_depth=4, what="transport factors")
        factors = FactorSet.model_validate(obj)
    except ValidationError as exc:
        raise FormatError(f"transport factors: {exc.errors()[0]['msg']}") from None
    except LedgerError as exc:
        raise FormatError(f"transport factors: {exc}") from None
    for name, mode in factors.modes.items():
        for source in (mode.co2e_source, mode.circuity_source):
            if source not in factors.sources:
                raise FormatError(f"transport factors: mode {name} cites unknown source {source}")
    return factors


def _packaged_factors() -> FactorSet:
    return load_factors(resources.files(DATA_PACKAGE).joinpath(*DATA_PATH).read_bytes())


# The packaged set is small, pure data and read once; a broken file fails at import, in tests.
FACTORS: Final = _packaged_factors()


def great_circle_km(lat1: Decimal, lon1: Decimal, lat2: Decimal, lon2: Decimal) -> Decimal:
    """``ledger.geo.great_circle_km``, refusing coordinates off the globe as a scoring input."""
    try:
        return geo.great_circle_km(lat1, lon1, lat2, lon2)
    except geo.CoordinateError as exc:
        raise ScoringInputError(exc.field, exc.problem) from None


@dataclass(frozen=True)
class Leg:
    """One transport leg: distance, whether it was estimated, t·km and kg CO2e.

    ``estimated`` is True when ``km`` is great-circle times ``circuity`` rather than declared
    (``circuity`` is then the factor used; 1 for a declared distance). ``factors_version`` names
    the factor set the CO2e was computed with.
    """

    mode: str
    km: Decimal
    estimated: bool
    circuity: Decimal
    tkm: Decimal
    co2e_kg_per_tkm: Decimal
    co2e_kg: Decimal
    factors_version: str


def _leg_km(
    factor: ModeFactor,
    distance_km: Decimal | None,
    origin: tuple[Decimal, Decimal] | None,
    destination: tuple[Decimal, Decimal] | None,
) -> tuple[Decimal, bool, Decimal]:
    if distance_km is not None:
        if not isinstance(distance_km, Decimal) or not distance_km.is_finite() or distance_km < 0:
            raise ScoringInputError("distance_km", "must be a decimal number of km, 0 or more")
        return distance_km, False, Decimal(1)
    if origin is None or destination is None:
        missing = "origin" if origin is None else "destination"
        raise ScoringInputError(missing, "needed (with the other end) when no distance_km")
    try:
        crow = great_circle_km(origin[0], origin[1], destination[0], destination[1])
    except ScoringInputError as exc:
        end = "origin" if exc.field.endswith("1") else "destination"
        axis = "lat" if exc.field.startswith("lat") else "lon"
        raise ScoringInputError(f"{end}.{axis}", exc.problem) from None
    return crow * factor.circuity, True, factor.circuity


def leg(
    mode: str,
    *,
    mass_kg: Decimal,
    distance_km: Decimal | None = None,
    origin: tuple[Decimal, Decimal] | None = None,
    destination: tuple[Decimal, Decimal] | None = None,
    factors: FactorSet = FACTORS,
) -> Leg:
    """A leg of ``mass_kg`` by ``mode``: a declared ``distance_km`` wins over coordinates.

    ``origin`` and ``destination`` are (latitude, longitude) in degrees. Raises
    ScoringInputError naming the field for an unknown mode or impossible input.
    """
    factor = factors.mode(mode)
    if not isinstance(mass_kg, Decimal) or not mass_kg.is_finite() or mass_kg <= 0:
        raise ScoringInputError("mass_kg", "must be a decimal number of kg over 0")
    km, estimated, circuity = _leg_km(factor, distance_km, origin, destination)
    tkm = mass_kg / KG_PER_TONNE * km
    return Leg(
        mode=mode,
        km=km,
        estimated=estimated,
        circuity=circuity,
        tkm=tkm,
        co2e_kg_per_tkm=factor.co2e_kg_per_tkm,
        co2e_kg=tkm * factor.co2e_kg_per_tkm,
        factors_version=factors.version,
    )


@dataclass(frozen=True)
class Step:
    """One step of a chain, where it was made: ``country`` is ISO 3166-1 alpha-2."""

    region: str | None
    country: str
    mass_kg: Decimal


@dataclass(frozen=True)
class Share:
    """A place's share of a chain: by mass (None when the chain has no mass) and by steps."""

    by_mass: Decimal | None
    by_steps: Decimal


@dataclass(frozen=True)
class LocalShares:
    steps: int
    mass_kg: Decimal
    lombardy: Share
    italy: Share


def in_italy(step: Step) -> bool:
    return step.country.upper() == ITALY


def in_lombardy(step: Step) -> bool:
    region = (step.region or "").strip().lower()
    return in_italy(step) and region in LOMBARDY


def _share(steps: tuple[Step, ...], total: Decimal, where: Callable[[Step], bool]) -> Share:
    local = [s for s in steps if where(s)]
    mass = sum((s.mass_kg for s in local), Decimal(0))
    return Share(
        by_mass=mass / total if total > 0 else None,
        by_steps=Decimal(len(local)) / Decimal(len(steps)),
    )


def local_shares(steps: Iterable[Step]) -> LocalShares:
    """Shares of ``steps`` made in Lombardy and in Italy, by mass and by number of steps."""
    chain = tuple(steps)
    if not chain:
        raise ScoringInputError("steps", "needs at least one step")
    for position, step in enumerate(chain):
        if not isinstance(step.mass_kg, Decimal) or not step.mass_kg.is_finite():
            raise ScoringInputError(f"steps[{position}].mass_kg", "must be a decimal number")
        if step.mass_kg < 0:
            raise ScoringInputError(f"steps[{position}].mass_kg", "must be 0 or more")
    total = sum((s.mass_kg for s in chain), Decimal(0))
    return LocalShares(
        steps=len(chain),
        mass_kg=total,
        lombardy=_share(chain, total, in_lombardy),
        italy=_share(chain, total, in_italy),
    )
