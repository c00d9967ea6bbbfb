"""The Ellen MacArthur Foundation Material Circularity Indicator (MCI), 2015 and 2019 methods.

This module owns the product-level MCI arithmetic and nothing else: material flows in, every
component out (V, W0, WC, WF, W, LFI, X, F(X), MCI, per material and summed), so a passport or a
designer's what-if can explain the score. It does not know where the flows come from (ledger
facts, a request body) and rounds nothing; presentation rounds.

Sources (docs/scoring.md quotes each formula):
- EMF & Granta Design, *Circularity Indicators: An Approach to Measuring Circularity —
  Methodology* (May 2015), product-level MCI.
- EMF & ANSYS Granta, *Material Circularity Indicator* methodology, 2019 revision: adds
  feedstock from sustained production (FS), composting (CC) and eligible energy recovery (CE).

A product of several materials: V, W0, WC and WF are computed per material and summed, and LFI
is taken on the sums (never an average of per-material LFIs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Context, Decimal, localcontext
from typing import Final, Literal, get_args

from scoring.errors import ScoringInputError

Method = Literal["2015", "2019"]
METHODS: Final[tuple[str, ...]] = get_args(Method)

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)
TWO: Final = Decimal(2)
# F(X) = a / X with a = 0.9: a product of average utility (X = 1) made only of virgin material
# that ends in landfill scores MCI = 0.1 (2015 Methodology, utility factor).
UTILITY_CONSTANT: Final = Decimal("0.9")
# Fields the 2015 method does not have; under 2015 they are validated but take no part.
FIELDS_2019_ONLY: Final = ("fs", "cc", "ce")
PRECISION: Final = 34  # decimal digits for the arithmetic; results are rounded only to present


def quantized(value: Decimal, places: Decimal) -> Decimal:
    """``value`` rounded (half even) to the exponent of ``places``, e.g. ``Decimal("0.001")``,
    however large it is. The default context's 28 digits refuse (InvalidOperation) to round a
    product of signed amounts, such as the t·km of 10^15 kg carried 10^15 km, to its places."""
    digits = max(value.adjusted(), 0) - int(places.as_tuple().exponent) + 2
    return value.quantize(places, context=Context(prec=max(digits, PRECISION)))


@dataclass(frozen=True)
class MaterialFlows:
    """One material of a product: its mass and the fractions of its flows.

    ``fr``/``fu``/``fs``: fractions of feedstock from recycled, reused and (2019) sustained-
    production sources. ``cr``/``cu``/``cc``/``ce``: fractions at end of use collected for
    recycling, for reuse, and (2019) for composting and for eligible energy recovery. ``ef``/
    ``ec``: efficiencies of the recycling that made the recycled feedstock and of the recycling
    at end of use. Omitted fractions are 0, omitted efficiencies 1.
    """

    mass_kg: Decimal
    fr: Decimal = ZERO
    fu: Decimal = ZERO
    fs: Decimal = ZERO
    cr: Decimal = ZERO
    cu: Decimal = ZERO
    cc: Decimal = ZERO
    ce: Decimal = ZERO
    ef: Decimal = ONE
    ec: Decimal = ONE


FRACTIONS: Final = ("fr", "fu", "fs", "cr", "cu", "cc", "ce")
EFFICIENCIES: Final = ("ef", "ec")
FLOW_FIELDS: Final = tuple(f.name for f in fields(MaterialFlows))


@dataclass(frozen=True)
class MaterialComponents:
    """One material's mass flows in kg, and its own LFI (for explanation only)."""

    mass: Decimal
    v: Decimal
    w0: Decimal
    wc: Decimal
    wf: Decimal
    w: Decimal
    lfi: Decimal


@dataclass(frozen=True)
class MciResult:
    """The MCI and every component it was computed from; masses in kg.

    ``utility`` is X, ``f_x`` is F(X) = 0.9 / X; ``v``, ``w0``, ``wc``, ``wf``, ``w`` and
    ``mass`` are sums over ``materials``. ``ignored`` names the fields the method ignored.
    """

    method: Method
    mci: Decimal
    lfi: Decimal
    utility: Decimal
    f_x: Decimal
    v: Decimal
    w: Decimal
    w0: Decimal
    wc: Decimal
    wf: Decimal
    mass: Decimal
    materials: tuple[MaterialComponents, ...]
    ignored: tuple[str, ...]


