"""The supplier directory on the demo ledger: search, profiles, tiers, local alternatives, CLI.

The issue's test of done: a brand in Milan finds a GOTS-certified wet processor within 60 km
whose signed history shows the work, and sees which far-away steps of its products could come
home. Every figure must come from the log, and a hidden figure must never leave the server.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from api.demo_story import (
    BRAND,
    JACKETS,
    LOCAL_RECYCLER,
    PRINTER,
    RECYCLER,
    SILK_MILL,
    WOOL_MILL,
)
from ledger.envelope import Envelope
from scoring.transport import great_circle_km
from tests.integration.api_support import Api, assert_problem, get_json, store_of, urn
from tests.integration.test_cli import Operator

pytestmark = pytest.mark.integration

ON = "2026-11-26"
MILAN = "45.4642,9.19"
RECYCLED_JACKET = JACKETS[1]  # taken back, recycled in Prato


def payload(api: Api, index: int) -> dict[str, Any]:
    (row,) = get_json(api, f"/v1/log/entries?start={index}&end={index + 1}")["entries"]
    envelope = Envelope.from_bytes(base64.b64decode(row["entry"]))
    found: dict[str, Any] = json.loads(envelope.payload)
    return found


def test_a_milan_brand_finds_a_gots_printer_within_60_km_with_signed_history(demo: Api) -> None:
    query = f"process=printing&certificate=GOTS&near={MILAN}&radius_km=60&on={ON}"
    matches = get_json(demo, f"/v1/directory?{query}")["matches"]
    first = matches[0]
    assert first["actor"] == urn(PRINTER) and first["town"] == "Grandate"
    assert Decimal(first["distance_km"]) < 60
    assert first["process"]["verified"] and first["process"]["entries"]
    for index in first["process"]["entries"]:  # each entry is the printer's signed printing
        event = payload(demo, index)
        assert (event["actor"], event["type"], event["process"]) == (
            urn(PRINTER), "process", "printing",
        )  # fmt: skip
        assert get_json(demo, f"/v1/entries/{index}/verdict")["applied"] is True
    assert [c["scheme"] for c in first["certificates"]] == ["GOTS"]
    assert first["certificates"][0]["evidenced"]


def test_a_declared_process_without_events_is_shown_unverified(demo: Api) -> None:
    dyeing = get_json(demo, f"/v1/directory?process=dyeing&near={MILAN}&radius_km=60&on={ON}")
    printer = next(m for m in dyeing["matches"] if m["actor"] == urn(PRINTER))
    assert printer["process"] == {
        "id": "dyeing", "declared": True, "verified": False,
        "status": "declared, not yet evidenced", "entries": [],
    }  # fmt: skip
    newcomer = get_json(demo, f"/v1/directory/{urn(LOCAL_RECYCLER)}?on={ON}")
    offers = {o["id"]: o for o in newcomer["processes"]}
    assert not offers["mechanical-recycling"]["verified"]
    assert newcomer["track_record"]["figures"]["services"]["entries"] == []
    prato = get_json(demo, f"/v1/directory/{urn(RECYCLER)}?on={ON}")
    recycled = {o["id"]: o for o in prato["processes"]}["mechanical-recycling"]
    assert recycled["verified"] and payload(demo, recycled["entries"][0])["kind"] == "recycling"


def test_search_ranks_by_distance_within_the_radius(demo: Api) -> None:
    near = get_json(demo, f"/v1/directory?near={MILAN}&radius_km=39&on={ON}")["matches"]
    distances = {m["actor"]: Decimal(m["distance_km"]) for m in near}
    assert urn(SILK_MILL) not in distances  # Como: 39.1 km from the centre of Milan
    assert urn(PRINTER) in distances  # Grandate: 35.6 km
    expected = great_circle_km(Decimal("45.4642"), Decimal("9.19"), Decimal("45.7712"),
                               Decimal("9.0585"))  # fmt: skip
    assert distances[urn(PRINTER)] == expected.quantize(Decimal("0.1"))
    assert all(d <= 39 for d in distances.values())
    lombardy = get_json(demo, f"/v1/directory?region=Lombardia&on={ON}")["matches"]
    assert urn(RECYCLER) not in {m["actor"] for m in lombardy}  # Prato is in Tuscany


def _volume_kg(profile: dict[str, Any]) -> list[str]:
    return [row["kg"] for row in profile["track_record"]["figures"]["volumes"]["by_process"]]


def test_hidden_figures_never_appear_in_public_output(demo: Api) -> None:
    store = store_of(demo)
    operator = {"Authorization": f"Bearer {store.create_token(tier='operator', actor=None)[1]}"}
    full = get_json(demo, f"/v1/directory/{urn(PRINTER)}?on={ON}", **operator)
    kg = _volume_kg(full)
    assert kg  # the printer processed silk, the operator sees how much
    public = demo.client.get(f"/v1/directory/{urn(PRINTER)}?on={ON}")
    assert "volumes" not in public.json()["track_record"]["figures"]
    html = demo.client.get(f"/directory/{urn(PRINTER)}?lang=en").text
    search = demo.client.get(f"/v1/directory?process=printing&on={ON}").text
    for text in (public.text, html, search):
        assert not any(f"{value} kg" in text or f'"{value}"' in text for value in kg)
    # a brand sees every figure of its own actor, not of others
    brand = {"Authorization": f"Bearer {store.create_token(tier='brand', actor=urn(BRAND))[1]}"}
    own = get_json(demo, f"/v1/directory/{urn(BRAND)}?on={ON}", **brand)
    assert "volumes" in own["track_record"]["figures"]
    other = get_json(demo, f"/v1/directory/{urn(PRINTER)}?on={ON}", **brand)
    assert "volumes" not in other["track_record"]["figures"]
    # the silk mill chose to publish its volumes
    assert _volume_kg(get_json(demo, f"/v1/directory/{urn(SILK_MILL)}?on={ON}"))


def test_every_figure_names_the_entries_behind_it(demo: Api) -> None:
    profile = get_json(demo, f"/v1/directory/{urn(PRINTER)}?on={ON}")
    figures = profile["track_record"]["figures"]
    assert figures["maturity"] is None and "maturity" in profile["notes"]  # no assessment
    assert figures["acceptance"] == {
        "share": "1", "accepted": 1, "received": 1,
        "entries": figures["acceptance"]["entries"], "entries_total": 1,
    }  # fmt: skip
    (receipt,) = figures["acceptance"]["entries"]
    assert payload(demo, receipt)["type"] == "receipt"
    for index in figures["certified"]["entries"]:
        assert payload(demo, index)["actor"] == urn(PRINTER)
    assert figures["partners"]["count"] == 2  # the silk mill and the atelier
    assert Decimal(figures["distance"]["mean_km"]) == Decimal("24.0")  # (6 + 42) / 2, declared


def test_the_maturity_level_appears_once_an_assessment_exists(demo: Api) -> None:
    figure = get_json(demo, f"/v1/directory/{urn(WOOL_MILL)}?on={ON}")["track_record"]["figures"]
    maturity = figure["maturity"]
    overall = get_json(demo, f"/v1/actors/{urn(WOOL_MILL)}/maturity")["overall"]
    assert maturity["level"] == overall and maturity["page"] == f"/companies/{WOOL_MILL}"
    (index,) = maturity["entries"]
    assert payload(demo, index)["type"] == "assessment"


def test_local_alternatives_bring_the_recycling_home(demo: Api) -> None:
    answer = get_json(demo, f"/v1/items{RECYCLED_JACKET}/local-alternatives?on={ON}")
    assert answer["brand"]["actor"] == urn(BRAND)
    (far,) = answer["far_steps"]
    assert far["step"]["what"] == "recycling" and far["step"]["town"] == "Prato"
    (alternative,) = far["alternatives"]
    assert alternative["actor"] == urn(LOCAL_RECYCLER)
    brand = (Decimal(answer["brand"]["lat"]), Decimal(answer["brand"]["lon"]))
    prato = great_circle_km(*brand, Decimal("43.8808"), Decimal("11.0966"))
    seregno = great_circle_km(*brand, Decimal("45.6510"), Decimal("9.2044"))
    assert Decimal(far["distance_km"]) == prato.quantize(Decimal("0.1"))
    assert Decimal(alternative["distance_km"]) == seregno.quantize(Decimal("0.1"))
    assert Decimal(alternative["saved_km"]) == (prato - seregno).quantize(Decimal("0.1"))
    assert alternative["offers"][0]["status"] == "declared, not yet evidenced"
    tighter = get_json(demo, f"/v1/items{RECYCLED_JACKET}/local-alternatives?radius_km=10&on={ON}")
    assert tighter["far_steps"][0]["alternatives"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("near=45.4", "near"),
        ("near=91,9", "near"),
        ("near=45,9&radius_km=0", "radius_km"),
        ("near=45,9&radius_km=2001", "radius_km"),
        ("process=ironing", "process"),
        ("material=unobtainium", "material"),
        ("on=26-11-2026", "on"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(demo: Api, query: str, field: str) -> None:
    body = assert_problem(demo.client.get(f"/v1/directory?{query}"), 400, "bad-request")
    assert body["detail"].startswith(f"{field}: ")


def test_bad_local_alternative_parameters_and_unknown_actors(demo: Api) -> None:
    response = demo.client.get(f"/v1/items{RECYCLED_JACKET}/local-alternatives?max_km=-1")
    assert assert_problem(response, 400, "bad-request")["detail"].startswith("max_km: ")
    assert demo.client.get("/v1/directory/urn:spola:actor:nobody").status_code == 404
    page = demo.client.get("/directory?radius_km=0&near=45,9")
    assert page.status_code == 400 and "radius_km" in page.text


def test_the_directory_page_is_a_phone_friendly_form_in_two_languages(demo: Api) -> None:
    # On the demo's day, not today (the page's default): the printer's GOTS ends 2027-11-02.
    query = f"process=printing&certificate=GOTS&near={MILAN}&radius_km=60&on={ON}"
    english = demo.client.get(f"/directory?{query}", headers={"Accept-Language": "en"})
    assert english.status_code == 200 and english.headers["content-type"].startswith("text/html")
    text = english.text
    assert 'name="viewport"' in text and '<form class="filters card" method="get"' in text
    assert "Stamperia Grandate (demo)" in text and "verified" in text
    assert "<script" not in text and "http://" not in text and "https://" not in text
    italian = demo.client.get(f"/directory?{query}&lang=it").text
    assert "Elenco fornitori" in italian and "verificato" in italian


def test_cli_directory_search_prints_a_table(tmp_path: Path, database_url: str) -> None:
    op = Operator(tmp_path / "home", database_url, tmp_path, [])
    assert op.spola("init").code == 0 and op.spola("demo").code == 0
    run = op.spola(
        "directory", "search", "--process", "dyeing", "--certificate", "GOTS",
        "--near", MILAN, "--radius-km", "60", "--on", ON,
    )  # fmt: skip
    assert run.code == 0, run
    header, *rows = run.stdout.splitlines()
    assert header.split() == ["km", "score", "process", "certificates", "actor", "name", "town"]
    assert len(rows) == 1 and PRINTER in rows[0] and "declared" in rows[0]
    assert rows[0].split()[0] == "35.6"
    bad = op.spola("directory", "search", "--near", "north", "--on", ON)
    assert bad.code == 2 and bad.stderr.startswith("spola: near: ")
    shown = op.spola("directory", "show", PRINTER, "--on", ON)
    assert shown.code == 0 and "volumes" not in json.loads(shown.stdout)["track_record"]["figures"]


def test_html_pages_answer_head_and_tell_caches_what_they_vary_on(demo: Api) -> None:
    pages = [
        "/directory?process=printing",
        f"/directory/{urn(PRINTER)}",
        f"/companies/{BRAND}",
    ]
    for path in pages:
        page, head = demo.client.get(path), demo.client.head(path)
        assert page.status_code == head.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == page.headers["content-type"]
        assert "Accept-Language" in page.headers["vary"], path
    for path in pages[:2]:  # a token shows restricted figures: never from a shared cache
        headers = demo.client.get(path).headers
        assert "Authorization" in headers["vary"] and "private" in headers["cache-control"]
