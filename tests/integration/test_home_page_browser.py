"""The home page in a real browser: headless Chromium at a phone's viewport.

The real service runs on the demo ledger; a newcomer opens ``/`` on a phone, reads the heading,
scrolls no sideways, and taps the first passport to land on its consumer page. Every request
is recorded, and any to another host is refused and fails the test. The screenshot lands in
test-artifacts/home-phone.png. Chromium and Playwright are driven by ``browser_support``, as
for the passport and company pages; without chromium the test skips.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser

from api.demo_story import BAGS, JACKETS, SCARVES
from tests.integration.browser_support import ARTIFACTS, PHONE, other_hosts, phone
from tests.integration.browser_support import browser as browser  # noqa: PLC0414 (the fixture)
from tests.integration.browser_support import demo_host as demo_host  # noqa: PLC0414 (the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_home_page_fits_a_phone_and_its_first_passport_opens_the_consumer_page(
    demo_host: str, browser: Browser
) -> None:
    requests: list[str] = []
    page = phone(browser, demo_host, requests, locale="it-IT")
    response = page.goto(f"http://{demo_host}/", wait_until="networkidle")
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == "Un registro verificabile per la filiera della moda"
    assert page.get_by_role("heading", name="Passaporti emessi").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home-phone.png"), full_page=True)
    assert [urlsplit(u).path for u in requests] == ["/"]

    first = page.locator("ul.passports a").first
    with page.expect_navigation() as landed:
        first.click()
    consumer = landed.value
    assert consumer is not None and consumer.status == 200
    assert consumer.headers["content-type"].startswith("text/html")
    assert urlsplit(page.url).path in {*SCARVES, *JACKETS, *BAGS}
    assert page.get_by_role("heading", level=1).is_visible()
    assert other_hosts(requests, demo_host) == []
    page.context.close()


def test_home_page_in_english_for_an_english_phone(demo_host: str, browser: Browser) -> None:
    requests: list[str] = []
    page = phone(browser, demo_host, requests, locale="en-GB")
    response = page.goto(f"http://{demo_host}/", wait_until="networkidle")
    assert response is not None and response.status == 200
    assert page.get_by_role("heading", level=1).inner_text() == (
        "A verifiable ledger for the fashion supply chain"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert other_hosts(requests, demo_host) == []
    page.context.close()
