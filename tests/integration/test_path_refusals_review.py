"""Refusals under review: a control character in the path, and the profile page's refusals.

1. A path holding an escaped control character (``%0A``, ``%0D``, a tab, ESC, DEL ...) names no
   identifier, URN or Digital Link. Routes whose pattern cannot match a line break answered a
   bare 404 "Not Found"; others looked the value up and answered "unknown actor" with the
   character printed raw. Every such path is refused before routing with a 400 problem that
   names the character by its escape, as a NUL (``%00``) already is.
2. The directory profile page (``GET /directory/{actor}``) is a page a browser opened: a
   parameter given twice and an unknown actor are said on a page in the reader's language, with
   the page's cache headers, and stay RFC 9457 problems for a client that asks for JSON, as the
   passport page does.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.integration.api_support import Api, PageText, assert_problem, urn

pytestmark = pytest.mark.integration

GTIN = "08000000001016"
PASSPORT = f"/v1/passports/01/{GTIN}/21"

# -- 1. control characters in the path --------------------------------------------------------

# (a path, the escape the refusal names): every kind of route, and a path no route serves.
CONTROLS = [
    (f"/01/{GTIN}/21/A%0AB", "%0A"),
    (f"/01/{GTIN}/21/A%0DB", "%0D"),
    (f"/01/{GTIN}/10/L%0A1/21/A", "%0A"),
    (f"{PASSPORT}/A%0AB", "%0A"),
    (f"{PASSPORT}/A%0d%0aB/bundle", "%0D"),  # lower case: the first character is named
    (f"{PASSPORT}/A%0AB/qr.svg", "%0A"),
    (f"/v1/items/01/{GTIN}/21/A%0AB/trace", "%0A"),
    (f"/v1/lots/01/{GTIN}/10/L%0A", "%0A"),
    ("/v1/lots/urn:spola:lot:mill:b%7F", "%7F"),  # DEL
    ("/v1/actors/urn:spola:actor:a%09b", "%09"),  # a tab
    ("/v1/actors/urn:spola:actor:a%1B%5B31m", "%1B"),  # ESC, an ANSI colour
    ("/v1/directory/urn:spola:actor:a%0Ab", "%0A"),
    ("/directory/urn:spola:actor:a%0Ab", "%0A"),
    ("/companies/a%0Ab", "%0A"),
    ("/v1/no-such-route%0A", "%0A"),
]


# The service's pages: a browser is refused there with a page (test_page_refusals_review.py).
PAGES = ("/01/", "/directory/", "/companies/")


@pytest.mark.parametrize(("target", "escape"), CONTROLS)
def test_a_control_character_in_the_path_is_a_400_naming_its_escape(
    app: Api, target: str, escape: str
) -> None:
    for accept in ("application/json", "text/html"):
        response = app.client.get(target, headers={"Accept": accept})
        if accept == "text/html" and target.startswith(PAGES):
            assert response.status_code == 400
            assert response.headers["content-type"].startswith("text/html")
            continue
        body = assert_problem(response, 400, "bad-request", f"({escape})", "request path")
        assert body["detail"].isprintable(), body
    assert app.client.head(target).status_code == 400


def test_a_nul_in_the_path_is_still_named_nul(app: Api) -> None:
    response = app.client.get("/v1/actors/urn:spola:actor:a%00")
    assert_problem(response, 400, "bad-request", "NUL", "%00")


def test_what_is_no_control_character_in_the_path_is_not_refused(app: Api) -> None:
    # '%' and '0A' (an escaped percent sign), a C1 character (NEL, U+0085) and a line break in
    # a query value are no control character of the path.
    for target in (
        f"/01/{GTIN}/21/A%250A",
        f"{PASSPORT}/A%250AB",
        "/v1/actors/urn:spola:actor:a%C2%85",
    ):
        response = app.client.get(target, headers={"Accept": "application/json"})
        assert_problem(response, 404, "not-found")
    assert app.client.get("/directory?certificate=a%0Ab").status_code == 200


def test_a_line_feed_in_a_digital_link_filter_names_no_other_item(app: Api) -> None:
    # urlsplit() drops a line feed: "A\nB" was read as the item "AB" and its events listed.
    response = app.client.get(f"/v1/epcis/events?item=/01/{GTIN}/21/A%0AB")
    assert_problem(response, 422, "format", "a line feed (%0A)")


def test_a_real_server_hands_the_escape_on_and_it_is_refused(host: str) -> None:
    address, port = host.rsplit(":", 1)
    request = (
        f"GET /01/{GTIN}/21/A%0AB HTTP/1.1\r\nhost: {host}\r\naccept: application/json\r\n"
        "connection: close\r\n\r\n"
    )
    with socket.create_connection((address, int(port)), timeout=30) as sock:
        sock.sendall(request.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"application/problem+json" in head and b"(%0A)" in body, answer


# -- 2. the profile page's refusals -----------------------------------------------------------

NOBODY = urn("nobody")
PAGE_VARY = {"accept-language", "authorization"}


def _page(response: httpx.Response, status: int, lang: str) -> str:
    """The visible text of an HTML page answered with ``status`` in ``lang``, with the page's
    cache headers."""
    assert response.status_code == status, response.text[:300]
    headers = response.headers
    assert headers["content-type"].startswith("text/html"), headers
    assert PAGE_VARY.issubset(v.strip().lower() for v in headers["vary"].split(",")), headers
    assert headers["cache-control"] == "private, no-cache", headers
    parsed = PageText(response.text)
    assert parsed.lang == lang
    return parsed.text


@pytest.fixture
def supplier(app: Api) -> str:
    facility = {"id": "main", "name": "Como works", "town": "Como", "region": "Lombardia",
                "country": "IT", "lat": "45.81", "lon": "9.08"}  # fmt: skip
    app.enrol("tessitura", name="Tessitura Lariana", region="Lombardia", facilities=[facility])
    return urn("tessitura")


def test_a_parameter_given_twice_is_said_on_the_profile_page_in_the_readers_language(
    app: Api, supplier: str
) -> None:
    assert app.client.get(f"/directory/{supplier}?lang=it").status_code == 200
    italian = _page(app.client.get(f"/directory/{supplier}?lang=it&x=1&x=2"), 400, "it")
    assert "x: più di un valore; lasciane uno solo" in italian
    english = _page(
        app.client.get(f"/directory/{supplier}?on=1&on=2", headers={"Accept-Language": "en"}),
        400,
        "en",
    )
    assert "on: given more than once; give it once" in english
    assert "Tessitura Lariana" not in english
    # The page links to the profile without the refused parameters.
    refused = app.client.get(f"/directory/{supplier}?lang=it&x=1&x=2").text
    link = f'href="/directory/{supplier}?lang=it"'
    assert link in refused
    assert "Tessitura Lariana" in app.client.get(link[6:-1]).text


def test_an_unknown_actor_is_a_friendly_404_page_in_the_readers_language(app: Api) -> None:
    italian = _page(app.client.get(f"/directory/{NOBODY}?lang=it"), 404, "it")
    assert "Fornitore non trovato" in italian and NOBODY in italian
    english = _page(
        app.client.get(f"/directory/{NOBODY}", headers={"Accept-Language": "en-GB,it;q=0.5"}),
        404,
        "en",
    )
    assert "Supplier not found" in english and NOBODY in english
    # The page leads back to the search, in the page's language.
    assert 'href="/directory?lang=en"' in app.client.get(f"/directory/{NOBODY}?lang=en").text


def test_the_unknown_actor_is_shown_escaped_and_visible(app: Api) -> None:
    page = app.client.get("/directory/urn:spola:actor:%3Cb%3Ex%E2%80%AE?lang=en")
    assert page.status_code == 404
    assert "<bdi>urn:spola:actor:&lt;b&gt;x\\u202e</bdi>" in page.text
    assert "<b>x" not in page.text and "\u202e" not in page.text


def test_an_overlong_lang_is_refused_on_the_profile_page(app: Api, supplier: str) -> None:
    response = app.client.get(
        f"/directory/{supplier}?lang=" + "x" * 101, headers={"Accept-Language": "it"}
    )
    assert "lang: sono ammessi al massimo 100 caratteri" in _page(response, 400, "it")


def test_machines_asking_for_json_keep_the_problem(app: Api, supplier: str) -> None:
    for accept in ("application/json", "application/ld+json"):
        headers = {"Accept": accept}
        missing = app.client.get(f"/directory/{NOBODY}?lang=it", headers=headers)
        assert_problem(missing, 404, "not-found", f"no actor {NOBODY} in the directory")
        twice = app.client.get(f"/directory/{supplier}?on=1&on=2", headers=headers)
        assert_problem(twice, 400, "bad-request", "on: given more than once; give it once")
        for answer in (missing, twice):
            assert "accept" in answer.headers["vary"].lower().split(", "), answer.headers
            assert answer.headers["cache-control"] == "private, no-cache"
