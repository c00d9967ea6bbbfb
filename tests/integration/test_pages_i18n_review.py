"""The pages under review: every refusal in the reader's language, every map label in its own
direction.

1. The directory page (``GET /directory``) re-renders its form with the refusal of a bad
   filter. The refusal is worded in the page's language, Italian or English, names the filter
   as the form labels it (or the parameter, for one the form has not) and says what is wrong;
   the JSON API keeps its English RFC 9457 details, word for word.
2. The passport page's journey map labels towns in SVG ``<text>``, which ``dir`` and ``<bdi>``
   do not reach. Each label and each town in the map's title is a first-strong isolate (FSI ...
   PDI, UAX #9): an Arabic town cut with an ellipsis, or one that starts with a number, reads
   right to left, and the label stays on the side of its dot that the map chose (the CSS
   ``direction`` would flip its ``text-anchor``). Chromium draws it so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from ledger.identifiers import DigitalLink
from tests.integration.api_support import Api, assert_problem, running_api, serving
from tests.integration.browser_support import browser as browser  # noqa: PLC0414 (the fixture)
from tests.supply import handover, item, lifecycle, make, material, passport, process, receipt, take

pytestmark = pytest.mark.integration

FSI, PDI = "\u2068", "\u2069"

# -- 1. the directory page's refusals ---------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A bad query, the field it names, the API's detail and the page's words for it."""

    query: str
    field: str
    api: str
    it: str
    en: str


REFUSALS = (
    Refusal(
        "radius_km=5&radius_km=6&near=45,9", "radius_km",
        "radius_km: given more than once; give it once",
        "Raggio (km): più di un valore; lasciane uno solo",
        "Radius (km): given more than once; give it once",
    ),
    Refusal(
        "on=2026-11-27&on=2026-11-28", "on",
        "on: given more than once; give it once",
        "on: più di un valore; lasciane uno solo",
        "on: given more than once; give it once",
    ),
    Refusal(
        "region=" + "x" * 101, "region",
        "region: at most 100 characters",
        "Regione: sono ammessi al massimo 100 caratteri",
        "Region: at most 100 characters",
    ),
    Refusal(
        "certificate=" + "G" * 101, "certificate",
        "certificate: at most 100 characters",
        "Certificazione: sono ammessi al massimo 100 caratteri",
        "Certificate: at most 100 characters",
    ),
    Refusal(
        "on=26-11-2026", "on",
        "on: '26-11-2026' is not a date YYYY-MM-DD",
        "on: «26-11-2026» non è una data AAAA-MM-GG",
        "on: “26-11-2026” is not a date YYYY-MM-DD",
    ),
    Refusal(
        "on=0001-06-01", "on",
        "on: 0001-06-01 is too early: the track record is the year before it",
        "on: «0001-06-01» è una data troppo antica: la storia verificata è quella dell'anno prima",
        "on: “0001-06-01” is too early: the track record is the year before it",
    ),
    Refusal(
        "near=45.4", "near",
        "near: give it as lat,lon in decimal degrees, e.g. 45.4642,9.19",
        "Vicino a (lat,lon): scrivi latitudine,longitudine in gradi decimali col punto, "
        "ad es. 45.4642,9.19",
        "Near (lat,lon): give it as lat,lon in decimal degrees, e.g. 45.4642,9.19",
    ),
    Refusal(
        "near=91,9", "near",
        "near: latitude must lie in [-90, 90] and longitude in [-180, 180]",
        "Vicino a (lat,lon): la latitudine va da -90 a 90 e la longitudine da -180 a 180",
        "Near (lat,lon): latitude must lie in [-90, 90] and longitude in [-180, 180]",
    ),
    Refusal(
        "near=45,9&radius_km=abc", "radius_km",
        "radius_km: 'abc' is not a number of km (decimal digits, e.g. 60 or 12.5)",
        "Raggio (km): «abc» non è un numero di km (cifre decimali col punto, ad es. 60 o 12.5)",
        "Radius (km): “abc” is not a number of km (decimal digits, e.g. 60 or 12.5)",
    ),
    Refusal(
        "near=45,9&radius_km=0", "radius_km",
        "radius_km: must be more than 0 and at most 2000 km",
        "Raggio (km): deve essere più di 0 e al massimo 2000 km",
        "Radius (km): must be more than 0 and at most 2000 km",
    ),
    Refusal(
        "process=ironing", "process",
        "process: 'ironing' is not a process id of the catalogue (GET /v1/catalogue/processes)",
        "Lavorazione: «ironing» non è una lavorazione del catalogo: scegline una dall'elenco",
        "Process: “ironing” is not a process of the catalogue: choose one from the list",
    ),
    Refusal(
        "material=unobtainium", "material",
        "material: 'unobtainium' is not a material id of the catalogue "
        "(GET /v1/catalogue/materials)",
        "Materiale: «unobtainium» non è un materiale del catalogo: scegline uno dall'elenco",
        "Material: “unobtainium” is not a material of the catalogue: choose one from the list",
    ),
)  # fmt: skip


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    inner: list[str] = field(default_factory=list)  # the tags opened inside it


