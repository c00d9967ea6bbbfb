"""Refusals of a page's address that no route answers: pages for a browser, problems for JSON.

1. An address under the pages that reaches no route (``/companies/``, ``/companies/a/b``,
   ``/directory/a/b``: a mistyped address, a cut link) was the framework's JSON 404 to a
   browser: it is a page in the reader's language now, naming the address and leading to the
   directory.
2. A method a page does not serve (a form posting to ``/directory``) was a JSON 405: it is a
   page now, still naming the methods served in ``Allow``.
3. A spent per-client rate limit was a JSON 429 on the pages too, where a phone scanning a label
   or a person paging through the directory would read raw JSON: it is a page now, keeping
   ``Retry-After``.
4. ``/companies`` and ``/01`` alone are page addresses too, for the refusals before routing.

A client asking for JSON keeps each problem, with the same status and detail, and varying with
Accept as the page does. On addresses that are no page, a program keeps the 404 and the 405
problem, varying with Accept there too (a browser's page there: test_refusals_anywhere.py), and
every client the 429 problem. Asked of the real server over real HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from tests.integration.api_support import (
    assert_problem,
    browser,
    refusal_page,
    running_api,
    served_fresh,
    serving,
    varies,
)

pytestmark = pytest.mark.integration

JSON_ACCEPTS = ("application/json", "application/ld+json", "application/problem+json")
ITEM = "/01/08000000001016/21/A1"


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    with served_fresh(database_url, tmp_path / "home") as http:
        yield http


def _json_keeps_the_problem(
    site: httpx.Client, method: str, target: str, status: int, kind: str, detail: str
) -> list[httpx.Response]:
    answers = []
    for accept in JSON_ACCEPTS:
        answer = site.request(method, target, headers={"Accept": accept, "Accept-Language": "it"})
        body = assert_problem(answer, status, kind)
        assert body["detail"] == detail, body
        assert "accept" in varies(answer), answer.headers  # the same address answers a page
        answers.append(answer)
    return answers


# -- 1. an address under the pages that no route answers ---------------------------------------

NO_ROUTE = ["/companies/", "/companies", "/companies/a/b", "/directory/a/b",
            "/directory/urn:spola:actor:x/profile"]  # fmt: skip


@pytest.mark.parametrize("target", NO_ROUTE)
def test_a_page_address_no_route_answers_is_a_404_page(site: httpx.Client, target: str) -> None:
    italian = refusal_page(site.get(target, headers=browser("it-IT,it;q=0.9")), 404, "it")
    assert "Pagina non trovata" in italian.text, italian.text
    assert f"Non c'è alcuna pagina all'indirizzo «{target}»" in italian.text, italian.text
    assert "/directory?lang=it" in italian.links
    english = refusal_page(site.get(target, headers=browser("en-GB")), 404, "en")
    assert f"There is no page at “{target}”: check the address" in english.text, english.text
    assert "/directory?lang=en" in english.links
    # ?lang= words it, as on the pages themselves.
    chosen = refusal_page(site.get(f"{target}?lang=en", headers=browser("it")), 404, "en")
    assert "Page not found" in chosen.text
    head = site.head(target, headers=browser("en"))
    assert head.status_code == 404 and not head.content
    assert head.headers["content-type"].startswith("text/html")
    _json_keeps_the_problem(site, "GET", target, 404, "not-found", "Not Found")


def test_the_address_is_quoted_escaped_and_cut(site: httpx.Client) -> None:
    target = "/directory/a/<b>%E2%80%AE" + "x" * 400
    page = refusal_page(site.get(target, headers=browser("en")), 404, "en")
    assert "<b>" in page.text and "\\u202e" in page.text, page.text
    assert "x" * 250 in page.text and "x" * 320 not in page.text


@pytest.mark.parametrize(
    "target", ["/nothing-here", "/v1/nothing-here", "/directoryx", "/companiesx/a"]
)
def test_an_address_that_is_no_page_keeps_the_problem_for_a_program(
    site: httpx.Client, target: str
) -> None:
    for accept in (*JSON_ACCEPTS, "*/*"):
        answer = site.get(target, headers={"Accept": accept, "Accept-Language": "it"})
        assert_problem(answer, 404, "not-found", "Not Found")
        assert varies(answer) == {"accept"}, answer.headers  # a browser is answered a page


# -- 2. a method a page does not serve ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target"),
    [("POST", "/directory"), ("POST", "/"), ("PUT", "/companies/conceria-riva"),
     ("DELETE", "/directory/urn:spola:actor:x"), ("POST", "/directory?lang=en")],
)  # fmt: skip
def test_a_method_a_page_does_not_serve_is_a_405_page(
    site: httpx.Client, method: str, target: str
) -> None:
    english = site.request(method, target, headers=browser("en"))
    page = refusal_page(english, 405, "en")
    assert "Request not valid" in page.text and "This page can only be opened" in page.text
    assert english.headers["allow"] == "GET, HEAD"
    if "lang=" not in target:
        italian = refusal_page(site.request(method, target, headers=browser("it")), 405, "it")
        assert "Questa pagina si può soltanto aprire" in italian.text, italian.text
    for answer in _json_keeps_the_problem(
        site, method, target, 405, "method-not-allowed", "Method Not Allowed"
    ):
        assert answer.headers["allow"] == "GET, HEAD"


def test_a_method_a_label_address_does_not_serve_is_the_passport_pages_405(
    site: httpx.Client,
) -> None:
    response = site.post(ITEM, headers=browser("it"))
    italian = refusal_page(response, 405, "it")
    assert "Questo indirizzo si può soltanto aprire" in italian.text, italian.text
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    english = refusal_page(site.post(ITEM, headers=browser("en")), 405, "en")
    assert "This address can only be opened" in english.text, english.text
    _json_keeps_the_problem(site, "POST", ITEM, 405, "method-not-allowed", "Method Not Allowed")


def test_an_api_operation_keeps_its_405_problem_for_a_program(site: httpx.Client) -> None:
    for accept in (*JSON_ACCEPTS, "*/*"):
        answer = site.post("/v1/log/checkpoint", headers={"Accept": accept})
        assert_problem(answer, 405, "method-not-allowed")
        assert answer.headers["allow"] == "GET, HEAD" and varies(answer) == {"accept"}


# -- 3. a spent rate limit ---------------------------------------------------------------------


@pytest.fixture
def limited(database_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    """The service with a budget of one request a minute per client, the one spent already."""
    with running_api(database_url, tmp_path / "home") as api:
        settings = replace(api.settings, rate_per_client=1)
    with serving(create_app(settings)) as host, httpx.Client(base_url=f"http://{host}") as http:
        assert http.get("/healthz").status_code == 200
        yield http


def _retry_after(response: httpx.Response) -> int:
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= 60, response.headers
    return seconds


@pytest.mark.parametrize("target", ["/directory", "/", "/companies/conceria-riva",
                                    "/directory/urn:spola:actor:x"])  # fmt: skip
def test_a_spent_rate_limit_on_a_page_is_a_429_page(limited: httpx.Client, target: str) -> None:
    italian = limited.get(target, headers=browser("it"))
    page = refusal_page(italian, 429, "it")
    assert "Troppe richieste" in page.text and "Aspetta un minuto e riprova" in page.text
    assert "/directory?lang=it" in page.links
    _retry_after(italian)
    english = limited.get(f"{target}?lang=en", headers=browser("it"))
    assert "Too many requests" in refusal_page(english, 429, "en").text
    _retry_after(english)
    head = limited.head(target, headers=browser("en"))
    assert head.status_code == 429 and not head.content and _retry_after(head)
    for accept in JSON_ACCEPTS:
        answer = limited.get(target, headers={"Accept": accept})
        body = assert_problem(answer, 429, "rate-limited", "is over 1/min: retry after")
        assert body["detail"].endswith(f"retry after {_retry_after(answer)} s"), body
        assert "accept" in varies(answer), answer.headers


def test_a_spent_rate_limit_on_a_label_address_is_the_passport_pages_429(
    limited: httpx.Client,
) -> None:
    response = limited.get(ITEM, headers=browser("it"))
    italian = refusal_page(response, 429, "it")
    assert "Troppe richieste" in italian.text, italian.text
    assert "Aspetta un minuto, poi inquadra di nuovo il codice QR" in italian.text
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    _retry_after(response)
    english = refusal_page(limited.get(ITEM, headers=browser("en")), 429, "en")
    assert "Too many requests" in english.text, english.text
    answer = limited.get(ITEM, headers={"Accept": "application/ld+json"})
    assert_problem(answer, 429, "rate-limited")
    assert _retry_after(answer) and "accept" in varies(answer)


def test_a_spent_rate_limit_on_the_api_keeps_the_problem(limited: httpx.Client) -> None:
    answer = limited.get("/v1/log/checkpoint", headers=browser("en"))
    assert_problem(answer, 429, "rate-limited", "is over 1/min")
    assert _retry_after(answer) and "accept" not in varies(answer)


# -- 4. /companies and /01 alone ---------------------------------------------------------------


def test_companies_and_01_alone_are_page_addresses_before_routing(site: httpx.Client) -> None:
    directory_look = refusal_page(site.get("/companies?lang=%00", headers=browser("en")), 400, "en")
    assert "lang: “\\x00” holds a NUL character" in directory_look.text, directory_look.text
    passport_look = refusal_page(site.get("/01?lang=%00", headers=browser("it")), 400, "it")
    assert "Indirizzo non valido" in passport_look.text, passport_look.text
    for target in ("/companies?lang=%00", "/01?lang=%00"):
        answer = site.get(target, headers={"Accept": "application/json"})
        assert_problem(answer, 400, "bad-request", "NUL")
        assert "accept" in varies(answer)
