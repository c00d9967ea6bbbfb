"""A company's circularity: its products' MCI aggregated, and WBCSD CTI inflow and outflow.

``company_mci`` is the Ellen MacArthur Foundation's company-level MCI: the mean of the product
MCIs weighted by a declared normalising factor (mass or revenue). ``cti`` is the core of the
WBCSD Circular Transition Indicators: % circular inflow, % circular outflow and % circularity
(their mass-weighted average) over ``Flow`` values — one per inflow or outflow the ledger shows.
Which flows a company has, and their fractions, is the store's and the caller's business
(``ledger.store.circularity``); docs/scoring.md says which CTI steps the ledger supports and
which it simplifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

from ledger.quantities import format_decimal
from scoring.errors import ScoringInputError
from scoring.mci import quantized
from scoring.product import ProductCircularity, Quality
from scoring.product_inputs import SOURCING_SCHEMES

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)
PLACES: Final = Decimal("0.000001")
Weighting = Literal["mass", "revenue"]
_QUALITY_ORDER: Final[tuple[Quality, ...]] = ("measured", "partly estimated", "mostly estimated")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format_decimal(quantized(value, PLACES))


@dataclass(frozen=True)
class ProductShare:
    subject: str
    weight: Decimal
    share: Decimal
    mci: Decimal
    data_quality: Quality


@dataclass(frozen=True)
class CompanyMci:
    """The weighted mean of product MCIs; ``mci`` is None for a company without products."""

    weighting: Weighting
    mci: Decimal | None
    total_weight: Decimal
    products: tuple[ProductShare, ...]
    data_quality: Quality | None  # the weakest of its products'

    def to_json(self) -> dict[str, Any]:
        return {
            "weighting": self.weighting,
            "mci": _text(self.mci),
            "total_weight": _text(self.total_weight),
            "data_quality": self.data_quality,
            "products": [
                {"subject": p.subject, "weight": _text(p.weight), "share": _text(p.share),
                 "mci": _text(p.mci), "data_quality": p.data_quality}
                for p in self.products
            ],
        }  # fmt: skip


def company_mci(
    products: Sequence[tuple[ProductCircularity, Decimal]], weighting: Weighting
) -> CompanyMci:
    """MCI_company = Σ w_i · MCI_i / Σ w_i (EMF 2015, company-level MCI)."""
    if weighting not in ("mass", "revenue"):
        raise ScoringInputError("weighting", f"is mass or revenue, not {weighting!r}")
    for position, (_, weight) in enumerate(products):
        if not isinstance(weight, Decimal) or not weight.is_finite() or weight <= 0:
            raise ScoringInputError(f"products[{position}].weight", "must be over 0")
    total = sum((w for _, w in products), ZERO)
    if not products:
        return CompanyMci(weighting, None, ZERO, (), None)
    shares = tuple(
        ProductShare(p.subject, w, w / total, p.result.mci, p.data_quality) for p, w in products
    )
    score = sum((s.share * s.mci for s in shares), ZERO)
    worst = max((s.data_quality for s in shares), key=_QUALITY_ORDER.index)
    return CompanyMci(weighting, score, total, shares, worst)


@dataclass(frozen=True)
class Flow:
    """One inflow or outflow of material, in kg.

    Inflow: ``recycled``, ``reused`` and ``renewable_certified`` (renewable and sustainably
    sourced, as a valid sourcing certificate says) are fractions of the mass; their sum is at
    most 1. Outflow: ``recovered`` is the fraction actually recovered (reused, remanufactured,
    recycled), ``recoverable`` the fraction technically recoverable. ``what`` and ``entries``
    say which subject and which log entries the figure comes from; ``note`` why it counts so.
    """

    mass_kg: Decimal
    recycled: Decimal = ZERO
    reused: Decimal = ZERO
    renewable_certified: Decimal = ZERO
    recovered: Decimal = ZERO
    recoverable: Decimal = ONE
    what: str = ""
    entries: tuple[int, ...] = ()
    note: str | None = None

    @classmethod
    def inflow(
        cls,
        mass_kg: Decimal,
        *,
        recycled: Decimal,
        reused: Decimal,
        renewable: Decimal,
        scheme: str | None,
        certified: Decimal | None,
        what: str,
        entries: tuple[int, ...],
    ) -> Flow:
        """An inflow from a lot's or item's feedstock and chain-of-custody claim: renewable
        counts only up to the certified fraction of a claim under a sourcing scheme, and only
        for the part that is neither recycled nor reused."""
        backed = scheme in SOURCING_SCHEMES and certified is not None
        share = min(renewable, certified or ZERO, max(ZERO, ONE - recycled - reused))
        note = None
        if renewable > 0 and not backed:
            note = "renewable, but no sourcing claim: counted as linear"
        return cls(mass_kg, recycled, reused, share if backed else ZERO, what=what,
                   entries=entries, note=note)  # fmt: skip

    def circular_in(self) -> Decimal:
        return self.mass_kg * (self.recycled + self.reused + self.renewable_certified)

    def circular_out(self) -> Decimal:
        return self.mass_kg * self.recovered * self.recoverable


def check_flow(flow: Flow, where: str) -> None:
    """Raise ScoringInputError naming ``where``.field for a flow no company can have."""
    for name in ("mass_kg", "recycled", "reused", "renewable_certified", "recovered",
                 "recoverable"):  # fmt: skip
        value = getattr(flow, name)
        if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
            raise ScoringInputError(f"{where}.{name}", "must be a finite decimal, 0 or over")
        if name != "mass_kg" and value > 1:
            raise ScoringInputError(f"{where}.{name}", "is a fraction over 1")
    if flow.recycled + flow.reused + flow.renewable_certified > 1:
        raise ScoringInputError(f"{where}.recycled", "recycled + reused + renewable is over 1")


@dataclass(frozen=True)
class CtiResult:
    """% circular inflow, outflow and overall (None where there is no mass), with the sums."""

    inflow_kg: Decimal
    recycled_kg: Decimal
    reused_kg: Decimal
    renewable_kg: Decimal
    circular_inflow_kg: Decimal
    outflow_kg: Decimal
    circular_outflow_kg: Decimal
    circular_inflow: Decimal | None
    circular_outflow: Decimal | None
    circularity: Decimal | None
    inflow_recycled: Decimal | None  # shares of the inflow mass, parts of circular_inflow
    inflow_reused: Decimal | None
    inflow_renewable: Decimal | None

    def to_json(self) -> dict[str, Any]:
        return {name: _text(getattr(self, name)) for name in self.__dataclass_fields__}


def cti(inflows: Sequence[Flow], outflows: Sequence[Flow]) -> CtiResult:
    """WBCSD CTI: % circular inflow = (recycled + reused + renewable certified) / inflow;
    % circular outflow = Σ mass · recovered · recoverable / outflow; % circularity = both
    circular masses over both masses (the mass-weighted average of the two percentages)."""
    for position, flow in enumerate(inflows):
        check_flow(flow, f"inflows[{position}]")
    for position, flow in enumerate(outflows):
        check_flow(flow, f"outflows[{position}]")
    inflow = sum((f.mass_kg for f in inflows), ZERO)
    outflow = sum((f.mass_kg for f in outflows), ZERO)
    circular_in = sum((f.circular_in() for f in inflows), ZERO)
    circular_out = sum((f.circular_out() for f in outflows), ZERO)
    both = inflow + outflow
    recycled = sum((f.mass_kg * f.recycled for f in inflows), ZERO)
    reused = sum((f.mass_kg * f.reused for f in inflows), ZERO)
    renewable = sum((f.mass_kg * f.renewable_certified for f in inflows), ZERO)
    return CtiResult(
        inflow_kg=inflow,
        recycled_kg=recycled,
        reused_kg=reused,
        renewable_kg=renewable,
        circular_inflow_kg=circular_in,
        outflow_kg=outflow,
        circular_outflow_kg=circular_out,
        circular_inflow=circular_in / inflow if inflow else None,
        circular_outflow=circular_out / outflow if outflow else None,
        circularity=(circular_in + circular_out) / both if both else None,
        inflow_recycled=recycled / inflow if inflow else None,
        inflow_reused=reused / inflow if inflow else None,
        inflow_renewable=renewable / inflow if inflow else None,
    )
