"""A product's Material Circularity Indicator from its passport: signed facts in, MCI out.

``product_mci`` takes the MCI inputs of one passport document (``scoring.product_inputs``:
every input with where it came from, the lifetime and use intensity against the category
average), computes the MCI (``scoring.mci``) and explains it: whatever the facts do not say
counts as linear (virgin feedstock, landfill) and is named in ``flags``; ``data_quality`` says
how much of the score rests on estimates. Nothing is read from a database here; docs/scoring.md
documents each rule and its source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

from ledger.quantities import format_decimal
from scoring.mci import MciResult, Method, as_method, mci, quantized
from scoring.product_inputs import (
    ONE,
    ZERO,
    CategoryAverages,
    Flag,
    MaterialInput,
    Utility,
    category_averages,
    material_inputs,
    utility,
)

PLACES: Final = Decimal("0.000001")
Quality = Literal["measured", "partly estimated", "mostly estimated"]


@dataclass(frozen=True)
class ProductCircularity:
    """The MCI of one passport version, its inputs, flags and data quality."""

    subject: str
    mass_kg: Decimal | None
    result: MciResult
    materials: tuple[MaterialInput, ...]
    utility: Utility
    flags: tuple[Flag, ...]
    data_quality: Quality
    estimated_share: Decimal
    entries: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        """Every figure as a decimal string rounded to 6 places (presentation only)."""
        r, u = self.result, self.utility
        return {
            "method": r.method,
            "mci": _text(r.mci),
            "lfi": _text(r.lfi),
            "utility": _text(r.utility),
            "f_x": _text(r.f_x),
            "per_kg": {k: _text(getattr(r, k) / r.mass) for k in ("v", "w", "w0", "wc", "wf")},
            "lifetime": {
                "category": u.category,
                "declared_years": _maybe(u.declared_years),
                "category_average_years": _maybe(u.average_years),
                "repairs": u.repairs,
                "lifetime_ratio": _text(u.lifetime_ratio),
                "averages_version": u.averages_version,
            },
            "intensity": {"resales": u.resales, "rentals": u.rentals,
                          "intensity_ratio": _text(u.intensity_ratio)},
            "materials": [_material_json(m) for m in self.materials],
            "flags": [{"code": f.code, "explanation": f.explanation, "materials": list(f.materials)}
                      for f in self.flags],
            "data_quality": self.data_quality,
            "estimated_share": _text(self.estimated_share),
            "entries": list(self.entries),
        }  # fmt: skip


def _text(value: Decimal) -> str:
    return format_decimal(quantized(value, PLACES))


def _maybe(value: Decimal | None) -> str | None:
    return None if value is None else _text(value)


def _material_json(m: MaterialInput) -> dict[str, Any]:
    f = m.flows
    names = ("fr", "fu", "fs", "cr", "cu", "cc", "ce", "ef", "ec")
    return {"material": m.material, "fraction": _text(m.fraction), "traced": m.traced,
            "renewable_certified": m.renewable_certified, "end_of_life": m.end_of_life,
            **{n: _text(getattr(f, n)) for n in names}}  # fmt: skip


def _material_flags(materials: Sequence[MaterialInput]) -> list[Flag]:
    flags: list[Flag] = []
    untraced = tuple(m.material for m in materials if not m.traced)
    if untraced:
        flags.append(Flag("untraced-inputs", "declared without a lot: their feedstock counts as "
                          "virgin", untraced))  # fmt: skip
    uncertified = tuple(m.material for m in materials if m.uncertified)
    if uncertified:
        flags.append(Flag("renewable-uncertified", "renewable, but no valid sourcing "
                          "certificate backs every origin: not counted as sustained "
                          "production (F_S = 0)", uncertified))  # fmt: skip
    estimated = tuple(m.material for m in materials if m.end_of_life == "estimated")
    if estimated:
        flags.append(
            Flag(
                "end-of-life-estimated",
                "collected (taken back or recycled) without "
                "a measured yield: catalogue recycling routes and E_C assumed; "
                "materials without a recycling route count as landfill",
                estimated,
            )
        )
    unknown = tuple(m.material for m in materials if m.end_of_life == "unknown")
    if unknown:
        flags.append(Flag("end-of-life-unknown", "no take-back or recycling in the ledger: "
                          "counted as landfill", unknown))  # fmt: skip
    return flags


def _quality(
    materials: Sequence[MaterialInput], utility_flags: Sequence[Flag]
) -> tuple[Quality, Decimal]:
    """The share of the product's mass resting on an estimate or a missing fact, and its level."""
    total = sum((m.fraction for m in materials), ZERO)
    weak = sum(
        (m.fraction for m in materials
         if not m.traced or m.uncertified or m.end_of_life != "measured"),
        ZERO,
    )  # fmt: skip
    share = weak / total if total else ONE
    if utility_flags:
        share = max(share, Decimal("0.01"))
    if share == 0:
        return "measured", share
    return ("partly estimated" if share < Decimal("0.5") else "mostly estimated"), share


def product_mci(
    passport_doc: Mapping[str, Any],
    *,
    method: Method = "2019",
    averages: CategoryAverages | None = None,
    recycled_output_kg: Decimal | None = None,
) -> ProductCircularity:
    """The MCI of the passport ``passport_doc`` (the whole document, restricted fields too).

    ``recycled_output_kg`` is the mass of the lots the item's recycling made
    (``scoring.product_inputs.recycled_output_kg(facts)``); without it a recycled item's end
    of life is estimated.
    Raises ScoringInputError naming the field for a document no product can have.
    """
    method = as_method(method)
    averages = category_averages() if averages is None else averages
    product = passport_doc.get("product", {})
    circularity = passport_doc.get("circularity", {})
    materials, mass = material_inputs(passport_doc, method, recycled_output_kg)
    used, utility_flags = utility(product, circularity, averages)
    result = mci(
        [m.flows for m in materials],
        method=method,
        lifetime_ratio=used.lifetime_ratio,
        intensity_ratio=used.intensity_ratio,
    )
    flags = [*_material_flags(materials), *utility_flags]
    if method == "2015" and any(m.renewable_certified for m in materials):
        flags.append(Flag("method-2015", "the 2015 method has no sustained-production feedstock: "
                          "certified renewable material counts as virgin"))  # fmt: skip
    level, share = _quality(materials, utility_flags)
    return ProductCircularity(
        subject=str(passport_doc.get("subject", "")),
        mass_kg=mass,
        result=result,
        materials=materials,
        utility=used,
        flags=tuple(flags),
        data_quality=level,
        estimated_share=share,
        entries=tuple(int(i) for i in passport_doc.get("entries", ())),
    )
