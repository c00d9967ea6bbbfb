"""The demo ledger tells its story through the API, on SQLite and PostgreSQL.

A user follows the products the way the README says: each item's state and history, its trace
back to the raw-material lots of the mills, the workshops' holdings, the recycled wool back to
the jacket it came from, and the double spend the ledger logged but refused. Seeding twice
appends nothing; a seed cut off halfway is completed by the next one without a duplicate.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import api.demo as demo_module
from api.demo import DemoError, enrol_actors, seed_demo, story_envelopes
from api.demo_story import (
    ATELIER,
    BAGS,
    BLANKS,
    BLEND_YARN,
    BRAND,
    BRASS,
    BUCKLES,
    BUCKLES_REPLATED,
    CRUST,
    DEMO_ACTORS,
    DOUBLE_SPEND,
    FLANNEL,
    JACKETS,
    LEATHER,
    NEW_CLOTH,
    PRINTED,
    PRINTER,
    RAW_SILK,
    RECYCLED_WOOL,
    RECYCLER,
    REPAIRER,
    RESALE,
    SCARVES,
    SILK_MILL,
    TANNERY,
    TOPS,
    TRIMS,
    TWILL,
    WOOL_MILL,
    story,
)
from ledger.envelope import Envelope
from ledger.epcis import EXPORTED_TYPES
from ledger.store.schema import equivocations
from tests.epcis_oracle import reference_hashes
from tests.integration.api_support import DEMO_ENTRIES, Api, get_json, running_api, store_of, urn
from tests.integration.test_api_epcis import get_pages
from tests.supply import GOTS_CLAIM

pytestmark = pytest.mark.integration


def payloads(api: Api) -> list[dict[str, Any]]:
    """Every entry's signed payload, read page by page from /v1/log/entries."""
    size = api.tree_size()
    rows: list[dict[str, Any]] = []
    while len(rows) < size:
        rows += get_json(api, f"/v1/log/entries?start={len(rows)}")["entries"]
    return [json.loads(Envelope.from_bytes(base64.b64decode(row["entry"])).payload) for row in rows]


# -- the cast ---------------------------------------------------------------------------------


def test_demo_actors_are_workshops_in_real_towns(demo: Api) -> None:
    listed = {a["id"]: a for a in get_json(demo, "/v1/actors")["actors"]}
    assert len(DEMO_ACTORS) >= 9
    towns = set()
    for actor in DEMO_ACTORS:
        profile = get_json(demo, f"/v1/actors/{actor.id}")["profile"]
        assert profile["name"].endswith("(demo)")
        for facility in profile["facilities"]:
            assert 43 < float(facility["lat"]) < 47 and 7 < float(facility["lon"]) < 12
            towns.add(facility["town"])
        assert listed[actor.id]["roles"] == list(actor.roles)
    assert {"Como", "Grandate", "Biella", "Robecchetto con Induno", "Lecco", "Milano"} <= towns
    assert set(listed[urn(BRAND)]["roles"]) == {"brand", "retailer"}
    assert listed[urn(REPAIRER)]["roles"] == ["repairer"]
    assert listed[urn(RESALE)]["roles"] == ["retailer"]
    assert listed[urn(RECYCLER)]["roles"] == ["recycler"]


# -- the products -----------------------------------------------------------------------------


def item(api: Api, item_id: str) -> dict[str, Any]:
    return get_json(api, f"/v1/items{item_id}")


def actions(record: dict[str, Any]) -> list[str]:
    return [row["action"] for row in record["history"]]