class Page(HTMLParser):
    """The elements of a served page with the text each holds."""

    VOID = frozenset(("meta", "link", "br", "input", "img", "hr", "source", "wbr", "circle",
                      "line", "path", "rect"))  # fmt: skip

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        for outer in self._open:
            outer.inner.append(tag)
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # "<line/>" in SVG: nothing opens
        if tag not in self.VOID:
            self._open.pop()

    def handle_endtag(self, tag: str) -> None:
        if any(e.tag == tag for e in self._open):
            while self._open.pop().tag != tag:
                pass

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def one(self, **attrs: str) -> Element:
        (found,) = [e for e in self.elements if all(e.attrs.get(k) == v for k, v in attrs.items())]
        return found

    def all(self, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag]


def _said(page: Page) -> str:
    return " ".join(page.one(id="filters-error").text.split())


def _wrong_refusals(app: Api, lang: str) -> Iterator[str]:
    for refusal in REFUSALS:
        response = app.client.get(f"/directory?{refusal.query}&lang={lang}")
        if response.status_code != 400 or not response.headers["content-type"].startswith(
            "text/html"
        ):
            yield f"{refusal.query}: {response.status_code} {response.text[:200]}"
            continue
        page = Page(response.text)
        alert = page.one(id="filters-error")
        expected = refusal.it if lang == "it" else refusal.en
        if page.all("html")[0].attrs.get("lang") != lang or _said(page) != expected:
            yield f"{refusal.query}: said {_said(page)!r}, expected {expected!r}"
        if alert.attrs.get("lang", lang) != lang or alert.attrs.get("role") != "alert":
            yield f"{refusal.query}: the message is marked {alert.attrs}"
        fields = [e for e in page.elements if e.tag in ("input", "select")]
        shown = [e.attrs["name"] for e in fields if e.attrs.get("type") != "hidden"]
        marked = [e.attrs["name"] for e in fields if e.attrs.get("aria-invalid") == "true"]
        if marked != ([refusal.field] if refusal.field in shown else []):
            yield f"{refusal.query}: fields marked invalid: {marked}"
        if marked and page.one(name=refusal.field).attrs.get("aria-describedby") != (
            "filters-error"
        ):
            yield f"{refusal.query}: the field is not described by the message"


@pytest.mark.parametrize("lang", ["it", "en"])
def test_every_filter_refusal_on_the_page_is_worded_in_the_page_language(
    app: Api, lang: str
) -> None:
    assert list(_wrong_refusals(app, lang)) == []


def test_the_json_api_keeps_its_english_problem_details(app: Api) -> None:
    for refusal in REFUSALS:
        body = assert_problem(app.client.get(f"/v1/directory?{refusal.query}"), 400, "bad-request")
        assert body["detail"] == refusal.api, refusal.query


