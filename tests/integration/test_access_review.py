"""Attacks on the read routes' parameters, found in review: each test names what it stops."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.ratelimit import RateLimit
from api.settings import Settings
from tests.epcis_oracle import schema_errors
from tests.integration.api_support import Api, assert_problem, running_api
from tests.supply import facility, material

pytestmark = pytest.mark.integration


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(database_url, tmp_path / "home") as running:
        yield running


@pytest.mark.parametrize("radius", ["1e-5000", "2E3", "1_000", "%2B5", "0x10", "Infinity"])
def test_a_radius_in_exponent_notation_cannot_inflate_the_answer(api: Api, radius: str) -> None:
    # radius_km is echoed in fixed-point notation: "1e-999999999" (12 characters in the URL)
    # would have become a gigabyte of zeros in the answer. Only plain decimals are distances.
    response = api.client.get(f"/v1/directory?near=45.46,9.19&radius_km={radius}")
    assert assert_problem(response, 400, "bad-request")["detail"].startswith("radius_km: ")
    page = api.client.get(f"/directory?near=45.46,9.19&radius_km={radius}")
    assert page.status_code == 400 and len(page.content) < 64_000


def test_a_max_km_in_exponent_notation_is_refused(api: Api) -> None:
    path = "/v1/items/01/08000000000026/21/A1/local-alternatives?max_km=1e-5000"
    assert assert_problem(api.client.get(path), 400, "bad-request")["detail"].startswith("max_km: ")


@pytest.mark.parametrize("radius", ["60", "0.5", "2000", "2000.0", "12.25"])
def test_plain_decimal_radii_are_answered_as_given(api: Api, radius: str) -> None:
    response = api.client.get(f"/v1/directory?near=45.46,9.19&radius_km={radius}")
    assert response.status_code == 200, response.text
    assert response.json()["radius_km"] == radius


# -- rate limits --------------------------------------------------------------------------------


def _pinging_app(per_minute: int) -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(RateLimit, settings=Settings(rate_per_client=per_minute))
    return app


def test_one_ipv6_host_cannot_rotate_addresses_past_the_client_limit() -> None:
    # A single IPv6 host is routed a whole /64: one bucket per address would give it 2^64
    # budgets, and let it flush every other client's bucket out of the bounded table.
    app = _pinging_app(3)
    for n in range(3):
        with TestClient(app, client=(f"2001:db8:1:2::{n + 1:x}", 4000)) as client:
            assert client.get("/ping").status_code == 200
    with TestClient(app, client=("2001:db8:1:2:ffff:ffff:ffff:ffff", 4000)) as rotated:
        response = rotated.get("/ping")
    body = assert_problem(response, 429, "rate-limited", "client 2001:db8:1:2::/64 is over 3/min")
    assert int(response.headers["retry-after"]) >= 1, body
    with TestClient(app, client=("2001:db8:1:3::1", 4000)) as neighbour:
        assert neighbour.get("/ping").status_code == 200


def test_an_ipv4_mapped_address_shares_the_ipv4_bucket() -> None:
    app = _pinging_app(1)
    with TestClient(app, client=("192.0.2.9", 4000)) as client:
        assert client.get("/ping").status_code == 200
    with TestClient(app, client=("::ffff:192.0.2.9", 4000)) as mapped:
        assert_problem(mapped.get("/ping"), 429, "rate-limited", "client 192.0.2.9 ")


# -- EPCIS paging -------------------------------------------------------------------------------


def test_the_epcis_next_link_is_on_the_public_base_url_whatever_the_host(demo: Api) -> None:
    # Behind the documented proxy the Host is the worker's own address (or whatever a client
    # wrote): a Link built on it sends clients to an address they cannot reach, or elsewhere.
    response = demo.client.get("/v1/epcis/events?limit=1", headers={"Host": "evil.example"})
    assert response.status_code == 200, response.text
    base = demo.settings.public_base_url
    link = response.headers["link"]
    assert link.startswith(f"<{base}/v1/epcis/events?limit=1&cursor="), link
    assert "evil.example" not in link
    following = demo.client.get(link[1 : link.index(">")])
    assert following.status_code == 200 and following.json()["epcisBody"]["eventList"]


# -- directory dates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/directory?on=0001-06-30",
        "/v1/directory?near=45.46,9.19&radius_km=2000&certificate=GOTS&on=0001-01-02",
        "/v1/directory/urn:spola:actor:stamperia-grandate?on=0001-01-01",
        "/v1/directory?on=2026-W48-4",  # an ISO week date, not YYYY-MM-DD
        "/v1/directory?on=20261126",
    ],
)
def test_a_day_the_track_record_cannot_reach_back_from_is_refused(demo: Api, path: str) -> None:
    # The track record is the 12 months before `on`: in year 1 there is no year before, and
    # the search answered 500.
    assert assert_problem(demo.client.get(path), 400, "bad-request")["detail"].startswith("on: ")
    if path.startswith("/v1/directory?"):  # the search page; a profile page is always today
        assert demo.client.get(path.removeprefix("/v1")).status_code == 400


# -- NUL characters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/actors/urn:spola:actor:%00",
        "/v1/epcis/events?actor=urn:spola:actor:%00x",
        "/v1/epcis/events?lot=urn:spola:lot:a:%00",
        "/v1/lots/urn:spola:lot:a:b%00",
        "/v1/directory?region=%00",
    ],
)
def test_a_nul_in_the_request_target_is_refused_before_any_route(api: Api, path: str) -> None:
    # No identifier, filter or slug holds a NUL, and PostgreSQL text cannot: a query carrying
    # one failed in the driver (500) on PostgreSQL instead of being refused.
    response = api.client.get(path)
    assert_problem(response, 400, "bad-request", "NUL")


# -- EPCIS event hashes -------------------------------------------------------------------------


def test_an_event_in_the_last_millisecond_of_9999_does_not_break_the_export(api: Api) -> None:
    # A valid RFC 3339 time that the CBV hash's rounding to milliseconds pushes into year
    # 10000: the event hash raised, and every export page that held the event answered 500.
    mill = api.enrol("seteria-ultima", facilities=[facility()])
    late = material("urn:spola:lot:seteria-ultima:L1", time="9999-12-31T23:59:59.9995Z")
    (receipt,) = api.accept(mill.sign(late))
    assert receipt["applied"], receipt
    response = api.client.get("/v1/epcis/events")
    assert response.status_code == 200, response.text
    document = response.json()
    assert schema_errors(document) == []
    (event,) = document["epcisBody"]["eventList"]
    assert event["eventTime"] == "9999-12-31T23:59:59.9995Z"
    assert event["eventID"].startswith("ni:///sha-256;")