def test_every_product_is_where_the_story_leaves_it(demo: Api) -> None:
    made = [item(demo, i) for i in (*SCARVES, *JACKETS, *BAGS)]
    assert {m["maker"] for m in made} == {urn(ATELIER)}
    for m in made:
        assert actions(m)[:4] == ["made", "sold", "sent", "received"]

    sold, _, in_boutique = (item(demo, i) for i in SCARVES)
    assert (sold["status"], sold["owner"], sold["custodian"]) == ("with_consumer", None, None)
    assert sold["claim"] == GOTS_CLAIM
    assert (in_boutique["status"], in_boutique["owner"], in_boutique["custodian"]) == (
        "held",
        urn(BRAND),
        urn(BRAND),
    )

    repaired, recycled = (item(demo, i) for i in JACKETS)
    assert (repaired["status"], repaired["repairs"]) == ("with_consumer", 1)
    assert actions(repaired)[-2:] == ["sold", "repaired"]
    assert (recycled["status"], recycled["owner"]) == ("recycled", urn(RECYCLER))
    assert actions(recycled)[-6:] == ["sold", "taken-back", "sold", "sent", "received", "recycled"]

    resold, kept = (item(demo, i) for i in BAGS)
    assert (resold["status"], resold["owner"], resold["resales"]) == ("with_consumer", None, 2)
    assert actions(resold)[-3:] == ["sold", "resold", "resold"]
    assert resold["history"][-2]["to"] == urn(RESALE)  # bought in by the second-hand shop
    assert (kept["status"], kept["resales"], kept["repairs"]) == ("with_consumer", 0, 0)


def trace(api: Api, path: str) -> dict[str, Any]:
    body = get_json(api, f"{path}/trace?limit=200")
    assert body["next_cursor"] is None and not body["truncated"]
    return body


def origins(body: dict[str, Any]) -> dict[str, str]:
    """Each raw-material lot of a trace and the actor whose material event made it."""
    events = {e["index"]: e for e in body["events"]}
    return {
        node["id"]: events[node["made_at_index"]]["actor"]
        for node in body["nodes"]
        if node["made_at_index"] is not None and events[node["made_at_index"]]["type"] == "material"
    }


@pytest.mark.parametrize(
    ("product", "raw", "workshops"),
    [
        (SCARVES[0], {RAW_SILK: SILK_MILL}, {SILK_MILL, PRINTER, ATELIER}),
        (JACKETS[0], {TOPS: WOOL_MILL}, {WOOL_MILL, ATELIER}),
        (BAGS[0], {CRUST: TANNERY, BRASS: TRIMS}, {TANNERY, TRIMS, ATELIER}),
    ],
    ids=["scarf", "jacket", "bag"],
)
def test_item_trace_reaches_the_raw_material_of_its_mills(
    demo: Api, product: str, raw: dict[str, str], workshops: set[str]
) -> None:
    body = trace(demo, f"/v1/items{product}")

    assert body["root"] == {"kind": "item", "id": product}
    assert origins(body) == {lot: urn(slug) for lot, slug in raw.items()}
    assert {a["id"] for a in body["actors"]} == {urn(slug) for slug in workshops}
    for actor in body["actors"]:
        assert actor["facilities"][0]["lat"] and actor["facilities"][0]["town"]


def test_bag_trace_goes_through_the_replating_of_the_rejected_buckles(demo: Api) -> None:
    nodes = {n["id"]: n for n in trace(demo, f"/v1/items{BAGS[0]}")["nodes"]}
    assert [i["id"] for i in nodes[BAGS[0]]["inputs"]] == [LEATHER, BUCKLES_REPLATED]
    assert [i["id"] for i in nodes[BUCKLES_REPLATED]["inputs"]] == [BUCKLES]
    assert [i["id"] for i in nodes[BUCKLES]["inputs"]] == [BLANKS]
    assert [i["id"] for i in nodes[LEATHER]["inputs"]] == [CRUST]


# -- holdings ---------------------------------------------------------------------------------


def holdings(api: Api, slug: str) -> dict[str, Any]:
    return get_json(api, f"/v1/actors/{urn(slug)}/holdings")


def lots_held(api: Api, slug: str) -> dict[str, str]:
    return {
        row["lot"]["id"]: f"{row['amount']} {row['unit']}" for row in holdings(api, slug)["lots"]
    }


def test_holdings_show_what_each_workshop_still_holds(demo: Api) -> None:
    # The refused double spend took nothing: 60 of the 300 m stay in Como.
    assert lots_held(demo, SILK_MILL) == {TWILL: "60 MTR"}
    assert lots_held(demo, ATELIER) == {
        PRINTED: "117 MTR",
        FLANNEL: "36.4 MTR",
        LEATHER: "38 FTK",
        BUCKLES_REPLATED: "20 H87",
    }
    # The rejected delivery of buckles came back to Lecco.
    assert lots_held(demo, TRIMS)[BUCKLES] == "176 H87"
    assert lots_held(demo, WOOL_MILL)[NEW_CLOTH] == "5 MTR"
    assert [i["id"] for i in holdings(demo, BRAND)["items"]] == [SCARVES[2]]
    for actor in DEMO_ACTORS:
        pending = holdings(demo, actor.slug)
        assert pending["outgoing"] == [] and pending["incoming"] == []


