"""The company maturity page in a real browser: headless Chromium at a phone's viewport.

The real service runs on the demo ledger; the browser opens the brand's company page, sees the
radar chart drawn, reads the roadmap, and makes one request — the page itself — and none to any
other host. The screenshot lands in test-artifacts/company-phone.png. Chromium and Playwright are
driven by ``browser_support``, as for the passport page; without chromium the test skips.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser

from api.demo_story import BRAND
from tests.integration.browser_support import ARTIFACTS, PHONE, other_hosts, phone
from tests.integration.browser_support import browser as browser  # noqa: PLC0414 (the fixture)
from tests.integration.browser_support import demo_host as demo_host  # noqa: PLC0414 (the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_company_page_draws_its_chart_on_a_phone_from_its_own_host(
    demo_host: str, browser: Browser
) -> None:
    requests: list[str] = []
    page = phone(browser, demo_host, requests, locale="en-GB")
    response = page.goto(f"http://{demo_host}/companies/{BRAND}", wait_until="networkidle")
    assert response is not None and response.status == 200
    assert page.get_by_role("heading", level=1).inner_text() == "Maison Navigli (demo)"
    chart = page.locator("svg.pygal-chart")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box is not None and 200 < box["width"] <= PHONE["width"]
    assert page.get_by_role("heading", name="Next steps").is_visible()
    assert page.get_by_role("heading", name="Assessment history").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "company-phone.png"), full_page=True)
    assert other_hosts(requests, demo_host) == []
    assert [urlsplit(u).path for u in requests] == [f"/companies/{BRAND}"]
    page.context.close()
