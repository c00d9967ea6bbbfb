"""The passport page in a real browser: headless Chromium at a phone's viewport.

The real service runs on the demo ledger on 127.0.0.1, its public base URL its own address. The
browser reaches the jacket's page the way a shopper does: from the URL decoded out of the QR code
the service prints for the passport. Every request the page makes is recorded, and any to
another host is refused and fails the test. The screenshot lands in
test-artifacts/passport-phone.png.

Chromium is launched by ``browser_support`` (Debian's, never the wheel's download); without it
the tests skip and say why.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser

from api.demo_story import JACKET, JACKETS
from tests.integration.api_support import serving_demo
from tests.integration.browser_support import ARTIFACTS, PHONE, other_hosts, phone
from tests.integration.browser_support import browser as browser  # noqa: PLC0414 (the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def resolver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The real service on the demo ledger, on a free local port: (host, the jacket's path).

    Its public base URL is its own address, so the QR codes it prints lead back to it.
    """
    with serving_demo(tmp_path_factory.mktemp("resolver")) as host:
        yield host, JACKETS[0]


def _decoded_label_url(host: str, subject: str) -> str:
    """The URL a phone camera reads off the QR code the service prints for the passport."""
    png = httpx.get(f"http://{host}/v1/passports{subject}/qr.png", timeout=30)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    decoded = zxingcpp.read_barcodes(image.convert("L"))
    assert len(decoded) == 1
    return str(decoded[0].text)


def test_page_from_the_label_qr_renders_on_a_phone_and_fetches_only_from_its_host(
    resolver: tuple[str, str], browser: Browser
) -> None:
    host, subject = resolver
    requests: list[str] = []
    page = phone(browser, host, requests, locale="en-GB")
    url = _decoded_label_url(host, subject)
    assert url == f"http://{host}{subject}"
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.status == 200

    assert page.locator("html").get_attribute("lang") == "en"  # from Accept-Language
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == JACKET and heading.is_visible()
    journey_map = page.get_by_role("img", name="Map of the journey")
    assert journey_map.is_visible()
    box = journey_map.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"] and box["height"] > 100
    for score in ("Transport distance", "Made in Lombardy", "Renewable content"):
        assert page.locator("#impact ~ ul, section").get_by_text(score).first.is_visible()
    assert page.get_by_text("Responsible Wool Standard (RWS)").is_visible()
    # The service checked every signature and proof behind the page before marking it.
    assert page.get_by_text("Verified", exact=True).is_visible()
    # Readable at a phone's width: nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "passport-phone.png"), full_page=True)
    assert (ARTIFACTS / "passport-phone.png").stat().st_size > 10_000
    assert requests and other_hosts(requests, host) == []
    assert [urlsplit(u).path for u in requests] == [subject]  # one document, nothing else
    page.context.close()


def test_language_switch_and_unknown_passport_in_the_browser(
    resolver: tuple[str, str], browser: Browser
) -> None:
    host, subject = resolver
    requests: list[str] = []
    page = phone(browser, host, requests, locale="en-US")
    page.goto(f"http://{host}{subject}", wait_until="networkidle")
    page.get_by_role("link", name="Italiano").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"{subject}?lang=it")
    assert page.locator("html").get_attribute("lang") == "it"
    assert page.get_by_role("heading", name="Il viaggio").is_visible()

    response = page.goto(f"http://{host}/01/08000000002020/21/NOPE", wait_until="networkidle")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Passport not found"
    assert other_hosts(requests, host) == []
    page.context.close()