def test_the_refusal_follows_accept_language_when_no_lang_is_given(app: Api) -> None:
    (off,) = [r for r in REFUSALS if r.query == "near=91,9"]
    italian = app.client.get("/directory?near=91,9", headers={"Accept-Language": "it-IT,en;q=0.5"})
    assert italian.status_code == 400
    assert _said(Page(italian.text)) == off.it
    english = app.client.get("/directory?near=91,9", headers={"Accept-Language": "en-GB"})
    assert _said(Page(english.text)) == off.en


def test_an_overlong_lang_is_refused_on_the_page_in_the_readers_language(app: Api) -> None:
    for accept, said in (("it", "sono ammessi al massimo 100 caratteri"),
                         ("en", "at most 100 characters")):  # fmt: skip
        response = app.client.get(
            "/directory?lang=" + "x" * 101, headers={"Accept-Language": accept}
        )
        assert response.status_code == 400, response.text[:300]
        assert response.headers["content-type"].startswith("text/html")
        page = Page(response.text)
        assert page.all("html")[0].attrs["lang"] == accept
        assert _said(page) == f"lang: {said}"
        assert not [e for e in page.elements if "aria-invalid" in e.attrs]


def test_a_refused_value_is_shown_as_typed_isolated_and_with_no_invisible_character(
    app: Api,
) -> None:
    # Arabic-Indic digits are no km: the value keeps its own direction inside the sentence.
    arabic = app.client.get("/directory?near=45,9&radius_km=%D9%A5%D9%A0&lang=it")
    assert arabic.status_code == 400
    assert "«<bdi>\u0665\u0660</bdi>» non è un numero di km" in arabic.text  # "50"
    # A right-to-left override, a control and a no-break space are shown as their escapes:
    # none may reorder the page or hide what was wrong with the value.
    hidden = app.client.get("/directory?near=45,9&radius_km=6%E2%80%AE0%01%C2%A0&lang=en")
    assert hidden.status_code == 400
    assert _said(Page(hidden.text)) == (
        "Radius (km): “6\\u202e0\\x01\\xa0” is not a number of km (decimal digits, e.g. 60 or 12.5)"
    )
    # A markup-like value is text, escaped.
    markup = app.client.get("/directory?process=%3Cb%3Ex&lang=it")
    assert "«<bdi>&lt;b&gt;x</bdi>»" in markup.text and "<b>x" not in markup.text


# -- 2. the journey map's labels ----------------------------------------------------------------

# A textile city of Egypt, whose name a workshop types in full: longer than a map label, so cut.
LONG_TOWN = "مدينة العاشر من رمضان الصناعية الجديدة"
NUMBERED_TOWN = "6 أكتوبر"  # "6th of October" City: it starts with a number
HEBREW_TOWN = "תל אביב (יפו)"  # the map labels it left of its dot (text-anchor end)
PIECE = DigitalLink("08000000001023", serial="MAP1").path()
LOT = "urn:spola:lot:ramadan:L1"
DYED = "urn:spola:lot:october:D1"


def _works(town: str, lat: str, lon: str) -> dict[str, str]:
    return {"id": "main", "name": f"{town} works", "town": town, "country": "EG", "lat": lat,
            "lon": lon}  # fmt: skip


