"""EPCIS 2.0 export: each refusal and bound of ``GET /v1/epcis/events``, on SQLite and PostgreSQL.

Every test here stops a mistake a client would see: a filter the service silently ignores and
so answers with the whole log, a query without a bound, a refusal that turns into a 500. The
chain is signed by workshop terminals and posted over HTTP, as in production.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.epcis_oracle import schema_errors
from tests.integration.api_support import Api, assert_problem, store_of
from tests.supply import handover, item, lifecycle, material, process, receipt, take
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

LOT = "urn:spola:lot:seteria:S26-0142"
OTHER_LOT = "urn:spola:lot:seteria:S26-0143"
EVENTS = "/v1/epcis/events"


def works() -> dict[str, Any]:
    facility = {"id": "main", "name": "Works", "town": "Como", "country": "IT"}
    return facility | {"lat": "45.8081", "lon": "9.0852"}


def step(api: Api, terminal: Terminal, fields: dict[str, Any], day: int) -> int:
    """Sign and post one event; insist that it is applied; its log index."""
    (receipt_,) = api.accept(terminal.sign(fields | {"time": f"2026-03-{day:02d}T08:00:00Z"}))
    assert receipt_["applied"], receipt_["violation"]
    index: int = receipt_["index"]
    return index


def export(api: Api, query: str = "") -> list[dict[str, Any]]:
    response = api.client.get(f"{EVENTS}?{query}")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    assert schema_errors(document) == []
    events: list[dict[str, Any]] = document["epcisBody"]["eventList"]
    return events


@pytest.fixture
def two_mills(app: Api) -> tuple[Terminal, Terminal]:
    """Two mills, each commissioning a lot; the first ships part of its lot to the second."""
    mill = app.enrol("seteria", facilities=[works()])
    other = app.enrol("filanda", facilities=[works()])
    step(app, mill, material(LOT, "100"), 1)
    step(app, other, material("urn:spola:lot:filanda:F1", "50"), 2)
    step(app, mill, handover("DDT-1", other.actor, [take(LOT, "10")]), 3)
    return mill, other


@pytest.mark.parametrize(
    "query",
    [
        "actor={mill}&actor={other}",
        "since=2026-03-01T00:00:00Z&since=2026-03-03T00:00:00Z",
        "limit=1&limit=2",
        "cursor=0&cursor=0",
    ],
)
def test_a_filter_given_twice_is_refused_not_guessed(
    app: Api, two_mills: tuple[Terminal, Terminal], query: str
) -> None:
    """Which of two values counts is a guess (the framework keeps the last one): a client that
    asked for two actors would get one actor's events and take them for both."""
    mill, other = two_mills
    query = query.format(mill=mill.actor, other=other.actor)
    name = query.partition("=")[0]
    assert_problem(app.client.get(f"{EVENTS}?{query}"), 400, "bad-request", f"query.{name}:")


@pytest.mark.parametrize(
    "query",
    [
        "GE_eventTime=2026-03-03T00:00:00Z",  # the EPCIS 2.0 query interface's own names
        "MATCH_epc=urn:spola:lot:seteria:S26-0142",
        "eventType=TransformationEvent",
        "EQ_bizStep=shipping",
        "perPage=1",
        "Actor=urn:spola:actor:seteria",  # a misspelt filter
        "lots=urn:spola:lot:seteria:S26-0142",
    ],
)
def test_a_parameter_the_export_does_not_take_is_refused_not_ignored(
    app: Api, two_mills: tuple[Terminal, Terminal], query: str
) -> None:
    """An ignored filter answers 200 with every event of the log: the client takes the whole
    supply chain for the subset it asked for."""
    name = query.partition("=")[0]
    body = assert_problem(app.client.get(f"{EVENTS}?{query}"), 400, "bad-request")
    assert body["detail"].startswith(f"query.{name}: "), body
    assert "actor, item, lot, since, until, cursor, limit" in body["detail"], body


def test_a_refused_parameter_name_is_cut_and_shown_on_one_line(
    app: Api, two_mills: tuple[Terminal, Terminal]
) -> None:
    name = "x%0A" + "y" * 200
    body = assert_problem(app.client.get(f"{EVENTS}?{name}=1"), 400, "bad-request")
    assert body["detail"].startswith("query.x\\nyyy"), body
    assert "\n" not in body["detail"] and "y" * 64 not in body["detail"], body


def test_the_known_parameters_once_each_still_filter(
    app: Api, two_mills: tuple[Terminal, Terminal]
) -> None:
    mill, _ = two_mills
    query = f"actor={mill.actor}&lot={LOT}&since=2026-03-01T00:00:00Z&until=2026-03-04T00:00:00Z"
    events = export(app, query + "&cursor=0&limit=10")
    assert [e["spola:eventType"] for e in events] == ["material", "handover"]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("item=/01/09506000134352/21/A&lot=/01/09506000134353/10/X", "lot"),
        ("item=/01/09506000134353/21/A&lot=/01/09506000134352/10/X", "item"),
        ("lot=https://id.gs1.org/10/X", "lot"),
    ],
)
def test_a_malformed_digital_link_filter_is_named(
    app: Api, two_mills: tuple[Terminal, Terminal], query: str, name: str
) -> None:
    """With both filters given, a detail that only says "check digit" leaves the client to
    guess which of the two is wrong."""
    body = assert_problem(app.client.get(f"{EVENTS}?{query}"), 422, "format")
    assert body["detail"].startswith(f"query.{name}: "), body


