"""A passport written by hostile suppliers, over the real app: the page, the QR, the resolver.

A mill, its works and the brand register names built to break out of HTML, of the inline SVG
map and of a ``<script>`` block; the certificate number and the item's serial carry quotes and
angle brackets GS1 allows. The page must show each as text and run nothing; the QR code on the
page must decode to the page's own URL on this host; no ``linkType`` and no path may make the
resolver send a browser to another host or split a header; and a new version must change the
page's ETag, which a shared cache revalidates on every request.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import resvg_py
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page

from api.main import create_app
from ledger.identifiers import DigitalLink
from passports.display import clean_text
from tests.integration.api_support import Api, assert_problem, running_api, serving
from tests.integration.browser_support import PHONE, other_hosts, phone
from tests.integration.browser_support import browser as browser  # noqa: PLC0414 (the fixture)
from tests.supply import CERT_GOTS, item, lifecycle, material, passport, process, take
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

MILL = "</svg><script>alert(1)</script>"
WORKS = '"><img src=x onerror=alert(2)>'
TOWN = "]]></text><foreignObject>\u202eomoC"  # and a right-to-left override left open
BRAND = "</title><script>alert(3)</script>&amp;"
PRODUCT = "</script><script>alert(4)</script>" + "W" * 150  # one long unbroken word
CERT_ID = "\"'><svg onload=alert(5)>"
ISSUER = "<!-- -->"
REPAIR = "Cuciture \x1b[2J\x07rifatte"  # terminal escapes in a note
LOT = "urn:spola:lot:seteria:L1"
PIECE = DigitalLink("08000000001016", serial="X\"<s>&'/1")
BASE = "http://127.0.0.1:8000"  # SPOLA_PUBLIC_BASE_URL's default
ACTIVE = {"script", "img", "iframe", "object", "embed", "foreignobject", "base", "form"}
HTML = {"Accept": "text/html", "Accept-Language": "en"}


@pytest.fixture
def brand_site(database_url: str, tmp_path: Path) -> Iterator[tuple[Api, Terminal]]:
    """The app over the hostile passport, and the brand's terminal (the piece's owner)."""
    with running_api(database_url, tmp_path / "home") as api:
        works = {"id": "main", "name": WORKS, "town": TOWN, "region": "Lombardia",
                 "country": "IT", "lat": "45.8081", "lon": "9.0852"}  # fmt: skip
        shop = works | {"name": "Negozio", "town": "Milano", "lat": "45.4642", "lon": "9.19"}
        mill = api.enrol("seteria", name=MILL, roles=["supplier"], facilities=[works])
        brand = api.enrol("maison", name=BRAND, roles=["brand"], facilities=[shop])
        certified = CERT_GOTS | {"id": CERT_ID, "issuer": ISSUER}
        piece = PIECE.path()
        api.accept([mill.sign(material(LOT, "10", certificates=[certified]))])
        api.accept([mill.sign(process([take(LOT, "1")], items=[item(piece)]))])
        api.accept([mill.sign(lifecycle("sale", piece, to=brand.actor))])
        api.accept([brand.sign(passport(piece, PRODUCT))])
        api.accept([brand.sign(lifecycle("repair", piece, description=REPAIR))])
        yield api, brand


@pytest.fixture
def site(brand_site: tuple[Api, Terminal]) -> Api:
    return brand_site[0]


def _uri() -> str:
    return PIECE.uri(BASE)


def _path() -> str:
    return _uri().removeprefix(BASE)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.handlers: list[str] = []
        self.texts: list[str] = []
        self.canonical: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        values = dict(attrs)
        if tag == "link" and values.get("rel") == "canonical":
            self.canonical = values.get("href")

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def _page(api: Api) -> tuple[str, _Page]:
    response = api.client.get(_path(), headers=HTML)
    assert response.status_code == 200, response.text[:500]
    parsed = _Page()
    parsed.feed(response.text)
    parsed.close()
    return response.text, parsed


def test_every_hostile_name_is_text_on_the_page_and_nothing_runs(site: Api) -> None:
    html, page = _page(site)
    assert ACTIVE.isdisjoint(page.tags) and page.handlers == []
    assert page.tags.count("svg") == 3  # the verified mark, the journey map and the QR code
    assert page.tags.count("style") == 1  # the page's own
    shown = "".join(page.texts)
    for text in (MILL, TOWN, BRAND, PRODUCT, CERT_ID, ISSUER, REPAIR):  # a facility's name
        # is not on the page, but breaks out of nothing either (the tags above)
        assert clean_text(text) in shown, text
    assert "\x1b" not in html and "\x07" not in html
    assert "Cuciture [2Jrifatte" in shown


def test_no_script_block_holds_the_passport_and_each_answer_says_what_it_is(site: Api) -> None:
    html, _ = _page(site)
    assert re.search("<script", html, re.I) is None  # no JSON-LD block for a name to end
    ld = site.client.get(_path(), headers={"Accept": "application/ld+json"})
    assert ld.headers["content-type"] == "application/ld+json"
    assert ld.json()["credentialSubject"]["product"]["name"] == PRODUCT  # as the brand wrote it
    linkset = site.client.get(_path(), params={"linkType": "all"})
    for answer in (site.client.get(_path(), headers=HTML), ld, linkset):
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_page_may_run_nothing_and_fetch_nothing(site: Api) -> None:
    for path in (_path(), "/01/08000000001016/21/NOSUCH"):
        answer = site.client.get(path, headers=HTML)
        policy = answer.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["default-src"] == "'none'", path
        assert "script-src" not in directives  # falls back to 'none'
        assert directives["frame-ancestors"] == "'none'"
        assert directives["base-uri"] == "'none'"


def _decode(png: bytes) -> list[str]:
    image = Image.open(io.BytesIO(png)).convert("L")
    return [r.text for r in zxingcpp.read_barcodes(image)]


def test_the_qr_code_on_the_page_and_the_label_decode_to_the_page_s_own_url(site: Api) -> None:
    html, page = _page(site)
    assert page.canonical == _uri()
    start = html.index("<svg", html.index('<figure class="qr"'))
    svg = html[start : html.index("</svg>", start) + len("</svg>")]
    raster = bytes(resvg_py.svg_to_bytes(svg_string=svg, width=400, height=400))
    assert _decode(raster) == [_uri()]
    png = site.client.get(f"/v1/passports{PIECE.path()}/qr.png")
    assert png.status_code == 200 and _decode(png.content) == [_uri()]
    assert _uri().startswith(BASE + "/01/08000000001016/21/")


def test_every_served_link_type_redirects_on_this_host_only(site: Api) -> None:
    for link_type in ("gs1:pip", "gs1:defaultLink", "gs1:sustainabilityInfo",
                      "gs1:certificationInfo"):  # fmt: skip
        answer = site.client.get(_path(), params={"linkType": link_type}, follow_redirects=False)
        assert answer.status_code == 307, link_type
        assert answer.headers["location"].startswith(BASE + "/"), link_type


@pytest.mark.parametrize(
    "link_type",
    ["https://evil.example/", "//evil.example", "gs1:pip\r\nLocation: https://evil.example",
     "gs1:pip/../../evil", "GS1:PIP", " gs1:pip"],
)  # fmt: skip
def test_a_hostile_link_type_redirects_nowhere(site: Api, link_type: str) -> None:
    for accept in ("text/html", "application/json"):  # a browser is refused with a page
        answer = site.client.get(
            _path(), params={"linkType": link_type}, headers={"Accept": accept},
            follow_redirects=False,
        )  # fmt: skip
        assert answer.status_code == 404 and "location" not in answer.headers
    assert_problem(answer, 404, "not-found", "served: all, gs1:pip")


@pytest.mark.parametrize(
    "path",
    ["/01/08000000001016/21/%0D%0ALocation:%20https:%2F%2Fevil.example",
     "/01/08000000001016/21/x%0AX-Injected:%201", "/01//evil.example/21/X",
     "/01/08000000001016/21/%23frag"],
)  # fmt: skip
def test_a_path_with_line_breaks_or_another_host_is_refused(site: Api, path: str) -> None:
    # A line break decoded into the path matches no route (404); the rest is a bad identifier.
    # A browser gets the refusal as a page (test_page_refusals_review.py), a machine a problem.
    for accept, media in (
        ("application/json", "application/problem+json"),
        ("text/html", "text/html"),
    ):
        answer = site.client.get(
            path, params={"linkType": "gs1:pip"}, headers={"Accept": accept},
            follow_redirects=False,
        )  # fmt: skip
        assert answer.status_code in (400, 404) and "location" not in answer.headers
        assert answer.headers["content-type"].startswith(media)
        assert all(name.lower() != "x-injected" for name in answer.headers)


def test_a_new_version_changes_the_page_etag_and_caches_revalidate(
    brand_site: tuple[Api, Terminal],
) -> None:
    site, brand = brand_site
    first = site.client.get(_path(), headers=HTML)
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, no-cache"  # a CDN asks every time
    for sent in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        again = site.client.get(_path(), headers=HTML | {"If-None-Match": sent})
        assert again.status_code == 304, sent
        assert again.headers["etag"] == tag and again.content == b""
    (receipt,) = site.accept([brand.sign(lifecycle("repair", PIECE.path()))])
    assert receipt["applied"], receipt
    later = site.client.get(_path(), headers=HTML | {"If-None-Match": tag})
    assert later.status_code == 200 and later.headers["etag"] != tag
    assert "Version 3 of 3" in later.text


@pytest.fixture
def served(site: Api) -> Iterator[str]:
    """The hostile site on a real local port: its host:port."""
    with serving(create_app(site.settings)) as host:
        yield host


def _open_on_a_phone(browser: Browser, host: str) -> tuple[Page, list[str]]:
    requests: list[str] = []
    page = phone(browser, host, requests, locale="en-GB")
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    response = page.goto(f"http://{host}{_path()}", wait_until="networkidle")
    assert response is not None and response.status == 200
    assert other_hosts(requests, host) == []
    return page, violations


@pytest.mark.slow
def test_the_page_keeps_its_look_under_its_content_security_policy(
    served: str, browser: Browser
) -> None:
    page, violations = _open_on_a_phone(browser, served)
    assert violations == []  # its inline style and SVG need nothing the policy refuses
    heading = page.get_by_role("heading", level=1)
    assert heading.is_visible() and PRODUCT[:40] in heading.inner_text()
    # The inline stylesheet applied (reading.css sets headings in Georgia).
    family = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
    assert family.startswith("Georgia")
    assert page.evaluate("document.querySelectorAll('script').length") == 0


# A 150-letter word in the product's name pushes the page sideways on a phone until the
# passport.css line in the review report (``main { overflow-wrap: anywhere; }``) is applied.
@pytest.mark.slow
def test_a_long_unbroken_name_does_not_widen_the_page_on_a_phone(
    served: str, browser: Browser
) -> None:
    page, _ = _open_on_a_phone(browser, served)
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= PHONE["width"], f"the page is {wide} px wide on a {PHONE['width']} px phone"