def _check_number(field: str, value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ScoringInputError(field, f"must be a finite decimal number, not {value!r}")


def check_material(material: MaterialFlows, method: Method, where: str) -> None:
    """Raise ScoringInputError naming ``where``.field for flows no product can have."""
    for name in FLOW_FIELDS:
        _check_number(f"{where}.{name}", getattr(material, name))
    if material.mass_kg <= 0:
        raise ScoringInputError(f"{where}.mass_kg", "must be over 0")
    for name in FRACTIONS:
        if not ZERO <= getattr(material, name) <= ONE:
            raise ScoringInputError(f"{where}.{name}", "is a fraction outside [0, 1]")
    for name in EFFICIENCIES:
        if not ZERO < getattr(material, name) <= ONE:
            raise ScoringInputError(f"{where}.{name}", "is an efficiency outside (0, 1]")
    m = material
    if method == "2015":
        if m.fr + m.fu > ONE:
            raise ScoringInputError(f"{where}.fr", "fr + fu is over 1")
        if m.cr + m.cu > ONE:
            raise ScoringInputError(f"{where}.cr", "cr + cu is over 1")
    else:
        if m.fr + m.fu + m.fs > ONE:
            raise ScoringInputError(f"{where}.fr", "fr + fu + fs is over 1")
        if m.cr + m.cu + m.cc + m.ce > ONE:
            raise ScoringInputError(f"{where}.cr", "cr + cu + cc + ce is over 1")


def as_method(value: object) -> Method:
    """``value`` as a Method; ScoringInputError naming ``method`` for anything else."""
    if value == "2015":
        return "2015"
    if value == "2019":
        return "2019"
    known = ", ".join(METHODS)
    raise ScoringInputError("method", f"unknown method {value!r} (known: {known})")


def _check_ratio(field: str, value: Decimal) -> None:
    _check_number(field, value)
    if value <= 0:
        raise ScoringInputError(field, "must be over 0")


def _lfi(v: Decimal, w: Decimal, mass: Decimal, wf: Decimal, wc: Decimal) -> Decimal:
    # LFI = (V + W) / (2M + (WF - WC) / 2). The denominator is at least 1.5 M > 0, since
    # WF ≥ 0 and WC ≤ M.
    return (v + w) / (TWO * mass + (wf - wc) / TWO)


def material_components(m: MaterialFlows, method: Method) -> MaterialComponents:
    """V, W0, WC, WF and W for one (already checked) material."""
    mass = m.mass_kg
    if method == "2015":
        v = mass * (ONE - m.fr - m.fu)
        w0 = mass * (ONE - m.cr - m.cu)
    else:  # 2019: sustained production counts like recycled or reused feedstock; composting
        # and eligible energy recovery count like collection for recycling or reuse.
        v = mass * (ONE - m.fr - m.fu - m.fs)
        w0 = mass * (ONE - m.cr - m.cu - m.cc - m.ce)
    wc = mass * (ONE - m.ec) * m.cr  # waste from recycling the part collected for recycling
    wf = mass * (ONE - m.ef) * m.fr / m.ef  # waste from making the recycled feedstock
    w = w0 + (wf + wc) / TWO
    return MaterialComponents(mass, v, w0, wc, wf, w, _lfi(v, w, mass, wf, wc))


def mci(
    materials: Sequence[MaterialFlows],
    *,
    method: Method,
    lifetime_ratio: Decimal = ONE,
    intensity_ratio: Decimal = ONE,
) -> MciResult:
    """The product-level MCI of ``materials`` under ``method``, with every component.

    ``lifetime_ratio`` is L / Lav and ``intensity_ratio`` U / Uav, so X is their product.
    Raises ScoringInputError (a FormatError) naming the field for impossible input.
    """
    method = as_method(method)
    _check_ratio("lifetime_ratio", lifetime_ratio)
    _check_ratio("intensity_ratio", intensity_ratio)
    if not materials:
        raise ScoringInputError("materials", "needs at least one material")
    for position, material in enumerate(materials):
        check_material(material, method, f"materials[{position}]")
    with localcontext(prec=PRECISION):
        parts = tuple(material_components(m, method) for m in materials)
        mass = sum((p.mass for p in parts), ZERO)
        v = sum((p.v for p in parts), ZERO)
        w0 = sum((p.w0 for p in parts), ZERO)
        wc = sum((p.wc for p in parts), ZERO)
        wf = sum((p.wf for p in parts), ZERO)
        w = w0 + (wf + wc) / TWO
        lfi = _lfi(v, w, mass, wf, wc)
        utility = lifetime_ratio * intensity_ratio
        f_x = UTILITY_CONSTANT / utility
        score = max(ZERO, ONE - lfi * f_x)  # MCI = max(0, 1 - LFI · F(X))
    ignored = FIELDS_2019_ONLY if method == "2015" else ()
    return MciResult(
        method=method,
        mci=score,
        lfi=lfi,
        utility=utility,
        f_x=f_x,
        v=v,
        w=w,
        w0=w0,
        wc=wc,
        wf=wf,
        mass=mass,
        materials=parts,
        ignored=ignored,
    )