GLN_MILL, GLN_BRAND = "8012345000012", "8012345000036"
SCARF = "/01/09506000134352/21/8F3KQ2M7XW"


def test_every_party_an_event_names_is_read_with_its_profile(app: Api) -> None:
    """The buyer of a sale, the receiver of a handover and the sender a receipt answers are
    parties of the event without signing it: each is named by its GLN when its profile gives
    one, as the signer is, and never by its URN instead."""
    mill = app.enrol("seteria", gln=GLN_MILL, facilities=[works()])
    brand = app.enrol("maison", roles=["brand"], gln=GLN_BRAND, facilities=[works()])
    step(app, mill, material(LOT, "100"), 1)
    step(app, mill, process([take(LOT, "1")], items=[item(SCARF)]), 2)
    sale = step(app, mill, lifecycle("sale", SCARF, to=brand.actor), 3)
    shipped = step(app, mill, handover("B-7", brand.actor, [{"item": SCARF}]), 4)
    received = step(app, brand, receipt(mill.actor, "B-7"), 5)
    events = {e["spola:logIndex"]: e for e in export(app)}
    mill_party, brand_party = (f"https://id.gs1.org/417/{g}" for g in (GLN_MILL, GLN_BRAND))
    assert events[sale]["sourceList"] == [{"type": "owning_party", "source": mill_party}]
    assert events[sale]["destinationList"] == [{"type": "owning_party", "destination": brand_party}]
    assert {"type": "possessing_party", "destination": brand_party} in events[shipped][
        "destinationList"
    ]
    assert {"type": "possessing_party", "source": mill_party} in events[received]["sourceList"]
    assert {"type": "possessing_party", "destination": brand_party} in events[received][
        "destinationList"
    ]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("actor=urn:spola:actor:" + "a" * 65, "query.actor: String should have at most 80"),
        ("item=/01/09506000134352/21/" + "A" * 2030, "query.item: String should have at most 2048"),
        ("lot=urn:spola:lot:" + "x" * 2040, "query.lot: String should have at most 2048"),
        (
            "until=2026-03-02T00:00:00." + "0" * 45 + "Z",
            "query.until: String should have at most 64",
        ),
        ("actor=", "query.actor: String should have at least 1"),
        ("item=", "query.item: String should have at least 1"),
        ("lot=", "query.lot: String should have at least 1"),
        ("since=", "query.since: String should have at least 1"),
        ("until=", "query.until: String should have at least 1"),
        ("limit=-1", "query.limit: Input should be greater than or equal to 1"),
        ("cursor=9007199254740993", "query.cursor: Input should be less than or equal to"),
    ],
)
def test_a_filter_beyond_its_bound_is_refused_before_any_lookup(
    app: Api, two_mills: tuple[Terminal, Terminal], query: str, detail: str
) -> None:
    """Without the bound an overlong value is looked up (and answered 404 "no actor …" with
    the whole value echoed), an empty one reads as "no such actor" or as a malformed link."""
    body = assert_problem(app.client.get(f"{EVENTS}?{query}"), 400, "bad-request")
    assert body["detail"].startswith(detail), body


def test_the_export_is_the_public_log_whatever_the_authorization(
    app: Api, two_mills: tuple[Terminal, Terminal]
) -> None:
    """The export reads no token (docs/api.md): an operator sees what anyone sees, and a header
    that is no token is neither refused nor read, as on ``GET /v1/log/entries``. Lot ids and
    quantities are in it: they are in the public log already."""
    token = store_of(app).create_token(tier="operator", actor=None)[1]
    public = export(app)
    for header in (f"Bearer {token}", "Bearer spola_x_y", "Basic c3BvbGE6c3BvbGE="):
        response = app.client.get(EVENTS, headers={"Authorization": header})
        assert response.status_code == 200, response.text
        assert response.json()["epcisBody"]["eventList"] == public
    (shipped,) = [e for e in public if e["spola:eventType"] == "handover"]
    assert shipped["quantityList"] == [{"epcClass": LOT, "quantity": 10, "uom": "KGM"}]


def test_a_party_is_named_by_its_applied_profile_not_a_refused_one(app: Api) -> None:
    """An actor event the registry refused (here a workshop's own update, which only the
    operator may sign) stays in the log, not applied. An event exported later names its party
    by the profile that held at its index: the applied registration, never the refused update
    (its GLN was the workshop's own claim)."""
    mill = app.enrol("seteria", gln=GLN_MILL, facilities=[works()])
    brand = app.enrol("maison", roles=["brand"], gln=GLN_BRAND, facilities=[works()])
    step(app, mill, material(LOT, "100"), 1)
    claimed = "8012345000029"
    profile = {"type": "actor", "op": "update", "id": mill.actor, "name": "Seteria"}
    profile |= {"roles": ["supplier"], "country": "IT", "facilities": [works()]}
    (refused,) = app.accept(mill.sign(profile | {"gln": claimed}))
    assert refused["violation"]["rule"] == "registry.operator_only"
    shipped = step(app, mill, handover("B-1", brand.actor, [take(LOT, "5")]), 3)
    # A later applied update: the event above is read from the profile history, not the
    # latest profile.
    app.accept(app.operator.sign(profile | {"gln": GLN_MILL, "name": "Seteria di Como"}))
    (event,) = [e for e in export(app) if e["spola:logIndex"] == shipped]
    assert {"type": "possessing_party", "source": f"https://id.gs1.org/417/{GLN_MILL}"} in event[
        "sourceList"
    ]
    assert claimed not in str(event)
