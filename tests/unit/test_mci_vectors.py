"""Material Circularity Indicator test vectors, worked out by hand, independent of the other tests.

Each vector is computed from the published formulas (EMF & Granta, *Circularity Indicators —
Methodology*, 2015; its 2019 revision adds F_S, C_C and C_E), written out step by step with
exact decimals in its ``arithmetic``; the expected values are exact rationals. ``mci()`` works
with 34 significant digits, so every component must agree with its rational to 1e-30:

    V    = M (1 - F_R - F_U [- F_S])           W_0 = M (1 - C_R - C_U [- C_C - C_E])
    W_C  = M (1 - E_C) C_R                      W_F = M (1 - E_F) F_R / E_F
    W    = W_0 + (W_F + W_C) / 2                LFI = (V + W) / (2M + (W_F - W_C) / 2)
    X    = (L / L_av) (U / U_av)                F(X) = 0.9 / X
    MCI  = max(0, 1 - LFI · F(X))               (bracketed terms: 2019 only)

A product of several materials sums V, W_0, W_C and W_F over its materials (their masses are
the product's mass * each material's share) and takes LFI on the sums. The second half takes
the same vectors through ``scoring.product`` (a passport document in, the score a consumer sees
out) and through the edge cases a passport page must survive. docs/scoring.md states the method.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from pydantic import ValidationError

from ledger.catalogue import Efficiencies
from ledger.supply import Feedstock
from passports.page import Formatter
from scoring.errors import ScoringInputError
from scoring.mci import MaterialFlows, MciResult, Method, mci, quantized
from scoring.product import product_mci

D = Decimal
F = Fraction
TOLERANCE = F(1, 10**30)
ONE = D(1)


def exact(value: Decimal, want: Fraction | int | str) -> bool:
    """``value`` equals the rational ``want`` to 1e-30 (Fraction(Decimal) is exact)."""
    return abs(F(value) - F(want)) < TOLERANCE


@dataclass(frozen=True)
class Vector:
    """One known answer: flows in, every component out (masses in kg, exact rationals)."""

    desc: str
    arithmetic: str
    methods: tuple[Method, ...]
    materials: tuple[MaterialFlows, ...]
    want: dict[str, Fraction | int | str]
    lifetime_ratio: Decimal = ONE
    intensity_ratio: Decimal = ONE
    per_material_lfi: tuple[Fraction, ...] = ()

    def run(self, method: Method) -> MciResult:
        return mci(
            self.materials,
            method=method,
            lifetime_ratio=self.lifetime_ratio,
            intensity_ratio=self.intensity_ratio,
        )


def flows(mass: str, **fractions: str) -> MaterialFlows:
    return MaterialFlows(D(mass), **{k: D(v) for k, v in fractions.items()})


MIXED = flows("4", fr="0.25", fu="0.25", cr="0.5", cu="0.25", ef="0.8", ec="0.6")
MIXED_ARITHMETIC = """
    M = 4, F_R = 0.25, F_U = 0.25, C_R = 0.5, C_U = 0.25, E_F = 0.8, E_C = 0.6
    V   = 4 * (1 - 0.25 - 0.25)         = 4 * 0.5          = 2
    W_0 = 4 * (1 - 0.5 - 0.25)          = 4 * 0.25         = 1
    W_C = 4 * (1 - 0.6) * 0.5           = 4 * 0.4 * 0.5    = 0.8
    W_F = 4 * (1 - 0.8) * 0.25 / 0.8    = 0.2 / 0.8        = 0.25
    W   = 1 + (0.25 + 0.8) / 2          = 1 + 0.525        = 1.525
    LFI = (2 + 1.525) / (8 + (0.25 - 0.8) / 2) = 3.525 / 7.725 = 3525 / 7725 = 47/103
          (gcd 75: 3525 = 75 * 47, 7725 = 75 * 103)