# -- the circular loop ------------------------------------------------------------------------


def test_recycled_wool_traces_back_to_the_jacket_it_came_from(demo: Api) -> None:
    lot = get_json(demo, f"/v1/lots/{RECYCLED_WOOL}")
    assert (lot["material"], lot["made_by"], lot["origin"]) == (
        "wool-recycled",
        "recycling",
        urn(RECYCLER),
    )
    assert lot["feedstock"]["recycled"] == "1"
    assert lot["holders"] == []  # all of it went back to Biella
    assert [c["action"] for c in lot["custody"]] == ["made", "sent", "received", "consumed"]

    body = trace(demo, f"/v1/lots/{RECYCLED_WOOL}")
    (recycled_from,) = body["nodes"][0]["inputs"]
    assert (recycled_from["kind"], recycled_from["id"]) == ("item", JACKETS[1])
    assert origins(body) == {TOPS: urn(WOOL_MILL)}


def test_recycled_wool_returns_to_biella_in_a_new_cloth(demo: Api) -> None:
    cloth = get_json(demo, f"/v1/lots/{NEW_CLOTH}")
    assert cloth["origin"] == urn(WOOL_MILL)
    assert cloth["feedstock"]["recycled"] == "0.302326"  # 0.52 kg recycled in 1.72 kg
    assert cloth["claim"] == {"model": "mass_balance", "scheme": "RWS", "certified_fraction": "0.7"}

    ids = {n["id"] for n in trace(demo, f"/v1/lots/{NEW_CLOTH}")["nodes"]}
    assert {BLEND_YARN, RECYCLED_WOOL, JACKETS[1], FLANNEL, TOPS} <= ids


# -- the double spend -------------------------------------------------------------------------


def test_double_spend_is_logged_but_not_applied(demo: Api) -> None:
    found = [
        i
        for i, p in enumerate(payloads(demo))
        if p["type"] == "handover" and p["id"] == DOUBLE_SPEND
    ]
    (index,) = found

    verdict = get_json(demo, f"/v1/entries/{index}/verdict")

    assert (verdict["applied"], verdict["actor"]) == (False, urn(SILK_MILL))
    assert verdict["violation"]["rule"] == "balance.insufficient"
    assert "80 MTR" in verdict["violation"]["detail"]
    assert "holds 60 MTR" in verdict["violation"]["detail"]
    pending = get_json(demo, f"/v1/lots/{TWILL}")["in_transit"]
    assert pending == []


def test_only_the_double_spend_is_refused(demo: Api) -> None:
    refused = [
        (i, v["violation"]["rule"])
        for i in range(demo.tree_size())
        if not (v := get_json(demo, f"/v1/entries/{i}/verdict"))["applied"]
    ]
    assert [rule for _, rule in refused] == ["balance.insufficient"]
    assert [s.refused for s in story() if s.refused] == ["balance.insufficient"]


def test_story_is_told_in_the_order_of_its_time(demo: Api) -> None:
    # The terminals' events: the silk mill's key rotation, then the season.
    times = [p["time"] for p in payloads(demo) if p["actor"] != "urn:spola:actor:operator"]
    assert times == sorted(times)
    assert times[0].startswith("2026-03-02") and times[-1] == max(s.time for s in story())


# -- seeding again ----------------------------------------------------------------------------


def test_second_seed_appends_nothing(demo: Api) -> None:
    store = store_of(demo)
    size = store.tree_size()

    assert seed_demo(store, demo.settings.home) == 0

    assert store.tree_size() == size == DEMO_ENTRIES + 1
    report = store.rebuild()
    assert report.equal, report.differences


class PowerCut(Exception):
    """The seeding process stops here."""


