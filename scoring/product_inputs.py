"""A product's MCI inputs, read from its passport document, each with where it came from.

This module maps one passport document (``passports.build``) onto ``scoring.mci`` inputs:
feedstock from the material events upstream, the sustained-production share only where a valid
sourcing certificate backs it, efficiencies from the catalogue, utility from the declared
lifetime against the category average (``scoring/data/category_lifetimes.json``, loaded and
checked here) and from the item's repairs, resales and rentals, end of life from the item's own
take-back and recycling facts. Whatever the facts do not say counts as linear (virgin
feedstock, landfill). ``scoring.product`` computes the MCI from these inputs and explains it
(flags, data quality); the lifetime's own flags are raised here, where the averages are read.
Nothing is read from a database here; docs/scoring.md documents each rule and its source.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledger.canonical import parse_json
from ledger.catalogue import catalogue
from ledger.errors import FormatError
from ledger.passport import PassportFacts
from ledger.supply import LifecycleEvent
from scoring.errors import ScoringInputError
from scoring.mci import MaterialFlows, Method, check_material
from scoring.transport import Source

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)
DATA_PATH: Final = ("data", "category_lifetimes.json")
ASSUMED: Final = "spola-assumption"  # the source id of averages no publication backs
# Certification schemes that attest how a renewable material was sourced (organic farming,
# land and animal management, forestry, certified bio-based chains). Schemes about chemicals
# (OEKO-TEX, bluesign), tanneries (LWG, ICEC), recycled content (GRS, RCS) or jewellery do not.
SOURCING_SCHEMES: Final = frozenset(
    {"GOTS", "OCS", "RWS", "RMS", "RAS", "GCS", "Better-Cotton", "Fairtrade",
     "European-Flax", "FSC", "PEFC", "ISCC-PLUS"}
)  # fmt: skip
RECYCLING_ROUTES: Final = frozenset(
    {"mechanical-recycling", "chemical-recycling", "metal-recovery"}
)
RESALE_INTENSITY: Final = Decimal("0.25")  # use added by one resale, of an average use phase
RENTAL_INTENSITY: Final = Decimal("0.02")  # use added by one rental (a few wears)
EndOfLife = Literal["measured", "estimated", "unknown"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CategoryLifetime(_Model):
    years: Decimal = Field(gt=0, allow_inf_nan=False)
    source: str
    note: str


class CategoryAverages(_Model):
    """The pinned, versioned average lifetimes per product category, each row cited."""

    version: str
    note: str
    sources: dict[str, Source]
    repair_extension_years: Decimal = Field(ge=0, allow_inf_nan=False)
    repair_extension_source: str
    categories: dict[str, CategoryLifetime]

    def lifetime(self, category: str) -> CategoryLifetime | None:
        return self.categories.get(category)


def load_averages(data: bytes) -> CategoryAverages:
    """Parse and check a category-lifetimes file; FormatError says what is wrong."""
    parse_json(data, max_bytes=64 * 1024, max_depth=6, what="category lifetimes")
    try:
        averages = CategoryAverages.model_validate_json(data)
    except ValidationError as exc:
        raise FormatError(f"category lifetimes: {exc.errors()[0]['msg']}") from None
    cited = [averages.repair_extension_source, *(r.source for r in averages.categories.values())]
    unknown = sorted(set(cited) - set(averages.sources))
    if unknown:
        raise FormatError(f"category lifetimes: undeclared sources {', '.join(unknown)}")
    return averages


@functools.cache
def category_averages() -> CategoryAverages:
    """The averages shipped with this release, loaded and checked once."""
    return load_averages(resources.files("scoring").joinpath(*DATA_PATH).read_bytes())


@dataclass(frozen=True)
class Flag:
    """Why a score is less than fully measured: a code, a plain explanation, what it concerns."""

    code: str
    explanation: str
    materials: tuple[str, ...] = ()


@dataclass(frozen=True)
class MaterialInput:
    """One material's MCI flows and where each came from."""

    material: str
    fraction: Decimal
    flows: MaterialFlows
    traced: bool
    renewable: Decimal  # the declared renewable share (0 when untraced)
    renewable_certified: bool
    end_of_life: EndOfLife

    @property
    def uncertified(self) -> bool:
        """Renewable, but no valid sourcing certificate backs every origin."""
        return self.renewable > 0 and not self.renewable_certified


@dataclass(frozen=True)
class Utility:
    category: str
    declared_years: Decimal | None
    average_years: Decimal | None
    repairs: int
    resales: int
    rentals: int
    lifetime_ratio: Decimal
    intensity_ratio: Decimal
    averages_version: str


def recycled_output_kg(facts: PassportFacts) -> Decimal | None:
    """The mass of recycled lots the subject's own recycling event made; None if not recycled."""
    for fact in facts.facts:
        event = fact.event
        if isinstance(event, LifecycleEvent) and event.item == facts.subject:
            if event.kind != "recycling":
                continue
            masses = (
                o.quantity.quantity.as_mass(
                    None if o.mass_per_unit is None else o.mass_per_unit.quantity
                )
                for o in event.outputs
            )
            return sum(masses, ZERO)
    return None


