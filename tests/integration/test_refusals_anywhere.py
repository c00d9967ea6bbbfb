"""Refusals a browser met as raw JSON outside the service's pages: pages in its language now.

1. An address no route answers and that is none of the pages (``/nothing-here``, a mistyped
   ``/pasports/…``, ``/v1/nothing``) was the framework's JSON 404 to a browser too: it is a
   page in the reader's language now, saying the status and the address as typed, leading to
   the home page.
2. A method an address does not take (a browser opening a POST-only operation, a form posting
   to a GET one) was a JSON 405: it is a page now, naming the method and those the address
   takes, the ``Allow`` header kept.
3. Request headers over the limit (mostly a browser's cookies) were a JSON 431, on the pages
   too: a page now, saying how many bytes were sent and the limit.

A program keeps each problem byte for byte: one asking for JSON or a problem, and one naming no
HTML in Accept (``*/*``, an image, no Accept at all). Either answer varies with Accept. HEAD is
answered as GET without a body. Asked of the real server over real HTTP, and one page of a real
browser.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser

from api.main import create_app
from tests.integration.api_support import (
    PAGE_ACCEPT,
    PROBLEM_JSON,
    PageText,
    running_api,
    serving,
    varies,
)
from tests.integration.browser_support import ARTIFACTS, other_hosts, phone
from tests.integration.browser_support import browser as browser  # noqa: PLC0414 (the fixture)

pytestmark = pytest.mark.integration

# The problems as the service answered them before any page said them: kept byte for byte.
NOT_FOUND = (
    b'{"type":"urn:spola:problem:not-found","title":"Not Found","status":404,"detail":"Not Found"}'
)
NOT_ALLOWED = (
    b'{"type":"urn:spola:problem:method-not-allowed","title":"Method Not Allowed","status":405,'
    b'"detail":"Method Not Allowed"}'
)
HEADERS_TOO_LARGE = (
    '{{"type": "urn:spola:problem:headers-too-large", "title": "Request headers too large", '
    '"status": 431, "detail": "request headers are {size} bytes, over the limit of 16384"}}'
)
# What programs send: JSON, a problem, anything, an image; ``None``: no Accept header at all.
PROGRAM_ACCEPTS = ("application/json", "application/problem+json", "*/*",
                   "image/avif,image/webp,*/*;q=0.8", "text/html;q=0, */*", None)  # fmt: skip
NO_ROUTE = ["/nothing-here", "/pasports/01/08000000001016/21/A1", "/v1/nothing-here",
            "/directoryx", "/companiesx/a", "/v1/log/nothing"]  # fmt: skip
PAGE_POLICY_START = "default-src 'none'"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service over a fresh SQLite ledger, served by uvicorn on a local port: host:port."""
    root = tmp_path_factory.mktemp("anywhere")
    with running_api(f"sqlite:///{root / 'ledger.db'}", root / "home") as api:
        settings = api.settings
    with serving(create_app(settings)) as served:
        yield served


@pytest.fixture
def site(host: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{host}") as http:
        yield http


def reader(lang: str) -> dict[str, str]:
    """The headers of a phone's browser whose reader asks for ``lang`` (Accept-Language)."""
    return {"Accept": PAGE_ACCEPT, "Accept-Language": lang}


def _asked(
    site: httpx.Client, method: str, target: str, accept: str | None, **headers: str
) -> httpx.Response:
    request = site.build_request(method, target, headers=headers)
    if accept is None:
        del request.headers["accept"]
    else:
        request.headers["accept"] = accept
    return site.send(request)


def _page(response: httpx.Response, status: int, lang: str) -> PageText:
    """``response`` as the page that says a refusal: ``status``, HTML in ``lang`` saying the
    status, never kept by a shared cache, running no script, varying with Accept and the
    language, leading to the home page in ``lang``."""
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == "text/html; charset=utf-8", response.headers
    assert response.headers["cache-control"] == "private, no-cache", response.headers
    assert response.headers["content-security-policy"].startswith(PAGE_POLICY_START)
    assert {"accept", "accept-language"} <= varies(response), response.headers
    page = PageText(response.text)
    assert page.lang == lang, response.text[:300]
    assert ("Errore" if lang == "it" else "Error") + f" {status}" in page.text, page.text
    assert f"/?lang={lang}" in page.links, page.links
    assert "urn:spola:problem" not in response.text
    return page


def _problem(response: httpx.Response, status: int, body: bytes) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.content == body
    assert varies(response) == {"accept"}, response.headers


# -- 1. no route ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", NO_ROUTE)
def test_an_address_no_route_answers_is_a_404_page_for_a_browser(
    site: httpx.Client, target: str
) -> None:
    italian = _page(site.get(target, headers=reader("it-IT,it;q=0.9")), 404, "it")
    assert "Pagina non trovata" in italian.text, italian.text
    assert f"Non c'è alcuna pagina all'indirizzo «{target}»: controlla" in italian.text
    english = _page(site.get(target, headers=reader("en-GB")), 404, "en")
    assert f"There is no page at “{target}”: check the address." in english.text, english.text
    chosen = _page(site.get(f"{target}?lang=en", headers=reader("it")), 404, "en")
    assert "Page not found" in chosen.text
    head = site.head(target, headers=reader("en"))
    assert head.status_code == 404 and head.content == b""
    assert head.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("accept", PROGRAM_ACCEPTS)
@pytest.mark.parametrize("target", ["/nothing-here", "/v1/nothing-here"])
def test_a_program_keeps_the_404_problem_byte_for_byte(
    site: httpx.Client, target: str, accept: str | None
) -> None:
    _problem(_asked(site, "GET", target, accept, **{"Accept-Language": "it"}), 404, NOT_FOUND)
    head = _asked(site, "HEAD", target, accept)
    assert head.status_code == 404 and head.content == b"" and varies(head) == {"accept"}
    assert head.headers["content-type"] == PROBLEM_JSON


def test_the_address_is_quoted_escaped_visible_and_cut(site: httpx.Client) -> None:
    target = "/v1/<b>%E2%80%AE" + "x" * 400
    response = site.get(target, headers=reader("en"))
    page = _page(response, 404, "en")
    assert "<b>" in page.text and "\\u202e" in page.text, page.text
    assert "<b>" not in response.text.split("<main", 1)[1].replace("<bdi>", "")
    assert "x" * 250 in page.text and "x" * 320 not in page.text


# -- 2. a method the address does not take ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target", "allowed"),
    [("POST", "/v1/log/checkpoint", "GET, HEAD"), ("GET", "/v1/circularity/mci", "POST"),
     ("DELETE", "/v1/entries", "POST"), ("PUT", "/healthz", "GET, HEAD")],
)  # fmt: skip
def test_a_method_an_address_does_not_take_is_a_405_page_for_a_browser(
    site: httpx.Client, method: str, target: str, allowed: str
) -> None:
    english = site.request(method, target, headers=reader("en"))
    page = _page(english, 405, "en")
    assert "Method not allowed" in page.text, page.text
    assert (
        f"The address “{target}” does not take a “{method}” request: it takes {allowed} only."
        in page.text
    ), page.text
    assert english.headers["allow"] == allowed
    italian = _page(site.request(method, target, headers=reader("it")), 405, "it")
    assert f"L'indirizzo «{target}» non accetta una richiesta «{method}»" in italian.text
    assert f"accetta soltanto {allowed}." in italian.text, italian.text