# Appends are counted in order: the silk mill's registration, key and rotation (1-3), the
# printer's registration (4) and key (5) …, 21 registry events, then batches of 20 story events.
@pytest.mark.parametrize(
    "after", [2, 4, 22], ids=["before-the-rotation", "actor-without-its-key", "mid-story"]
)
def test_interrupted_seed_completes_without_duplicates(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: int
) -> None:
    """The seed stops after ``after`` appends (operator events and batches alike)."""
    with running_api(database_url, tmp_path / "home") as api:
        store, home = store_of(api), api.settings.home
        calls = {"n": 0}

        def cut(method: Any) -> Any:
            def wrapped(*args: Any) -> Any:
                if calls["n"] == after:
                    raise PowerCut
                calls["n"] += 1
                return method(*args)

            return wrapped

        monkeypatch.setattr(store, "operator_event", cut(store.operator_event))
        monkeypatch.setattr(store, "append", cut(store.append))
        with pytest.raises(PowerCut):
            seed_demo(store, home)
        monkeypatch.undo()
        first = api.tree_size() - 1

        assert 0 < first < DEMO_ENTRIES
        assert seed_demo(store, home) == DEMO_ENTRIES - first

        assert api.tree_size() == DEMO_ENTRIES + 1
        logged = payloads(api)
        signed = [(p["actor"], p["seq"], p["time"]) for p in logged]
        assert len(set(signed)) == len(signed)  # no event twice, no feed forked
        assert seed_demo(store, home) == 0
        report = store.rebuild()
        assert report.equal, report.differences


def test_an_edited_story_is_refused_before_a_byte_of_it_is_appended(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database seeded by an earlier version of the demo (an older checkout's `make run`):
    # the edited story signs other events at seqs already used, and appending them kept each
    # as equivocation evidence against the demo's own workshops. Refused now, saying what to do.
    with running_api(database_url, tmp_path / "home") as api:
        store, home = store_of(api), api.settings.home
        seed_demo(store, home)
        size = api.tree_size()
        steps = story()
        at = next(i for i, s in enumerate(steps) if s.fields["type"] == "passport")
        edited = [*steps]
        product = edited[at].fields["product"] | {"name": "Foulard Lario, edited"}
        edited[at] = replace(edited[at], fields=edited[at].fields | {"product": product})
        monkeypatch.setattr(demo_module, "story", lambda: edited)
        with pytest.raises(DemoError, match="another version of the demo story") as refused:
            seed_demo(store, home)
        assert "empty database" in str(refused.value)
        assert api.tree_size() == size
        with store.connect() as conn:
            assert conn.execute(select(func.count()).select_from(equivocations)).scalar() == 0
        monkeypatch.undo()
        assert seed_demo(store, home) == 0


def test_story_envelopes_are_the_same_on_every_call(tmp_path: Path) -> None:
    first = [envelope.to_bytes() for _, envelope in story_envelopes(tmp_path)]
    again = [envelope.to_bytes() for _, envelope in story_envelopes(tmp_path)]
    assert first == again
    assert len(first) == len(story())


def test_demo_cannot_continue_with_another_homes_keys(demo: Api, tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="not in"):
        enrol_actors(store_of(demo), tmp_path / "elsewhere")


def test_the_demo_season_exports_as_valid_epcis_with_reference_hashes(demo: Api) -> None:
    """The whole season as EPCIS 2.0: schema-valid, every eventID GS1's reference hash."""
    documents = get_pages(demo, limit="100")
    events = [e for d in documents for e in d["epcisBody"]["eventList"]]
    for document in documents:
        ids = [e["eventID"] for e in document["epcisBody"]["eventList"]]
        assert ids == reference_hashes(document)
    kinds = {e["type"] for e in events}
    assert kinds == {"ObjectEvent", "TransformationEvent"}
    steps = {e.get("bizStep") for e in events}
    assert {"commissioning", "shipping", "receiving", "retail_selling", "repairing"} <= steps
    refused = [
        i
        for i, p in enumerate(payloads(demo))
        if p["type"] == "handover" and p["id"] == DOUBLE_SPEND
    ]
    exported = {e["spola:logIndex"] for e in events}
    assert refused and not exported & set(refused)  # a refused claim is not an EPCIS event
    supply = [p for p in payloads(demo) if p["type"] in EXPORTED_TYPES]
    assert len(exported) == len(supply) - len(refused)
