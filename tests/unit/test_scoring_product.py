"""The MCI of a passport: each input from the facts it names, hand-computed results.

The base passport: 2 kg, half RWS-certified merino (entry 5), half recycled polyester (entry
6, E_F 0.8), a jacket declared to last the category average. Every expected value is worked
out by hand in the test's comment, as fractions.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from ledger.errors import FormatError
from scoring.errors import ScoringInputError
from scoring.product import product_mci
from scoring.product_inputs import category_averages, load_averages


def passport(**circularity: Any) -> dict[str, Any]:
    return {
        "subject": "/01/08000000002020/21/TEST",
        "product": {"category": "jacket", "lifetime_years": "6", "restricted": {"mass_kg": "2"}},
        "materials": [
            {"material": "wool-merino", "fraction": "0.5", "recycled": "0", "reused": "0",
             "renewable": "1", "traced": True, "origins": [{"index": 5}]},
            {"material": "polyester-recycled", "fraction": "0.5", "recycled": "1",
             "reused": "0", "renewable": "0", "traced": True, "origins": [{"index": 6}]},
        ],
        "certificates": [{"scheme": "RWS", "valid_at_use": True, "entries": [5]}],
        "circularity": {"repairs": 0, "resales": 0, "rentals": 0, "taken_back": False,
                        "recycled": False} | circularity,
        "entries": [5, 6],
    }  # fmt: skip


def close(got: Decimal, want: Decimal) -> bool:
    return abs(got - want) < Decimal("1e-25")


def codes(found: Any) -> set[str]:
    return {f.code for f in found.flags}


def test_certified_renewable_feedstock_counts_as_sustained_production() -> None:
    # wool: V 0, W0 1; polyester: V 0, W0 1, WF = 1 · 0.2 · 1 / 0.8 = 0.25.
    # W = 2 + 0.25/2 = 2.125; LFI = 2.125 / (4 + 0.125) = 17/33; MCI = 1 - 0.9 · 17/33 = 59/110
    found = product_mci(passport())
    assert close(found.result.lfi, Decimal(17) / Decimal(33))
    assert close(found.result.mci, Decimal(59) / Decimal(110))
    assert found.materials[0].flows.fs == 1 and found.materials[0].renewable_certified
    assert codes(found) == {"end-of-life-unknown"}
    assert found.data_quality == "mostly estimated" and found.estimated_share == 1


@pytest.mark.parametrize(
    "certificate",
    [
        {"scheme": "LWG", "valid_at_use": True, "entries": [5]},  # not a sourcing scheme
        {"scheme": "RWS", "valid_at_use": False, "entries": [5]},  # expired on the day used
        {"scheme": "RWS", "valid_at_use": True, "entries": [99]},  # backs another origin
    ],
    ids=["not-sourcing", "expired", "other-origin"],
)
def test_renewable_without_a_valid_sourcing_certificate_counts_as_virgin(
    certificate: dict[str, Any],
) -> None:
    # wool V = 1: LFI = (1 + 2.125) / 4.125 = 25/33; MCI = 1 - 0.9 · 25/33 = 7/22
    doc = passport()
    doc["certificates"] = [certificate]
    found = product_mci(doc)
    assert found.materials[0].flows.fs == 0
    assert close(found.result.mci, Decimal(7) / Decimal(22))
    assert "renewable-uncertified" in codes(found)


def test_untraced_material_is_linear_whatever_the_document_claims() -> None:
    doc = passport()
    doc["materials"][1] |= {"traced": False, "origins": []}
    found = product_mci(doc)
    flows = found.materials[1].flows
    assert (flows.fr, flows.fu, flows.fs) == (Decimal(0), Decimal(0), Decimal(0))
    flag = next(f for f in found.flags if f.code == "untraced-inputs")
    assert flag.materials == ("polyester-recycled",)


def test_measured_recycling_yield_is_the_collection_rate_and_the_rest_is_waste() -> None:
    # recovered = 1.5 / 2 = 0.75 for every material, E_C 1: W0 = 0.25 + 0.25, WF 0.25,
    # W = 0.5 + 0.125 = 0.625; LFI = 0.625 / 4.125 = 5/33; MCI = 1 - 0.9 · 5/33 = 19/22
    found = product_mci(passport(taken_back=True, recycled=True), recycled_output_kg=Decimal("1.5"))
    assert [m.flows.cr for m in found.materials] == [Decimal("0.75")] * 2
    assert close(found.result.mci, Decimal(19) / Decimal(22))
    assert found.data_quality == "measured" and not found.flags


def test_take_back_without_a_yield_estimates_catalogue_recycling_and_says_so() -> None:
    # C_R 1, E_C 0.8 for both: WC 0.2 each; WF 0.25; W = 0 + (0.25 + 0.4)/2 = 0.325;
    # LFI = 0.325 / (4 + (0.25 - 0.4)/2) = 13/157; MCI = 1 - 0.9 · 13/157 = 1453/1570
    found = product_mci(passport(taken_back=True))
    assert {m.end_of_life for m in found.materials} == {"estimated"}
    assert close(found.result.mci, Decimal(1453) / Decimal(1570))
    assert "end-of-life-estimated" in codes(found)
    assert found.data_quality == "mostly estimated"


def test_material_without_a_recycling_route_stays_landfilled_after_take_back() -> None:
    doc = passport(taken_back=True)
    doc["materials"][1] |= {"material": "elastane", "recycled": "0"}  # routes: reuse, energy
    found = product_mci(doc)
    assert found.materials[1].flows.cr == 0


def test_repairs_extend_lifetime_and_resales_and_rentals_raise_intensity() -> None:
    doc = passport(repairs=1, resales=2, rentals=1)
    doc["product"]["lifetime_years"] = "9"
    found = product_mci(doc)
    # L/L_av = (9 + 1.3) / 6; U/U_av = 1 + 2 · 0.25 + 1 · 0.02 = 1.52
    assert found.utility.lifetime_ratio == Decimal("10.3") / 6
    assert found.utility.intensity_ratio == Decimal("1.52")
    assert close(found.result.utility, Decimal("10.3") / 6 * Decimal("1.52"))
    assert "lifetime-declared" in codes(found)


def test_unknown_category_takes_ratio_one_and_is_flagged() -> None:
    doc = passport(repairs=3)
    doc["product"]["category"] = "umbrella"
    found = product_mci(doc)
    assert found.utility.lifetime_ratio == 1 and found.utility.average_years is None
    assert "category-average-missing" in codes(found)


def test_missing_declared_lifetime_uses_the_category_average() -> None:
    doc = passport()
    del doc["product"]["lifetime_years"]
    found = product_mci(doc)
    assert found.utility.lifetime_ratio == 1
    assert "lifetime-not-declared" in codes(found)


def test_method_2015_ignores_sustained_production_and_says_so() -> None:
    # wool counts as virgin: as with an uncertified origin, MCI = 7/22
    found = product_mci(passport(), method="2015")
    assert found.materials[0].flows.fs == 0
    assert close(found.result.mci, Decimal(7) / Decimal(22))
    assert "method-2015" in codes(found)


def test_a_passport_without_materials_is_refused_naming_the_field() -> None:
    doc = passport()
    doc["materials"] = []
    with pytest.raises(ScoringInputError, match=r"^materials:"):
        product_mci(doc)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ScoringInputError, match=r"^method:"):
        product_mci(passport(), method="2030")  # type: ignore[arg-type]


def test_answer_is_json_of_decimal_strings() -> None:
    body = product_mci(passport()).to_json()
    assert body["mci"] == "0.536364" and body["lfi"] == "0.515152"
    assert body["materials"][0]["fs"] == "1" and body["data_quality"] == "mostly estimated"
    json.dumps(body)


def test_shipped_category_lifetimes_cite_declared_sources() -> None:
    averages = category_averages()
    assert averages.lifetime("jacket") is not None
    assert all(row.source in averages.sources for row in averages.categories.values())


def test_category_lifetimes_citing_an_undeclared_source_are_refused() -> None:
    data = json.loads(json.dumps(category_averages().model_dump(mode="json"), default=str))
    broken = copy.deepcopy(data)
    broken["categories"]["jacket"]["source"] = "nowhere"
    with pytest.raises(FormatError, match="undeclared sources nowhere"):
        load_averages(json.dumps(broken).encode())
    assert load_averages(json.dumps(data).encode()) == category_averages()


def test_an_assumed_category_average_is_flagged() -> None:
    doc = passport()
    doc["product"]["category"] = "bag"
    found = product_mci(doc)
    assert "category-average-assumed" in codes(found)
    assert found.data_quality != "measured"


def test_large_and_tiny_declared_lifetimes_are_presented_not_refused() -> None:
    # 10^30 years is 1.7 · 10^29 times the average, and 10^-30 years makes F(X) 5 · 10^30:
    # rounded to 6 places with the default 28 digits, either raised InvalidOperation.
    for years, shown, mci in (
        ("1" + "0" * 30, "1" + "0" * 30, "1"),
        ("0." + "0" * 29 + "1", "0", "0"),
    ):
        found = passport()
        found["product"]["lifetime_years"] = years
        answer = product_mci(found).to_json()
        assert answer["lifetime"]["declared_years"] == shown and answer["mci"] == mci