"""
MIXED_FLOWS: dict[str, Fraction | int | str] = {
    "mass": 4, "v": 2, "w0": 1, "wc": "0.8", "wf": "0.25", "w": "1.525", "lfi": F(47, 103),
}  # fmt: skip

A_2019 = flows("0.6", fr="0.2", fs="0.5", cr="0.2", cc="0.3", ef="0.5", ec="0.5")
B_2019 = flows("0.4", fr="0.5", cr="0.5", ef="0.8", ec="0.75")

VECTORS = [
    Vector(
        desc="fully virgin, fully landfilled, average utility",
        arithmetic="""
        M = 2.5, every fraction 0, E_F = E_C = 1, X = 1
        V = 2.5, W_0 = 2.5, W_C = W_F = 0, W = 2.5
        LFI = (2.5 + 2.5) / (5 + 0) = 1;  F(X) = 0.9 / 1 = 0.9;  MCI = 1 - 0.9 = 0.1
        """,
        methods=("2015", "2019"),
        materials=(flows("2.5"),),
        want={"mass": "2.5", "v": "2.5", "w0": "2.5", "wc": 0, "wf": 0, "w": "2.5",
              "lfi": 1, "utility": 1, "f_x": "0.9", "mci": "0.1"},
    ),
    Vector(
        desc="all recycled feedstock, all recycled at end of use, 100 % efficiencies",
        arithmetic="""
        M = 0.8, F_R = 1, C_R = 1, E_F = E_C = 1
        V = 0.8 * (1 - 1) = 0;  W_0 = 0.8 * (1 - 1) = 0
        W_C = 0.8 * (1 - 1) * 1 = 0;  W_F = 0.8 * (1 - 1) * 1 / 1 = 0;  W = 0
        LFI = 0 / 1.6 = 0;  MCI = 1 - 0 * 0.9 = 1
        """,
        methods=("2015", "2019"),
        materials=(flows("0.8", fr="1", cr="1"),),
        want={"v": 0, "w0": 0, "wc": 0, "wf": 0, "w": 0, "lfi": 0, "mci": 1},
    ),
    Vector(
        desc="all reused feedstock, all reused at end of use",
        arithmetic="""
        M = 3, F_U = 1, C_U = 1: V = 0, W_0 = 0, W_C = W_F = 0 (nothing recycled); LFI 0, MCI 1
        """,
        methods=("2015", "2019"),
        materials=(flows("3", fu="1", cu="1"),),
        want={"v": 0, "w0": 0, "w": 0, "lfi": 0, "mci": 1},
    ),
    Vector(
        desc="2019: sustained-production feedstock, composted at end of use",
        arithmetic="""
        M = 1.5, F_S = 1, C_C = 1 (2019): V = 1.5 * (1 - 1) = 0, W_0 = 1.5 * (1 - 1) = 0;
        W_C = W_F = 0 (F_R = C_R = 0); LFI = 0; MCI = 1
        """,
        methods=("2019",),
        materials=(flows("1.5", fs="1", cc="1"),),
        want={"v": 0, "w0": 0, "wc": 0, "wf": 0, "lfi": 0, "mci": 1},
    ),
    Vector(
        desc="2015 has no F_S or C_C: the same flows are linear",
        arithmetic="""
        M = 1.5, F_S = 1, C_C = 1 under 2015: V = 1.5 * (1 - 0) = 1.5, W_0 = 1.5;
        LFI = 3 / 3 = 1; MCI = 1 - 0.9 = 0.1
        """,
        methods=("2015",),
        materials=(flows("1.5", fs="1", cc="1"),),
        want={"v": "1.5", "w0": "1.5", "lfi": 1, "mci": "0.1"},
    ),
    Vector(
        desc="mixed flows, recycling efficiencies under 1 (W_C and W_F not zero), X = 1",
        arithmetic=MIXED_ARITHMETIC
        + """
        X = 1, F(X) = 0.9;  MCI = 1 - 0.9 * 47/103 = 1 - 42.3/103 = 60.7/103 = 607/1030
        """,
        methods=("2015", "2019"),
        materials=(MIXED,),
        want=MIXED_FLOWS | {"utility": 1, "f_x": "0.9", "mci": F(607, 1030)},
    ),
    Vector(
        desc="mixed flows, X = 2 (a shorter life, used 2.5 times as much)",
        arithmetic=MIXED_ARITHMETIC
        + """
        L/L_av = 0.8, U/U_av = 2.5: X = 0.8 * 2.5 = 2;  F(X) = 0.9 / 2 = 0.45
        MCI = 1 - 0.45 * 47/103 = 1 - 21.15/103 = 81.85/103 = 8185/10300 = 1637/2060
        """,
        methods=("2015", "2019"),
        materials=(MIXED,),
        lifetime_ratio=D("0.8"),
        intensity_ratio=D("2.5"),
        want=MIXED_FLOWS | {"utility": 2, "f_x": "0.45", "mci": F(1637, 2060)},
    ),
    Vector(
        desc="mixed flows, X = 0.5",
        arithmetic=MIXED_ARITHMETIC
        + """
        L/L_av = 0.5: X = 0.5;  F(X) = 0.9 / 0.5 = 1.8
        MCI = 1 - 1.8 * 47/103 = 1 - 84.6/103 = 18.4/103 = 184/1030 = 92/515
        """,
        methods=("2015", "2019"),
        materials=(MIXED,),
        lifetime_ratio=D("0.5"),
        want=MIXED_FLOWS | {"utility": "0.5", "f_x": "1.8", "mci": F(92, 515)},
    ),
    Vector(
        desc="linear flows, X = 0.5: 1 - LFI * F(X) = -0.8 is clamped to 0",
        arithmetic="""
        M = 1 linear: LFI = 1; X = 0.5, F(X) = 1.8; 1 - 1 * 1.8 = -0.8 → MCI = max(0, -0.8) = 0
        (every component is still returned)
        """,
        methods=("2015", "2019"),
        materials=(flows("1"),),
        lifetime_ratio=D("0.5"),
        want={"v": 1, "w": 1, "lfi": 1, "utility": "0.5", "f_x": "1.8", "mci": 0},
    ),
    Vector(
        desc="linear flows, X = 0.9: exactly at the clamp",
        arithmetic="""
        M = 1 linear: LFI = 1; X = 0.9, F(X) = 0.9 / 0.9 = 1; MCI = 1 - 1 * 1 = 0 (no clamp needed)
        """,
        methods=("2015", "2019"),
        materials=(flows("1"),),
        lifetime_ratio=D("0.9"),
        want={"lfi": 1, "f_x": 1, "mci": 0},
    ),
    Vector(
        desc="two materials under 2019, aggregated by mass",
        arithmetic="""
        A (wool): M 0.6, F_R 0.2, F_S 0.5, C_R 0.2, C_C 0.3, E_F 0.5, E_C 0.5
          V   = 0.6 * (1 - 0.2 - 0 - 0.5)     = 0.6 * 0.3           = 0.18
          W_0 = 0.6 * (1 - 0.2 - 0 - 0.3 - 0) = 0.6 * 0.5           = 0.3
          W_C = 0.6 * (1 - 0.5) * 0.2         = 0.06
          W_F = 0.6 * (1 - 0.5) * 0.2 / 0.5   = 0.06 / 0.5          = 0.12
          own LFI = (0.18 + 0.3 + 0.09) / (1.2 + 0.03) = 0.57 / 1.23 = 19/41
        B (polyester): M 0.4, F_R 0.5, C_R 0.5, E_F 0.8, E_C 0.75
          V   = 0.4 * 0.5 = 0.2;  W_0 = 0.4 * 0.5 = 0.2
          W_C = 0.4 * 0.25 * 0.5              = 0.05
          W_F = 0.4 * 0.2 * 0.5 / 0.8         = 0.04 / 0.8          = 0.05
          own LFI = (0.2 + 0.2 + 0.05) / (0.8 + 0) = 0.45 / 0.8 = 9/16
        Sums: M 1, V 0.38, W_0 0.5, W_C 0.11, W_F 0.17;  W = 0.5 + 0.28 / 2 = 0.64
        LFI = (0.38 + 0.64) / (2 + (0.17 - 0.11) / 2) = 1.02 / 2.03 = 102/203
        MCI = 1 - 0.9 * 102/203 = 1 - 91.8/203 = 111.2/203 = 556/1015
        (mass-weighted mean of the own LFIs: 0.6 * 19/41 + 0.4 * 9/16 = 165/328 ≠ 102/203)
        """,
        methods=("2019",),
        materials=(A_2019, B_2019),
        want={"mass": 1, "v": "0.38", "w0": "0.5", "wc": "0.11", "wf": "0.17", "w": "0.64",
              "lfi": F(102, 203), "mci": F(556, 1015)},
        per_material_lfi=(F(19, 41), F(9, 16)),
    ),
    Vector(
        desc="the same two materials under 2015 (F_S and C_C ignored)",
        arithmetic="""
        A: V = 0.6 * (1 - 0.2) = 0.48, W_0 = 0.6 * (1 - 0.2) = 0.48; W_C 0.06, W_F 0.12
        B: as under 2019: V 0.2, W_0 0.2, W_C 0.05, W_F 0.05
        Sums: V 0.68, W_0 0.68, W = 0.68 + 0.14 = 0.82
        LFI = (0.68 + 0.82) / 2.03 = 150/203;  MCI = 1 - 0.9 * 150/203 = 1 - 135/203 = 68/203
        """,
        methods=("2015",),
        materials=(A_2019, B_2019),
        want={"v": "0.68", "w0": "0.68", "wc": "0.11", "wf": "0.17", "w": "0.82",
              "lfi": F(150, 203), "mci": F(68, 203)},
    ),
]  # fmt: skip

CASES = [
    pytest.param(v, m, id=f"{m}-{v.desc}") for v in VECTORS for m in v.methods
]  # fmt: skip


@pytest.mark.parametrize(("vector", "method"), CASES)
def test_known_answer(vector: Vector, method: Method) -> None:
    result = vector.run(method)

    wrong = {
        name: (str(getattr(result, name)), str(want))
        for name, want in vector.want.items()
        if not exact(getattr(result, name), want)
    }
    assert not wrong, f"{vector.desc}: {wrong}\n{vector.arithmetic}"
    assert 0 <= result.mci <= 1
    for got, want in zip(result.materials, vector.per_material_lfi, strict=False):
        assert exact(got.lfi, want)


def test_product_lfi_is_not_the_mass_weighted_mean_of_its_materials() -> None:
    result = mci([A_2019, B_2019], method="2019")
    mean = F(3, 5) * F(result.materials[0].lfi) + F(2, 5) * F(result.materials[1].lfi)

    assert exact(result.lfi, F(102, 203))
    assert abs(mean - F(165, 328)) < TOLERANCE
    assert abs(mean - F(result.lfi)) > F(1, 10**4)


def test_aggregation_depends_on_mass_shares_not_on_scale_or_order() -> None:
    # 1000 times the masses: every mass flow 1000 times larger, LFI and MCI unchanged; listing B
    # first changes nothing.
    big = [replace(m, mass_kg=m.mass_kg * 1000) for m in (A_2019, B_2019)]
    scaled = mci(big, method="2019")
    swapped = mci([B_2019, A_2019], method="2019")

    assert exact(scaled.v, 380) and exact(scaled.w, 640)
    for result in (scaled, swapped):
        assert exact(result.lfi, F(102, 203)) and exact(result.mci, F(556, 1015))


@pytest.mark.parametrize("ratio", ["lifetime_ratio", "intensity_ratio"])
@pytest.mark.parametrize("value", ["0", "-1"])
def test_utility_of_zero_or_below_is_refused_not_divided_by(ratio: str, value: str) -> None:
    # F(X) = 0.9 / X: X = 0 has no score, and the methodology has no negative utility.
    with pytest.raises(ScoringInputError) as caught:
        mci([flows("1")], method="2019", **{ratio: D(value)})
    assert caught.value.field == ratio


# -- the same arithmetic from a passport document -------------------------------------------

JEANS_ARITHMETIC = """
    0.8 kg of jeans: 0.75 recycled cotton (F_R 0.5, renewable 1, OCS-certified origin), 0.25
    elastane (virgin); taken back, no measured yield. Declared 5 years, 1 repair, 2 resales,
    5 rentals; L_av(jeans) = 4 years (WRAP 2022).
    cotton-recycled: M = 0.75 * 0.8 = 0.6, E_F 0.8; F_S = min(1, 1 - 0.5 - 0) = 0.5 (2019);
        catalogue route mechanical-recycling: C_R 1, E_C 0.8
      V   = 0.6 * (1 - 0.5 - 0 - 0.5) = 0       W_0 = 0.6 * (1 - 1) = 0
      W_C = 0.6 * 0.2 * 1             = 0.12    W_F = 0.6 * 0.2 * 0.5 / 0.8 = 0.075
    elastane: M = 0.25 * 0.8 = 0.2, no recycling route: C_R 0, E_C 1; F_R 0
      V = 0.2, W_0 = 0.2, W_C = W_F = 0
    Sums: M 0.8, V 0.2, W_0 0.2, W_C 0.12, W_F 0.075;  W = 0.2 + 0.195 / 2 = 0.2975
    LFI = (0.2 + 0.2975) / (1.6 + (0.075 - 0.12) / 2) = 0.4975 / 1.5775 = 199/631 (gcd 25)
    L/L_av = (5 + 1 * 1.3) / 4 = 1.575;  U/U_av = 1 + 2 * 0.25 + 5 * 0.02 = 1.6
    X = 1.575 * 1.6 = 2.52;  F(X) = 0.9 / 2.52 = 5/14
    MCI = 1 - 5/14 * 199/631 = 1 - 995/8834 = 7839/8834 = 0.887366…
    2015 (no F_S): cotton V = 0.3, V = 0.5; LFI = 0.7975 / 1.5775 = 319/631;
    MCI = 1 - 5/14 * 319/631 = 1 - 1595/8834 = 7239/8834