@pytest.mark.parametrize("accept", PROGRAM_ACCEPTS)
def test_a_program_keeps_the_405_problem_byte_for_byte(
    site: httpx.Client, accept: str | None
) -> None:
    answer = _asked(site, "POST", "/v1/log/checkpoint", accept)
    _problem(answer, 405, NOT_ALLOWED)
    assert answer.headers["allow"] == "GET, HEAD"


def test_head_of_an_operation_that_takes_post_only_is_the_405_without_a_body(
    site: httpx.Client,
) -> None:
    head = site.head("/v1/circularity/mci", headers=reader("it"))
    assert head.status_code == 405 and head.content == b""
    assert head.headers["content-type"].startswith("text/html")
    assert head.headers["allow"] == "POST" and "accept" in varies(head)


# -- 3. request headers over the limit ---------------------------------------------------------

COOKIES = "session=" + "a" * 20_000  # a site's cookies grown past what a server reads


@pytest.mark.parametrize("target", ["/v1/actors", "/nothing-here", "/directory", "/"])
def test_request_headers_over_the_limit_are_a_431_page_for_a_browser(
    site: httpx.Client, target: str
) -> None:
    english = site.get(target, headers={**reader("en"), "Cookie": COOKIES})
    page = _page(english, 431, "en")
    assert "Request headers too large" in page.text, page.text
    assert "over the limit of 16384 bytes this service reads: usually its cookies" in page.text
    assert "Your browser sent 20" in page.text, page.text
    italian = _page(site.get(target, headers={**reader("it"), "Cookie": COOKIES}), 431, "it")
    assert "Intestazioni della richiesta troppo grandi" in italian.text, italian.text
    assert "oltre il limite di 16384 byte" in italian.text, italian.text
    head = site.head(target, headers={**reader("en"), "Cookie": COOKIES})
    assert head.status_code == 431 and head.content == b""


@pytest.mark.parametrize("accept", PROGRAM_ACCEPTS)
def test_a_program_keeps_the_431_problem_byte_for_byte(
    site: httpx.Client, accept: str | None
) -> None:
    request = site.build_request("GET", "/v1/actors", headers={"Cookie": COOKIES})
    if accept is None:
        del request.headers["accept"]
    else:
        request.headers["accept"] = accept
    size = sum(len(name) + len(value) for name, value in request.headers.raw)
    answer = site.send(request)
    _problem(answer, 431, HEADERS_TOO_LARGE.format(size=size).encode())


def test_the_431_problem_on_a_page_address_varies_as_the_pages_refusals(
    site: httpx.Client,
) -> None:
    answer = site.get("/directory", headers={"Accept": "application/json", "Cookie": COOKIES})
    assert answer.status_code == 431 and answer.headers["content-type"] == PROBLEM_JSON
    assert {"accept", "accept-language"} <= varies(answer), answer.headers


# -- a real browser ----------------------------------------------------------------------------


def test_a_phone_opening_a_mistyped_label_address_reads_the_page_and_goes_home(
    browser: Browser, host: str
) -> None:
    requests: list[str] = []
    tab = phone(browser, host, requests, "it-IT")
    try:
        response = tab.goto(f"http://{host}/pasports/01/08000000001016/21/A1")
        assert response is not None and response.status == 404
        assert tab.locator("h1").inner_text() == "Pagina non trovata"
        assert "«/pasports/01/08000000001016/21/A1»" in tab.locator("[role=alert]").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "refusal-anywhere-404-it.png"), full_page=True)
        with tab.expect_navigation():
            tab.get_by_role("link", name="Vai alla pagina iniziale").click()
        assert tab.url == f"http://{host}/?lang=it"
        assert tab.locator("html").get_attribute("lang") == "it"
        assert other_hosts(requests, host) == []
    finally:
        tab.context.close()
