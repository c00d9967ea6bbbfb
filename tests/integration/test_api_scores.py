"""Circularity from signed facts over real HTTP on the demo ledger (SQLite and PostgreSQL).

The repaired jacket lives longer, the resold bag is used more, the recycled jacket's end of
life is measured, untraced linings and uncertified leather are flagged, and the recycled wool
that flows back to the Biella mill raises the mill's circularity.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from api.demo import append_story, enrol_actors, story_envelopes
from api.demo_story import ATELIER, BAGS, BRAND, JACKETS, RECYCLED_WOOL, WOOL_MILL
from tests.integration.api_support import Api, assert_problem, get_json, running_api, store_of, urn

pytestmark = pytest.mark.integration

REPAIRED, RECYCLED = JACKETS
RESOLD = BAGS[0]


def circularity(api: Api, item: str, **params: str) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return get_json(api, f"/v1/items{item}/circularity" + (f"?{query}" if query else ""))


def flag(body: dict[str, Any], code: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [f for f in body["flags"] if f["code"] == code]
    assert found, (code, body["flags"])
    return found[0]


def test_repaired_jacket_counts_its_repair_as_longer_life(demo: Api) -> None:
    body = circularity(demo, REPAIRED)
    assert body["subject"] == REPAIRED and body["method"] == "2019"
    lifetime = body["lifetime"]
    assert (lifetime["category"], lifetime["declared_years"]) == ("jacket", "10")
    assert (lifetime["category_average_years"], lifetime["repairs"]) == ("6", 1)
    assert lifetime["lifetime_ratio"] == "1.883333"  # (10 + 1.3) / 6
    assert body["intensity"]["intensity_ratio"] == "1"
    wool = next(m for m in body["materials"] if m["material"] == "wool-merino")
    assert wool["renewable_certified"] and wool["fs"] == "1"  # RWS, valid at use
    assert set(flag(body, "untraced-inputs")["materials"]) == {
        "cupro", "button-corozo", "thread-polyester",
    }  # fmt: skip
    assert flag(body, "end-of-life-unknown") and body["data_quality"] == "mostly estimated"
    repair = [
        e for e in get_json(demo, f"/v1/items{REPAIRED}")["history"] if e["action"] == "repaired"
    ]
    assert repair[0]["index"] in body["entries"]


def test_resold_bag_is_used_more_and_its_leather_is_not_certified_sourcing(demo: Api) -> None:
    body = circularity(demo, RESOLD)
    assert body["intensity"] == {"resales": 2, "rentals": 0, "intensity_ratio": "1.5"}
    assert "leather-bovine-vegetable" in flag(body, "renewable-uncertified")["materials"]
    other = circularity(demo, BAGS[1])
    assert Decimal(body["mci"]) > Decimal(other["mci"])  # same bag, never resold


def test_recycled_jacket_end_of_life_is_measured_from_the_recycling_event(demo: Api) -> None:
    body = circularity(demo, RECYCLED)
    assert {m["end_of_life"] for m in body["materials"]} == {"measured"}
    assert {m["cr"] for m in body["materials"]} == {"0.702703"}  # 0.52 kg of 0.74 kg
    assert body["data_quality"] == "partly estimated"  # only the untraced share
    assert body["estimated_share"] == "0.278"
    assert Decimal(body["mci"]) > Decimal(circularity(demo, REPAIRED)["mci"])


def test_method_2015_ignores_sustained_production(demo: Api) -> None:
    body = circularity(demo, RECYCLED, method="2015")
    assert body["method"] == "2015" and flag(body, "method-2015")
    assert {m["fs"] for m in body["materials"]} == {"0"}
    bad = demo.client.get(f"/v1/items{RECYCLED}/circularity?method=2030")
    assert_problem(bad, 400, "bad-request")


def test_item_without_a_passport_is_404_saying_so(demo: Api) -> None:
    missing = "/01/08000000002020/21/NOSUCHSERIAL0000"
    response = demo.client.get(f"/v1/items{missing}/circularity")
    assert_problem(response, 404, "not-found", "no passport for", missing)
    lot = demo.client.get(f"/v1/items/{RECYCLED_WOOL}/circularity")
    assert_problem(lot, 404, "not-found", "no passport for")
    assert get_json(demo, f"/v1/items{REPAIRED}")["id"] == REPAIRED  # the item route still answers


def test_brand_company_mci_weighs_its_passports_by_mass(demo: Api) -> None:
    body = get_json(demo, f"/v1/actors/{urn(BRAND)}/circularity")
    company = body["company_mci"]
    assert company["weighting"] == "mass" and len(company["products"]) == 7
    shares = [Decimal(p["share"]) for p in company["products"]]
    assert abs(sum(shares, Decimal(0)) - 1) < Decimal("0.00001")
    mcis = [Decimal(p["mci"]) for p in company["products"]]
    assert min(mcis) <= Decimal(company["mci"]) <= max(mcis)
    assert "restricted" not in str(body)  # no masses, no lots for the public
    outflow = Decimal(body["cti"]["circular_outflow"])
    assert 0 < outflow < 1  # the resold bag and the recycled jacket, not the rest


def test_revenue_weighting_needs_revenue_the_ledger_lacks(demo: Api) -> None:
    response = demo.client.get(f"/v1/actors/{urn(BRAND)}/circularity?weighting=revenue")
    assert_problem(response, 422, "format", "weighting", "revenue")


def test_unknown_actor_is_404(demo: Api) -> None:
    response = demo.client.get(f"/v1/actors/{urn('nobody')}/circularity")
    assert_problem(response, 404, "not-found", "unknown actor")


def test_untraced_additions_are_linear_inflows_with_their_entries(demo: Api) -> None:
    token = store_of(demo).create_token(tier="operator", actor=None)[1]
    body = get_json(demo, f"/v1/actors/{urn(ATELIER)}/circularity", Authorization=f"Bearer {token}")
    untraced = [f for f in body["restricted"]["inflows"] if f["kind"] == "untraced"]
    assert {f["subject"] for f in untraced} >= {"cupro", "thread-polyester"}
    assert all(f["circular_kg"] == "0" and f["entries"] for f in untraced)
    assert Decimal(body["cti"]["circular_inflow"]) < 1
    assert "inflow_kg" in body["cti"]["restricted"]


def _mill(api: Api) -> dict[str, Any]:
    cti: dict[str, Any] = get_json(api, f"/v1/actors/{urn(WOOL_MILL)}/circularity")["cti"]
    return cti


def test_recycled_wool_back_at_the_biella_mill_raises_its_circularity(
    database_url: str, tmp_path: Path
) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        store, home = store_of(api), api.settings.home
        enrol_actors(store, home)
        signed = story_envelopes(home)
        cut = next(
            n for n, (step, _) in enumerate(signed) if step.fields.get("id") == "DDT-RT-1186"
        )
        append_story(store, signed[:cut])
        before = _mill(api)
        append_story(store, signed[cut:])
        after = _mill(api)
    assert before["inflow_recycled"] == "0"
    assert Decimal(after["inflow_recycled"]) > 0  # 0.52 kg of 400.52 kg
    assert Decimal(after["circularity"]) > Decimal(before["circularity"])
    # The RWS-certified merino already counted as circular inflow: it cannot rise above 1.
    assert before["circular_inflow"] == after["circular_inflow"] == "1"


def test_only_the_actors_own_brand_token_sees_its_flows(demo: Api) -> None:
    token = store_of(demo).create_token(tier="brand", actor=urn(BRAND))[1]
    auth = {"Authorization": f"Bearer {token}"}
    own = get_json(demo, f"/v1/actors/{urn(BRAND)}/circularity", **auth)
    outflows = own["restricted"]["outflows"]
    resold = next(f for f in outflows if f["subject"] == RESOLD)
    assert resold["recovered"] == "1" and resold["note"] == "resold later for a second life"
    recycled = [f for f in outflows if f["subject"] == RECYCLED]
    assert {f["recovered"] for f in recycled} == {"0.702703"} and len(recycled) == 2
    assert own["company_mci"]["restricted"]["total_weight"] == "3.984"
    other = get_json(demo, f"/v1/actors/{urn(ATELIER)}/circularity", **auth)
    assert "restricted" not in str(other)