"""


def jeans(**product: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "subject": "/01/08000000002020/21/VECTOR",
        "product": {"category": "jeans", "lifetime_years": "5", "restricted": {"mass_kg": "0.8"}},
        "materials": [
            {"material": "cotton-recycled", "fraction": "0.75", "recycled": "0.5", "reused": "0",
             "renewable": "1", "traced": True, "origins": [{"index": 11}]},
            {"material": "elastane", "fraction": "0.25", "recycled": "0", "reused": "0",
             "renewable": "0", "traced": True, "origins": [{"index": 12}]},
        ],
        "certificates": [{"scheme": "OCS", "valid_at_use": True, "entries": [11]}],
        "circularity": {"repairs": 1, "resales": 2, "rentals": 5, "taken_back": True,
                        "recycled": False},
        "entries": [11, 12],
    }  # fmt: skip
    doc["product"] |= product
    return doc


def test_passport_of_two_materials_scores_the_hand_computed_mci() -> None:
    found = product_mci(jeans())
    r = found.result

    assert [m.flows.mass_kg for m in found.materials] == [D("0.6"), D("0.2")]
    assert [m.flows.fs for m in found.materials] == [D("0.5"), D(0)]
    assert [(m.flows.cr, m.flows.ec) for m in found.materials] == [
        (D(1), D("0.8")),
        (D(0), D(1)),
    ]
    assert (r.mass, r.v, r.w0, r.wc, r.wf, r.w) == tuple(
        D(x) for x in ("0.8", "0.2", "0.2", "0.12", "0.075", "0.2975")
    )
    assert exact(r.lfi, F(199, 631)), JEANS_ARITHMETIC
    assert (found.utility.lifetime_ratio, found.utility.intensity_ratio) == (D("1.575"), D("1.6"))
    assert exact(r.utility, F("2.52")) and exact(r.f_x, F(5, 14))
    assert exact(r.mci, F(7839, 8834)), JEANS_ARITHMETIC
    assert {f.code for f in found.flags} == {"end-of-life-estimated", "lifetime-declared"}


def test_passport_under_2015_counts_certified_renewable_as_virgin() -> None:
    found = product_mci(jeans(), method="2015")

    assert exact(found.result.lfi, F(319, 631))
    assert exact(found.result.mci, F(7239, 8834)), JEANS_ARITHMETIC
    assert "method-2015" in {f.code for f in found.flags}


def test_passport_json_rounds_every_figure_to_six_places() -> None:
    # 7839/8834 = 0.8873669…, 199/631 = 0.3153724…, 5/14 = 0.3571428…; per kg of 0.8 kg:
    # V 0.25, W 0.371875, W_0 0.25, W_C 0.15, W_F 0.09375 (exact, so shown in full).
    body = product_mci(jeans()).to_json()

    assert (body["mci"], body["lfi"], body["utility"], body["f_x"]) == (
        "0.887367", "0.315372", "2.52", "0.357143",
    )  # fmt: skip
    assert body["per_kg"] == {
        "v": "0.25", "w": "0.371875", "w0": "0.25", "wc": "0.15", "wf": "0.09375",
    }  # fmt: skip
    assert body["lifetime"]["lifetime_ratio"] == "1.575"
    assert body["intensity"]["intensity_ratio"] == "1.6"


# -- edge cases a consumer's page must survive ------------------------------------------------


def linear(category: str = "jacket", **product: Any) -> dict[str, Any]:
    """One untraced material (counted virgin), no end-of-life fact (counted landfill): LFI 1."""
    doc = jeans()
    doc["product"] = {"category": category, "restricted": {"mass_kg": "1"}} | product
    doc["materials"] = [
        {"material": "polyester", "fraction": "1", "recycled": "0", "reused": "0",
         "renewable": "0", "traced": False, "origins": []},
    ]  # fmt: skip
    doc["circularity"] = {"repairs": 0, "resales": 0, "rentals": 0, "taken_back": False,
                          "recycled": False}  # fmt: skip
    return doc


@pytest.mark.parametrize("mass", ["0", None])
def test_product_without_a_mass_scores_as_one_kg_of_the_same_shares(mass: str | None) -> None:
    # The MCI is a ratio of mass flows: the shares alone decide it. No mass (or 0 kg) is taken
    # as 1 kg: M 0.75 + 0.25; every flow of the jeans vector / 0.8, LFI and MCI unchanged.
    doc = jeans()
    if mass is None:
        del doc["product"]["restricted"]
    else:
        doc["product"]["restricted"]["mass_kg"] = mass
    found = product_mci(doc)

    assert found.result.mass == 1
    assert exact(found.result.lfi, F(199, 631)) and exact(found.result.mci, F(7839, 8834))
    assert found.to_json()["per_kg"] == product_mci(jeans()).to_json()["per_kg"]


def test_zero_mass_with_a_recycling_output_does_not_divide_by_zero() -> None:
    # The measured yield is output kg / item kg; without the item's mass it cannot be measured,
    # so the end of life is estimated from the catalogue (C_R 1, E_C 0.8 for the cotton).
    doc = jeans(restricted={"mass_kg": "0"})
    doc["circularity"] |= {"recycled": True}
    found = product_mci(doc, recycled_output_kg=D("0.5"))

    assert {m.end_of_life for m in found.materials} == {"estimated"}
    assert exact(found.result.mci, F(7839, 8834))


def test_missing_lifetime_counts_the_category_average_plus_repairs() -> None:
    # Linear (LFI 1); jeans, no declared lifetime, 1 repair: L/L_av = (4 + 1.3) / 4 = 5.3/4
    # = 53/40; F(X) = 0.9 * 40/53 = 36/53; MCI = 1 - 36/53 = 17/53.
    doc = linear("jeans")
    doc["circularity"]["repairs"] = 1
    found = product_mci(doc)

    assert found.utility.declared_years is None
    assert found.utility.lifetime_ratio == D("1.325")
    assert exact(found.result.mci, F(17, 53))
    assert "lifetime-not-declared" in {f.code for f in found.flags}


def test_declared_lifetime_of_zero_counts_as_not_declared() -> None:
    # 0 years would make X = 0 (F(X) undefined): the category average stands in, X = 1, MCI 0.1.
    found = product_mci(linear(lifetime_years="0"))

    assert found.result.utility == 1 and found.result.mci == D("0.1")
    assert "lifetime-not-declared" in {f.code for f in found.flags}


def test_category_without_a_lifetime_figure_takes_ratio_one() -> None:
    # No average for umbrellas: a declared 50 years and 2 repairs cannot be compared with
    # anything, so L/L_av = 1, X = 1 and the linear product scores 0.1.
    doc = linear("umbrella", lifetime_years="50")
    doc["circularity"]["repairs"] = 2
    found = product_mci(doc)

    assert found.utility.average_years is None and found.result.utility == 1
    assert found.result.mci == D("0.1")
    assert "category-average-missing" in {f.code for f in found.flags}


def test_a_declared_lifetime_above_the_average_is_counted_as_declared_and_flagged() -> None:
    # Linear t-shirt declared for 40 years against an average of 4: X = 10, F(X) = 0.09,
    # MCI = 1 - 0.09 = 0.91 on virgin material bound for landfill (docs/scoring.md, Edge cases:
    # there is no ceiling; only the flag says the ratio rests on the brand's word).
    found = product_mci(linear("t-shirt", lifetime_years="40"))

    assert found.result.utility == 10 and found.result.mci == D("0.91")
    assert "lifetime-declared" in {f.code for f in found.flags}


def test_shown_figures_round_half_to_even_at_six_places() -> None:
    # One unlisted material (E_F 1), F_R 0.246913, M 1, no end-of-life fact; a jacket declared
    # for 5.4 of an average 6 years: X = 0.9, F(X) = 1.
    # V = 0.753087, W = W_0 = 1; LFI = 1.753087 / 2 = 0.8765435; MCI = 1 - 0.8765435 = 0.1234565
    # Both end in a 5 at the 7th place: half to even shows 0.123456 and 0.876544.
    doc = linear(lifetime_years="5.4")
    doc["materials"][0] |= {"material": "unlisted-fibre", "recycled": "0.246913", "traced": True}
    found = product_mci(doc)

    assert found.result.mci == D("0.1234565") and found.result.lfi == D("0.8765435")
    body = found.to_json()
    assert (body["mci"], body["lfi"], body["lifetime"]["lifetime_ratio"]) == (
        "0.123456", "0.876544", "0.9",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("shown", "page"),
    [("0.887367", "0.89"), ("0.625", "0.62"), ("0.135", "0.14"), ("1", "1.00"), ("0", "0.00")],
)
def test_page_rounds_the_published_figure_the_same_way(shown: str, page: str) -> None:
    # The page shows the passport's 6-place MCI to 2 places, half to even like the JSON.
    assert Formatter("en").number(D(shown), 2) == page
    assert format(quantized(D(shown), D("0.01")), "f") == page


def test_impossible_fractions_in_a_document_are_refused_naming_the_document_member() -> None:
    # A material left out for its 0 share must not shift the position the error names.
    doc = jeans()
    doc["materials"].insert(0, doc["materials"][1] | {"fraction": "0"})
    doc["materials"][2] |= {"recycled": "1.2"}  # elastane, third in the document

    with pytest.raises(ScoringInputError) as caught:
        product_mci(doc)
    assert caught.value.field == "materials[2].fr"
    assert str(caught.value) == "materials[2].fr: is a fraction outside [0, 1]"

    doc["materials"][1]["fraction"] = "three quarters"
    with pytest.raises(ScoringInputError) as caught:
        product_mci(doc)
    assert caught.value.field == "materials[1].fraction"


@pytest.mark.parametrize(
    "feedstock",
    [{"recycled": "1.2"}, {"reused": "-0.1"}, {"recycled": "0.6", "reused": "0.5"}],
    ids=["over-one", "negative", "sum-over-one"],
)
def test_ledger_refuses_feedstock_fractions_no_material_can_have(feedstock: dict[str, str]) -> None:
    # Where impossible fractions stop: the material event's schema, before anything is logged.
    with pytest.raises(ValidationError):
        Feedstock.model_validate(feedstock)


@pytest.mark.parametrize("value", ["0", "1.2", "-0.5"])
def test_catalogue_refuses_a_feedstock_recycling_efficiency_the_mci_cannot_divide_by(
    value: str,
) -> None:
    with pytest.raises(ValidationError):
        Efficiencies.model_validate({"feedstock": value, "end_of_life": "0.5"})