def _number(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise ScoringInputError(field, f"is not a decimal number: {value!r}") from None
    if not number.is_finite():
        raise ScoringInputError(field, "is not a finite decimal number")
    return number


def _backed_entries(certificates: Sequence[Mapping[str, Any]]) -> set[int]:
    """Entries cited by a sourcing certificate valid on the day it was used."""
    return {
        int(index)
        for cert in certificates
        if cert.get("valid_at_use") and cert.get("scheme") in SOURCING_SCHEMES
        for index in cert.get("entries", ())
    }


def _end_of_life(
    material: str, circularity: Mapping[str, Any], recovered: Decimal | None
) -> tuple[Decimal, Decimal, EndOfLife]:
    """(C_R, E_C, how it was found) for one material of this item."""
    row = catalogue().material(material)
    if circularity.get("recycled") and recovered is not None:
        return recovered, ONE, "measured"  # the measured yield; the rest counts as waste
    if circularity.get("recycled") or circularity.get("taken_back"):
        if (
            row is not None
            and RECYCLING_ROUTES & set(row.end_of_life)
            and row.recycling_efficiency.e_c > 0
        ):
            return ONE, row.recycling_efficiency.e_c, "estimated"
        return ZERO, ONE, "estimated"  # collected, but no recycling route: landfill
    return ZERO, ONE, "unknown"


@dataclass(frozen=True)
class _Context:
    backed: set[int]  # entries a valid sourcing certificate cites
    method: Method
    circularity: Mapping[str, Any]
    recovered: Decimal | None  # measured share of the item recycled into new lots
    scale: Decimal  # kg of product (1 when the passport has no mass)


def _material(raw: Mapping[str, Any], where: str, ctx: _Context) -> MaterialInput:
    material = str(raw.get("material"))
    fraction = _number(raw.get("fraction"), f"{where}.fraction")
    traced = bool(raw.get("traced"))
    row = catalogue().material(material)
    fr = fu = fs = renewable = ZERO
    certified = False
    if traced:
        fr = _number(raw.get("recycled", "0"), f"{where}.recycled")
        fu = _number(raw.get("reused", "0"), f"{where}.reused")
        renewable = _number(raw.get("renewable", "0"), f"{where}.renewable")
        origins = {int(o["index"]) for o in raw.get("origins", ())}
        certified = bool(origins) and origins <= ctx.backed and renewable > 0
        if certified and ctx.method == "2019":
            fs = min(renewable, max(ZERO, ONE - fr - fu))
    ef = ONE if row is None else row.recycling_efficiency.e_f
    cr, ec, eol = _end_of_life(material, ctx.circularity, ctx.recovered)
    flows = MaterialFlows(mass_kg=fraction * ctx.scale, fr=fr, fu=fu, fs=fs, cr=cr, ef=ef, ec=ec)
    check_material(flows, ctx.method, where)  # named by its place in the document, not in mci()
    return MaterialInput(material, fraction, flows, traced, renewable, certified, eol)


def material_inputs(
    passport_doc: Mapping[str, Any], method: Method, recycled_output_kg: Decimal | None
) -> tuple[tuple[MaterialInput, ...], Decimal | None]:
    """Each material with a share, as MCI flows; and the product's mass when the document has it."""
    materials = passport_doc.get("materials", ())
    raw = [
        (i, m)
        for i, m in enumerate(materials)
        if _number(m.get("fraction"), f"materials[{i}].fraction") > 0
    ]
    if not raw:
        raise ScoringInputError("materials", "the passport lists no material with a share")
    mass_raw = passport_doc.get("product", {}).get("restricted", {}).get("mass_kg")
    mass = None if mass_raw is None else _number(mass_raw, "product.restricted.mass_kg")
    recovered = None
    if recycled_output_kg is not None and mass:
        recovered = min(ONE, recycled_output_kg / mass)
    backed = _backed_entries(passport_doc.get("certificates", ()))
    circularity = passport_doc.get("circularity", {})
    ctx = _Context(backed, method, circularity, recovered, mass if mass else ONE)
    return tuple(_material(m, f"materials[{i}]", ctx) for i, m in raw), mass


def utility(
    product: Mapping[str, Any], circularity: Mapping[str, Any], averages: CategoryAverages
) -> tuple[Utility, list[Flag]]:
    """L/L_av with repairs extending the lifetime; U/U_av from resales and rentals."""
    flags: list[Flag] = []
    category = str(product.get("category", ""))
    declared_raw = product.get("lifetime_years")
    declared = None if declared_raw is None else _number(declared_raw, "product.lifetime_years")
    row = averages.lifetime(category)
    repairs = int(circularity.get("repairs", 0))
    resales = int(circularity.get("resales", 0))
    rentals = int(circularity.get("rentals", 0))
    if row is None:
        ratio = ONE
        flags.append(Flag("category-average-missing", f"no average lifetime for the category "
                          f"{category!r}: the lifetime ratio is taken as 1 and repairs are not "
                          "counted"))  # fmt: skip
    else:
        years = row.years if declared is None or declared <= 0 else declared
        if declared is None or declared <= 0:
            flags.append(Flag("lifetime-not-declared", "the brand declared no expected "
                              "lifetime: the category average is used (ratio 1)"))  # fmt: skip
        ratio = (years + repairs * averages.repair_extension_years) / row.years
        if row.source == ASSUMED:
            flags.append(
                Flag(
                    "category-average-assumed",
                    f"the average lifetime of a {category} "
                    f"({row.years} years) is an assumption, not a published figure",
                )
            )
        if declared is not None and declared > row.years:
            flags.append(Flag("lifetime-declared", f"the brand declares {declared} years against "
                              f"a category average of {row.years}: the lifetime ratio rests on "
                              "that declaration, not on a measurement"))  # fmt: skip
    intensity = ONE + resales * RESALE_INTENSITY + rentals * RENTAL_INTENSITY
    found = Utility(
        category, declared, None if row is None else row.years, repairs, resales, rentals,
        ratio, intensity, averages.version,
    )  # fmt: skip
    return found, flags
