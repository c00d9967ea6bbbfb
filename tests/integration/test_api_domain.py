"""The supply chain through HTTP: events in through POST /v1/entries, lots, items, traces,
holdings and verdicts out, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.identifiers import DigitalLink
from tests.integration.api_support import Api, assert_problem, running_api
from tests.supply import (
    CERT_GOTS,
    GOTS_CLAIM,
    facility,
    handover,
    item,
    lifecycle,
    make,
    material,
    process,
    q,
    receipt,
    take,
)
from tests.terminal import Terminal

RAW = "urn:spola:lot:seteria:S26-0142"
DYED = DigitalLink(gtin="08000000000019", lot="T26-07").path()
SCARF = DigitalLink(gtin="08000000000026", serial="8F3KQ2M7XW").path()


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(database_url, tmp_path / "home", max_page=20) as running:
        yield running


def _enrol(app: Api, slug: str, *roles: str) -> Terminal:
    return app.enrol(slug, roles=list(roles), facilities=[facility()])


def _story(app: Api) -> tuple[Terminal, Terminal, int]:
    """Silk made at the mill, dyed by the dyer into a scarf; one double spend refused."""
    mill, dyer = _enrol(app, "seteria", "supplier"), _enrol(app, "tintoria", "supplier", "brand")
    app.accept(mill.sign(material(RAW, "100", claim=GOTS_CLAIM, certificates=[CERT_GOTS])))
    app.accept(mill.sign(handover("DDT-1", dyer.actor, [take(RAW, "60")])))
    (refused,) = app.accept(mill.sign(handover("DDT-2", dyer.actor, [take(RAW, "60")])))
    app.accept(dyer.sign(receipt(mill.actor, "DDT-1")))
    app.accept(
        dyer.sign(
            process(
                [take(RAW, "50")],
                [make(DYED, "49.5", claim=GOTS_CLAIM)],
                [item(SCARF, "0.5", claim=GOTS_CLAIM)],
                certificates=[CERT_GOTS],
                untraced=[{"material": "thread-silk", "quantity": q("100", "GRM")}],
            )
        )
    )
    return mill, dyer, refused["index"]


def test_lot_shows_holders_in_transit_and_custody(app: Api) -> None:
    mill, dyer = _enrol(app, "seteria", "supplier"), _enrol(app, "tintoria", "supplier")
    app.accept(mill.sign(material(RAW, "100")))
    app.accept(mill.sign(handover("DDT-1", dyer.actor, [take(RAW, "25.5")])))

    body = app.client.get(f"/v1/lots/{RAW}").json()

    assert body["material"] == "silk-mulberry" and body["origin"] == mill.actor
    assert body["holders"] == [{"holder": mill.actor, "amount": "74.5"}]
    assert body["in_transit"] == [
        {"handover": {"sender": mill.actor, "id": "DDT-1"}, "to": dyer.actor, "amount": "25.5"}
    ]
    assert [c["action"] for c in body["custody"]] == ["made", "sent"]


def test_digital_link_ids_are_written_without_the_leading_slash(app: Api) -> None:
    _story(app)
    lot = app.client.get(f"/v1/lots{DYED}")
    scarf = app.client.get(f"/v1/items{SCARF}")
    assert lot.status_code == 200 and lot.json()["id"] == DYED
    assert scarf.status_code == 200, scarf.text
    assert scarf.json()["claim"] == GOTS_CLAIM
    assert scarf.json()["status"] == "held"


def test_item_trace_reaches_the_raw_material_with_events_and_actors(app: Api) -> None:
    mill, dyer, _ = _story(app)

    body = app.client.get(f"/v1/items{SCARF}/trace").json()

    assert [(n["kind"], n["id"], n["depth"]) for n in body["nodes"]] == [
        ("item", SCARF, 0),
        ("lot", RAW, 1),
    ]
    assert body["nodes"][0]["inputs"] == [{"kind": "lot", "id": RAW, "mass_kg": "50"}]
    assert {e["type"] for e in body["events"]} == {"process", "material"}
    assert {a["id"] for a in body["actors"]} == {mill.actor, dyer.actor}
    assert body["actors"][0]["facilities"][0]["town"] == "Como"
    assert body["next_cursor"] is None


def test_trace_pages_with_a_cursor(app: Api) -> None:
    _story(app)
    first = app.client.get(f"/v1/items{SCARF}/trace", params={"limit": 1}).json()
    assert [n["id"] for n in first["nodes"]] == [SCARF]
    assert first["next_cursor"] == 1
    second = app.client.get(
        f"/v1/items{SCARF}/trace", params={"limit": 1, "cursor": first["next_cursor"]}
    ).json()
    assert [n["id"] for n in second["nodes"]] == [RAW]
    assert second["next_cursor"] is None


def test_holdings_list_lots_items_and_pending_handovers(app: Api) -> None:
    mill, dyer, _ = _story(app)
    app.accept(dyer.sign(handover("RET-1", mill.actor, [take(DYED, "10")])))

    body = app.client.get(f"/v1/actors/{dyer.actor}/holdings").json()

    assert {(h["lot"]["id"], h["amount"]) for h in body["lots"]} == {
        (RAW, "10"),
        (DYED, "39.5"),
    }
    assert [i["id"] for i in body["items"]] == [SCARF]
    assert [h["id"] for h in body["outgoing"]] == ["RET-1"]
    incoming = app.client.get(f"/v1/actors/{mill.actor}/holdings").json()["incoming"]
    assert incoming[0]["lines"] == [{"kind": "lot", "id": DYED, "amount": "10"}]


def test_verdict_names_the_rule_and_the_numbers(app: Api) -> None:
    mill, _, refused = _story(app)

    body = app.client.get(f"/v1/entries/{refused}/verdict").json()

    assert body["applied"] is False
    assert body["type"] == "handover" and body["actor"] == mill.actor
    assert body["violation"]["rule"] == "balance.insufficient"
    assert "holds 40 KGM" in body["violation"]["detail"]
    applied = app.client.get(f"/v1/entries/{refused - 1}/verdict").json()
    assert (applied["applied"], applied["violation"]) == (True, None)


def test_lifecycle_through_http(app: Api) -> None:
    _, dyer, _ = _story(app)
    repairer = _enrol(app, "riparazioni", "repairer")
    app.accept(dyer.sign(lifecycle("sale", SCARF)))
    app.accept(repairer.sign(lifecycle("repair", SCARF)))
    body = app.client.get(f"/v1/items{SCARF}").json()
    assert (body["owner"], body["status"], body["repairs"]) == (None, "with_consumer", 1)
    assert [h["action"] for h in body["history"]] == ["made", "sold", "repaired"]


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/v1/lots/urn:spola:lot:x:nothing", "no lot urn:spola:lot:x:nothing"),
        ("/v1/items/01/08000000000026/21/NOPE", "no item /01/08000000000026/21/NOPE"),
        ("/v1/items/urn:spola:item:x:y/trace", "no item urn:spola:item:x:y"),
        ("/v1/actors/urn:spola:actor:nobody/holdings", "unknown actor"),
        ("/v1/entries/999/verdict", "no entry at index 999"),
    ],
)
def test_unknown_things_are_404_problems(app: Api, path: str, detail: str) -> None:
    assert_problem(app.client.get(path), 404, "not-found", detail)


def test_malformed_event_is_refused_with_the_field_named(app: Api) -> None:
    mill = _enrol(app, "seteria", "supplier")
    response = app.post(mill.sign_unchecked(material(RAW, "100", unit="MTR")))
    assert_problem(response, 422, "format", "quantity in MTR needs mass_per_unit")
