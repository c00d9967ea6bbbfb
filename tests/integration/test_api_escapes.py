"""A broken percent-escape in a lot, item or passport identifier is a 422, never a 404.

``%zz`` is no escape at all (RFC 3986 §2.1: '%' and two hex digits), and ``%E0%A4`` decodes to
bytes that are not UTF-8 (RFC 3986 §2.5: text is percent-encoded as UTF-8). A server that
decodes leniently turns the first into a literal ``%zz`` and the second into U+FFFD, then looks
that up and answers "not found": the client is told its lot does not exist when its request was
malformed. Every such request is refused with a problem naming the parameter and the escape.
"""

from __future__ import annotations

import pytest

from tests.integration.api_support import Api, assert_problem

pytestmark = pytest.mark.integration

GTIN = "08000000001016"
NOT_AN_ESCAPE = ("x%zz", "'%zz' is not a percent-escape")
TRUNCATED = ("x%E0%A4%A", "'%A' is not a percent-escape")
NOT_UTF8 = ("x%E0%A4", "'%E0%A4' do not decode as UTF-8")
LONE_BYTE = ("%FF", "'%FF' do not decode as UTF-8")
FAULTS = (NOT_AN_ESCAPE, TRUNCATED, NOT_UTF8, LONE_BYTE)


def _refused(api: Api, target: str, parameter: str, fault: str) -> None:
    response = api.client.get(target, headers={"Accept": "application/json"})
    assert_problem(response, 422, "format", parameter, fault)


@pytest.mark.parametrize(("value", "fault"), FAULTS)
def test_epcis_filters_with_a_broken_escape_are_422_naming_the_filter(
    app: Api, value: str, fault: str
) -> None:
    _refused(app, f"/v1/epcis/events?lot=urn:spola:lot:mill:{value}", "query.lot", fault)
    _refused(app, f"/v1/epcis/events?item=/01/{GTIN}/21/{value}", "query.item", fault)
    _refused(app, f"/v1/epcis/events?limit=5&lot={value}", "query.lot", fault)


@pytest.mark.parametrize(("value", "fault"), FAULTS)
def test_lot_and_item_paths_with_a_broken_escape_are_422_naming_the_identifier(
    app: Api, value: str, fault: str
) -> None:
    for lot in (f"urn:spola:lot:mill:{value}", f"01/{GTIN}/10/{value}"):
        _refused(app, f"/v1/lots/{lot}", "path.lot_id", fault)
        _refused(app, f"/v1/lots/{lot}/trace", "path.lot_id", fault)
    for item in (f"urn:spola:item:mill:{value}", f"01/{GTIN}/21/{value}"):
        _refused(app, f"/v1/items/{item}", "path.item_id", fault)
        _refused(app, f"/v1/items/{item}/trace", "path.item_id", fault)
        _refused(app, f"/v1/items/{item}/circularity", "path.item_id", fault)
        _refused(app, f"/v1/items/{item}/local-alternatives", "path.item_id", fault)


@pytest.mark.parametrize(("value", "fault"), FAULTS)
def test_passport_and_resolver_paths_with_a_broken_escape_are_422(
    app: Api, value: str, fault: str
) -> None:
    passport = f"/v1/passports/01/{GTIN}/21/{value}"
    for target in (passport, f"{passport}/versions/1", f"{passport}/qr.svg", f"{passport}/bundle"):
        _refused(app, target, "path.pid", fault)
    _refused(app, f"/01/{GTIN}/21/{value}", "path.rest", fault)
    # A browser is refused with the passport page's refusal page (test_page_refusals_review.py).
    page = app.client.get(f"/01/{GTIN}/21/{value}", headers={"Accept": "text/html"})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")


def test_other_parameters_with_a_broken_escape_are_422_too(app: Api) -> None:
    _refused(app, "/v1/actors/urn:spola:actor:x%zz", "path.actor_id", NOT_AN_ESCAPE[1])
    _refused(app, "/v1/actors?after=%E0%A4", "query.after", "'%E0%A4' do not decode as UTF-8")
    _refused(app, "/v1/epcis/events?actor=urn:spola:actor:x%zz", "query.actor", "'%zz'")


def test_well_formed_escapes_still_name_what_they_encode(app: Api) -> None:
    # Escaped punctuation, '%' itself as %25 and UTF-8 letters are no fault: an unknown lot
    # or item stays a 404, a known route still answers.
    for target in (
        "/v1/lots/urn%3Aspola%3Alot%3Amill%3AX1",
        f"/v1/lots/01/{GTIN}/10/A%2541",
        f"/v1/items/01/{GTIN}/21/S%2F1",
        f"/v1/epcis/events?lot=urn%3Aspola%3Alot%3Amill%3AX1&item=/01/{GTIN}/21/A%2541",
        "/v1/actors/urn:spola:actor:citt%C3%A0",
    ):
        response = app.client.get(target)
        assert_problem(response, 404, "not-found")
    assert app.client.get("/v1/actors?after=citt%C3%A0").status_code == 200