@pytest.fixture
def journey(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """Silk from a mill in Egypt, dyed in 6th of October City, made up in Tel Aviv, sold to a
    brand in Milan."""
    with running_api(database_url, tmp_path / "home") as api:
        mill = api.enrol("ramadan", name="Ramadan Mills", roles=["supplier"],
                         facilities=[_works(LONG_TOWN, "30.2965", "31.7433")])  # fmt: skip
        dyer = api.enrol("october", name="October Dyers", roles=["supplier"],
                         facilities=[_works(NUMBERED_TOWN, "29.9285", "30.9188")])  # fmt: skip
        shop = _works(HEBREW_TOWN, "32.0853", "34.7818") | {"country": "IL"}
        maker = api.enrol("yafo", name="Yafo Scarves", roles=["supplier"], facilities=[shop])
        milan = _works("Milano", "45.4642", "9.19") | {"country": "IT"}
        brand = api.enrol("navigli", name="Navigli", roles=["brand"], facilities=[milan])
        api.accept([mill.sign(material(LOT, "10"))])
        api.accept([mill.sign(handover("DDT-1", dyer.actor, [take(LOT, "5")]))])
        api.accept([dyer.sign(receipt(mill.actor, "DDT-1"))])
        api.accept([dyer.sign(process([take(LOT, "5")], outputs=[make(DYED, "5")]))])
        api.accept([dyer.sign(handover("DDT-2", maker.actor, [take(DYED, "5")]))])
        api.accept([maker.sign(receipt(dyer.actor, "DDT-2"))])
        made = process([take(DYED, "1")], items=[item(PIECE)], process="sewing")
        api.accept([maker.sign(made)])
        api.accept([maker.sign(lifecycle("sale", PIECE, to=brand.actor))])
        api.accept([brand.sign(passport(PIECE, "Foulard Ramadan"))])
        yield api


def _map_texts(html: str) -> tuple[str, list[str]]:
    """The map's title and its labels, as the browser reads them (character references
    decoded)."""
    page = Page(html)
    (svg,) = [e for e in page.all("svg") if e.attrs.get("id") == "journey-map"]
    start = page.elements.index(svg)
    inside = page.elements[start + 1 : start + 1 + len(svg.inner)]
    title = next(e.text for e in inside if e.tag == "title")
    labels = [e.text for e in inside if e.tag == "text" and e.attrs.get("class") == "halo"]
    return title, labels


def test_every_map_label_and_title_town_is_a_first_strong_isolate(journey: Api) -> None:
    html = journey.client.get(PIECE, headers={"Accept-Language": "en"}).text
    title, labels = _map_texts(html)
    shortened = LONG_TOWN[:31].rstrip() + "\u2026"
    assert sorted(labels) == sorted(
        FSI + town + PDI for town in (shortened, NUMBERED_TOWN, HEBREW_TOWN)
    )
    towns = [FSI + t + PDI for t in (LONG_TOWN, NUMBERED_TOWN, HEBREW_TOWN)]
    assert title == "Map of the journey: " + " · ".join(towns)
    # The map's marks are the page's only ones, each closed: three labels, three title towns.
    assert html.count(FSI) == html.count(PDI) == 6


@pytest.mark.slow
def test_chromium_draws_each_rtl_label_right_to_left_beside_its_dot(
    journey: Api, browser: Browser
) -> None:
    with serving(journey.client.app) as host:  # type: ignore[arg-type]
        page = browser.new_page(locale="en-GB")
        response = page.goto(f"http://{host}{PIECE}", wait_until="networkidle")
        assert response is not None and response.status == 200
        drawn = page.evaluate(
            """() => [...document.querySelectorAll('#journey-map text.halo')].map(t => {
                 const chars = [];  // [character, its left edge], in reading order
                 for (let i = 0; i < t.getNumberOfChars(); i++) {
                   chars.push([t.textContent[i], t.getExtentOfChar(i).x]);
                 }
                 const box = t.getBBox();
                 return {text: t.textContent, anchor: t.getAttribute('text-anchor'),
                         x: Number(t.getAttribute('x')), chars,
                         left: box.x, right: box.x + box.width};
               })"""
        )
        page.close()
    # Where each character of a town's name is drawn, the isolate's marks left out.
    lefts = {
        d["text"].strip(FSI + PDI): [x for ch, x in d["chars"] if ch not in (FSI, PDI)]
        for d in drawn
    }
    cut = lefts[LONG_TOWN[:31].rstrip() + "\u2026"]
    assert cut[-1] < min(cut[:-1]), "the ellipsis ends the name: on its left"
    numbered = lefts[NUMBERED_TOWN]
    assert numbered[0] > max(numbered[1:]), "the 6 is read first: on the right"
    # Each label still sits on the side of its dot the map chose: right of it from its x
    # (start), left of it up to its x (end), as journey_map measured.
    assert {d["anchor"] for d in drawn} == {"start", "end"}
    for d in drawn:
        if d["anchor"] == "start":
            assert d["left"] >= d["x"] - 1, d
        else:
            assert d["right"] <= d["x"] + 1, d
