"""Names and notes that actors typed keep their own direction on every page.

A workshop may register its name in Arabic, a brand its product in Hebrew; the pages set them
among Italian and English words, commas, arrows and numbers. Without isolation the Unicode
bidirectional algorithm lets the right-to-left run swallow its neighbours ("ورشة الصباغة, Como"
comes out with the comma and the town on the wrong side). Each element that holds text an actor
supplied carries ``dir="auto"`` (a block of its own) or is a ``<bdi>`` (a run inside a line of
the page's own words), so the browser takes each value's direction from the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest

from ledger.identifiers import DigitalLink
from tests.integration.api_support import Api, running_api
from tests.supply import CERT_GOTS, item, lifecycle, material, passport, process, take

pytestmark = pytest.mark.integration

MILL_NAME = "مصنع الحرير"  # Arabic: "the silk mill"
WORKS = "ورشة الصباغة"  # Arabic: "the dye works"
BRAND_NAME = "בית האופנה נבילי"  # Hebrew: "Navigli fashion house"
PRODUCT = "צעיף משי Lario 90x90"  # Hebrew and Latin in one name
DESCRIPTION = "وشاح من الحرير المطبوع"
CARE = "ניקוי יבש בלבד"
CERT_ISSUER = "هيئة الاعتماد"
REPAIR = "خياطة جديدة"
DOCUMENT = "דוח בדיקה 2026"  # Hebrew: "test report 2026"
RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")  # Hebrew, Arabic and their forms
LOT = "urn:spola:lot:harir:L1"
PIECE = DigitalLink("08000000001016", serial="RTL1").path()
ISOLATING = {"bdi"}
# Text no element attribute can isolate: the document's <title> (the browser's tab) and SVG
# <text>/<title>, which take the SVG ``direction`` property, not ``dir``.
NOT_HTML_TEXT = {"title", "text", "desc"}


class _Texts(HTMLParser):
    """Each non-blank text node with the open elements around it, innermost last."""

    VOID: ClassVar = frozenset(
        ("meta", "link", "br", "input", "img", "hr", "source", "wbr", "circle", "line", "path",
         "rect")
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.found: list[tuple[str, list[tuple[str, dict[str, str | None]]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.found.append((data, list(self.stack)))


def unisolated_rtl(html: str) -> Iterator[str]:
    """Each right-to-left text of ``html`` whose element neither is a ``<bdi>`` nor has
    ``dir="auto"``, shown with that element. A link inherits its direction, so a link whose
    parent is isolated is isolated too."""
    parser = _Texts()
    parser.feed(html)
    for text, stack in parser.found:
        if not RTL.search(text) or not stack:
            continue
        tag, attrs = stack[-1]
        if tag in NOT_HTML_TEXT:
            continue
        holders = stack[-2:] if tag == "a" else stack[-1:]  # a link may take its parent's
        if not any(t in ISOLATING or a.get("dir") == "auto" for t, a in holders):
            yield f"<{tag} {attrs}>{text.strip()}"


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """A mill and a brand with right-to-left names, and a scarf's passport written in Hebrew."""
    with running_api(database_url, tmp_path / "home") as api:
        works = {"id": "main", "name": WORKS, "town": "Como", "region": "Lombardia",
                 "country": "IT", "lat": "45.8081", "lon": "9.0852"}  # fmt: skip
        shop = works | {"name": "חנות מילאנו", "town": "Milano", "lat": "45.4642", "lon": "9.19"}
        mill = api.enrol("harir", name=MILL_NAME, roles=["supplier"], facilities=[works])
        brand = api.enrol("navigli", name=BRAND_NAME, roles=["brand"], facilities=[shop])
        certified = CERT_GOTS | {"issuer": CERT_ISSUER, "id": "ش-2026-17"}
        api.accept([mill.sign(material(LOT, "10", certificates=[certified]))])
        api.accept([mill.sign(process([take(LOT, "1")], items=[item(PIECE)]))])
        api.accept([mill.sign(lifecycle("sale", PIECE, to=brand.actor))])
        api.accept([brand.sign(lifecycle("repair", PIECE, description=REPAIR))])
        instructions = {"care": [CARE], "repair": REPAIR, "take_back": DESCRIPTION}
        documents = [{"kind": "test-report", "title": DOCUMENT, "url": "https://example.org/r"}]
        fields = passport(PIECE, PRODUCT, instructions=instructions, documents=documents)
        fields["product"] |= {"description": DESCRIPTION}
        api.accept([brand.sign(fields)])
        yield api


def _page(api: Api, path: str) -> str:
    response = api.client.get(path, headers={"Accept": "text/html", "Accept-Language": "en"})
    assert response.status_code == 200, (path, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_every_rtl_name_on_the_public_pages_is_isolated(site: Api) -> None:
    pages = {
        "passport": PIECE,
        "profile": "/directory/urn:spola:actor:harir",
        "brand profile": "/directory/urn:spola:actor:navigli",
        "directory": "/directory",
        "home": "/",
        "company": "/companies/harir",
    }
    for name, path in pages.items():
        html = _page(site, path)
        assert RTL.search(html), f"the {name} page shows no right-to-left text"
        assert list(unisolated_rtl(html)) == [], name


def test_the_passport_page_isolates_names_inside_lines_of_its_own(site: Api) -> None:
    html = _page(site, PIECE)
    assert f'<h1 id="product-name" dir="auto">{PRODUCT}</h1>' in html
    assert f'<p class="brand" dir="auto">{BRAND_NAME}</p>' in html
    # A step: who made it, the town and the region are each a run of their own.
    assert f"<bdi>{MILL_NAME}</bdi>, <bdi>Como</bdi>, <bdi>Lombardia</bdi>" in html
    assert f'<dd dir="auto">{CERT_ISSUER}</dd>' in html
    assert f'<li dir="auto">{CARE}</li>' in html
    assert (
        f'<li dir="auto"><a href="https://example.org/r" rel="noopener noreferrer">{DOCUMENT}</a>'
        in html
    )


def test_the_checker_sees_an_rtl_name_left_bare() -> None:
    bare = f"<p>{MILL_NAME}, Como</p>"
    assert list(unisolated_rtl(bare)) == [f"<p {{}}>{MILL_NAME}, Como"]
    assert (
        list(unisolated_rtl(f'<p dir="auto">{MILL_NAME}</p><p><bdi>{WORKS}</bdi>, Como</p>')) == []
    )
