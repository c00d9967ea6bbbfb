"""The server-rendered pages people read, checked against WCAG 2.1 AA and plain wording, over the
real app on the demo ledger, SQLite and PostgreSQL.

Italy's Legge Stanca asks public-facing services for EN 301 549, that is WCAG 2.1 AA: brand
staff, workshop owners and consumers on phones read these pages, some with a screen reader, a
magnifier or a thumb. What needs no layout is checked here, on the served HTML and its inlined
CSS: the language of the page and of any passage in the other language, one ``h1`` and no
skipped heading level, the landmarks and a skip link that lands, a title per page, a label and
an announced, tied error for every field, a text alternative for the radar chart, the contrast
of every colour pair the stylesheets declare, tap targets of the language switcher, focus never
hidden, and wording a non-developer can read (no field names, a score that says what it is, the
reader's decimal separator).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from html.parser import HTMLParser
from itertools import pairwise

import pytest

from api.demo_story import BRAND, WOOL_MILL
from scoring.maturity import load_model
from scoring.maturity_page import _STYLE as CHART_STYLE
from tests.integration.api_support import Api
from tests.unit.test_page import contrast

pytestmark = pytest.mark.integration

LANGS = ("it", "en")
SUPPLIER = "urn:spola:actor:atelier-brera"
# Every page a person reads, by a short name: the path, asked for in each language.
PAGES = {
    "home": "/",
    "directory": "/directory",
    "search": "/directory?process=weaving&near=45.4642,9.19&radius_km=100",
    "profile": f"/directory/{SUPPLIER}",
    "company": f"/companies/{BRAND}",
    "mill": f"/companies/{WOOL_MILL}",
}
LANDMARKS = ("header", "nav", "main")
VOID = frozenset({"meta", "link", "br", "img", "input", "hr", "source", "wbr", "area", "col"})
FIELDS = frozenset({"input", "select", "textarea"})


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    labelled_by_wrapper: bool = False


@dataclass
class Outline(HTMLParser):
    """What a screen reader would be told about a page: the parts these checks read."""

    html_lang: str | None = None
    title: str = ""
    headings: list[tuple[int, str]] = field(default_factory=list)
    elements: list[Element] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    svgs: list[Element] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        self._open: list[Element] = []

    @classmethod
    def of(cls, html: str) -> Outline:
        outline = cls()
        outline.feed(html)
        outline.close()
        return outline

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        element = Element(tag, found)
        element.labelled_by_wrapper = any(e.tag == "label" for e in self._open)
        if tag == "html":
            self.html_lang = found.get("lang")
        if tag == "svg":
            self.svgs.append(element)
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            closed = self._open.pop()
            if closed.tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self.headings.append((int(closed.tag[1]), " ".join(closed.text.split())))
            if closed.tag == "title" and not any(e.tag == "svg" for e in self._open):
                self.title = " ".join(closed.text.split())
            if closed.tag == "style" and not any(e.tag == "svg" for e in self._open):
                self.styles.append(closed.text)
            if closed.tag == tag:
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def by_tag(self, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag]

    def ids(self) -> set[str]:
        return {e.attrs["id"] for e in self.elements if "id" in e.attrs}


@pytest.fixture
def pages(demo: Api) -> dict[tuple[str, str], str]:
    """Every page in both languages: (name, lang) to the served HTML."""
    served = {}
    for name, path in PAGES.items():
        for lang in LANGS:
            response = demo.client.get(path, params={"lang": lang})
            assert response.status_code == 200, (path, response.text[:300])
            served[(name, lang)] = response.text
    return served


def outlines(pages: dict[tuple[str, str], str]) -> Iterator[tuple[str, str, Outline]]:
    for (name, lang), html in pages.items():
        yield name, lang, Outline.of(html)


# -- 1. structure -------------------------------------------------------------------------


def test_each_page_declares_its_language_and_one_h1_without_skipped_levels(
    pages: dict[tuple[str, str], str],
) -> None:
    for name, lang, page in outlines(pages):
        where = f"{name} ({lang})"
        assert page.html_lang == lang, where
        levels = [level for level, _ in page.headings]
        assert levels.count(1) == 1 and levels[0] == 1, (where, page.headings)
        for before, after in pairwise(levels):
            assert after <= before + 1, (where, "skips a heading level", page.headings)


def test_each_page_has_landmarks_a_working_skip_link_and_its_own_title(
    pages: dict[tuple[str, str], str],
) -> None:
    titles: dict[str, set[str]] = {lang: set() for lang in LANGS}
    for name, lang, page in outlines(pages):
        where = f"{name} ({lang})"
        for landmark in LANDMARKS:
            assert len(page.by_tag(landmark)) >= 1, (where, landmark)
        assert len(page.by_tag("main")) == 1, where
        first_link = page.by_tag("a")[0]
        target = first_link.attrs["href"]
        assert target.startswith("#") and target[1:] == page.by_tag("main")[0].attrs.get("id")
        assert "spola" in page.title and len(page.title) > len("spola · "), where
        titles[lang].add(page.title)
        # The language switcher names each language, in that language.
        for link in (a for a in page.by_tag("a") if "hreflang" in a.attrs):
            assert link.attrs.get("lang") == link.attrs["hreflang"], (where, link.attrs)
            assert link.attrs.get("aria-label") in ("Italiano", "English"), (where, link.attrs)
    # Each page says which page it is: the two company pages and the profile included (the
    # search with filters is the directory page itself).
    for lang in LANGS:
        assert len(titles[lang]) == len(PAGES) - 1, titles[lang]


def test_catalogue_names_in_english_are_marked_as_english_on_the_italian_page(
    pages: dict[tuple[str, str], str],
) -> None:
    page = Outline.of(pages[("directory", "it")])
    options = [o for o in page.by_tag("option") if o.attrs.get("value")]
    assert options
    # The catalogue names processes and materials in English only (ledger/data/catalogue).
    assert all(o.attrs.get("lang") == "en" for o in options), options[:3]
    english = Outline.of(pages[("directory", "en")])
    assert not [o for o in english.by_tag("option") if "lang" in o.attrs]


# -- 2. forms -------------------------------------------------------------------------------


def test_every_search_field_has_a_label_that_is_not_its_placeholder(
    pages: dict[tuple[str, str], str],
) -> None:
    for lang in LANGS:
        page = Outline.of(pages[("directory", lang)])
        labelled_for = {e.attrs.get("for") for e in page.by_tag("label")}
        fields = [e for e in page.elements if e.tag in FIELDS and e.attrs.get("type") != "hidden"]
        assert len(fields) == 6
        for e in fields:
            assert e.labelled_by_wrapper or e.attrs.get("id") in labelled_for, e.attrs
        labels = [" ".join(label.text.split()) for label in page.by_tag("label")]
        for e in fields:
            placeholder = e.attrs.get("placeholder")
            assert placeholder is None or all(not t.startswith(placeholder) for t in labels)
        by_name = {e.attrs["name"]: e.attrs for e in fields}
        # A place near: digits, a comma and a minus sign, so a full keyboard, not a keypad.
        assert by_name["near"].get("inputmode") in (None, "text"), by_name["near"]
        assert by_name["radius_km"].get("inputmode") == "decimal"
        assert by_name["region"].get("autocomplete") == "address-level1"
        for name in ("near", "radius_km", "certificate"):
            assert by_name[name].get("autocomplete") == "off", name


@pytest.mark.parametrize("lang", LANGS)
def test_a_refused_filter_is_announced_and_tied_to_its_field(demo: Api, lang: str) -> None:
    response = demo.client.get("/directory", params={"near": "Milano", "lang": lang})
    assert response.is_client_error  # its status is the route's to choose (400 or 422)
    page = Outline.of(response.text)
    alerts = [e for e in page.elements if e.attrs.get("role") == "alert"]
    assert len(alerts) == 1
    assert alerts[0].text.startswith({"it": "Vicino a (lat,lon): ", "en": "Near (lat,lon): "}[lang])
    error_id = alerts[0].attrs["id"]
    near = next(e for e in page.by_tag("input") if e.attrs.get("name") == "near")
    assert error_id in near.attrs.get("aria-describedby", "").split()
    assert near.attrs.get("aria-invalid") == "true"
    assert near.attrs.get("value") == "Milano"  # what was typed stays, to be corrected
    others = [e for e in page.elements if e.tag in FIELDS and e.attrs.get("name") != "near"]
    assert not [e for e in others if "aria-invalid" in e.attrs or "aria-describedby" in e.attrs]
    # The refusal is worded in the page's own language: no passage of another to mark.
    assert "lang" not in alerts[0].attrs


# -- 3. non-text content --------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_the_radar_chart_is_one_image_whose_label_carries_its_data(
    pages: dict[tuple[str, str], str], lang: str
) -> None:
    page = Outline.of(pages[("company", lang)])
    (svg,) = page.svgs
    assert svg.attrs.get("role") == "img"
    label = svg.attrs.get("aria-label", "")
    assert "Pygal" not in svg.text and "Pygal" not in label
    # Each dimension's score now and at the first assessment, written as the table writes them.
    rows = [" ".join(r.text.split()) for r in page.by_tag("tr")]
    now = "Oggi" if lang == "it" else "Now"
    first = "Prima valutazione" if lang == "it" else "First assessment"
    assert now in label and first in label, label
    dimensions = _rows(page)[1:7]  # the first table: a dimension, its level, its score
    table_scores = [cells[-1].text for cells in dimensions if len(cells) == 3]
    assert len(table_scores) == 6, rows
    for score in table_scores:
        assert score in label, (score, label)
    decimal = "," if lang == "it" else "."
    assert all(decimal in s for s in table_scores)


def _rows(page: Outline) -> list[list[Element]]:
    rows: list[list[Element]] = []
    for e in page.elements:
        if e.tag == "tr":
            rows.append([])
        elif e.tag in ("td", "th") and rows:
            rows[-1].append(e)
    return rows


# -- 4, 5. colour, targets, focus -----------------------------------------------------------

HEX = re.compile(r"#([0-9a-f]{3}|[0-9a-f]{6})\b", re.I)


def _rules(css: str) -> list[tuple[str, dict[str, str]]]:
    """Flat (selector, declarations) rules of a stylesheet; @media blocks are flattened."""
    text = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules: list[tuple[str, dict[str, str]]] = []
    depth_selector: list[str] = []
    buffer = ""
    for char in text:
        if char == "{":
            depth_selector.append(buffer.strip())
            buffer = ""
        elif char == "}":
            selector = depth_selector.pop() if depth_selector else ""
            body = buffer.strip()
            buffer = ""
            if not selector.startswith("@") and ":" in body:
                declarations = {}
                for part in body.split(";"):
                    key, _, value = part.partition(":")
                    if key.strip():
                        declarations[key.strip().lower()] = value.strip()
                for one in selector.split(","):
                    rules.append((" ".join(one.split()), declarations))
        else:
            buffer += char
    return rules


def test_contrast_is_computed_as_wcag_defines_it() -> None:
    assert round(contrast("#000", "#fff"), 1) == 21.0
    assert round(contrast("#767676", "#ffffff"), 2) == 4.54
    assert contrast("#fff", "#fff") == 1.0


class Palette:
    """The colours a page's CSS declares, with its custom properties resolved."""

    WHITE = "#ffffff"

    def __init__(self, css: str) -> None:
        self.rules = _rules(css)
        self.variables = {
            key: value
            for selector, declarations in self.rules
            if selector == ":root"
            for key, value in declarations.items()
            if key.startswith("--")
        }

    def colour(self, value: str) -> str | None:
        value = value.strip()
        if value.startswith("var("):
            value = self.variables.get(value[4:].rstrip(")").strip(), "")
        if value in ("white", "#fff"):
            return self.WHITE
        found = HEX.fullmatch(value)
        return value if found else None

    def declared(self, selector: str, prop: str) -> str | None:
        value = None
        for s, declarations in self.rules:
            if s == selector:
                value = declarations.get(prop, value)
        return value

    def pairs(self) -> Iterator[tuple[str, str, str, float]]:
        """(selector, text colour, background, minimum ratio) for every text colour declared.

        A rule's own background counts when it declares one; otherwise the surfaces it can sit
        on: the top bar's for rules inside it, else the page and the cards.
        """
        top = self.colour(self.declared(".top", "background") or "") or self.WHITE
        surfaces = [c for c in (self.colour("var(--bg)"), self.colour("var(--card)")) if c]
        for selector, declarations in self.rules:
            fg = self.colour(declarations.get("color", ""))
            if fg is None:
                continue
            own = declarations.get("background") or declarations.get("background-color")
            if own is not None and (bg := self.colour(own)) is not None:
                backgrounds = [bg]
            elif selector.startswith(".top"):
                backgrounds = [top]
            else:
                backgrounds = surfaces
            for bg in backgrounds:
                yield selector, fg, bg, 4.5
        # Form fields and other components: their border against the surface, 3:1 (1.4.11).
        for selector, declarations in self.rules:
            border = declarations.get("border", "")
            if any(f in selector for f in ("input", "select")) and border:
                colour = self.colour(border.split()[-1])
                assert colour is not None, (selector, border)
                for bg in (self.WHITE, *surfaces):
                    yield f"{selector} border", colour, bg, 3.0


def test_every_colour_pair_in_the_pages_css_has_enough_contrast(
    pages: dict[tuple[str, str], str],
) -> None:
    checked = 0
    for name, lang, page in outlines(pages):
        palette = Palette("\n".join(page.styles))
        for selector, fg, bg, minimum in palette.pairs():
            ratio = contrast(fg, bg)
            assert ratio >= minimum, f"{name} ({lang}) {selector}: {fg} on {bg} is {ratio:.2f}:1"
            checked += 1
    assert checked > 50


def test_the_radar_chart_lines_stand_out_from_the_card() -> None:
    # The chart's series are drawn in these colours at stroke opacity .8 over the white card;
    # a graphical object needs 3:1 (1.4.11). Its text is the page's ink.
    for colour in CHART_STYLE.colors:
        blended = "#" + "".join(
            f"{round(0.8 * int(colour[i : i + 2], 16) + 0.2 * 255):02x}" for i in (1, 3, 5)
        )
        assert contrast(blended, "#ffffff") >= 3.0, colour
    assert contrast(CHART_STYLE.foreground, "#ffffff") >= 4.5


def _px(value: str, font_px: float) -> float:
    value = value.strip()
    if value.endswith("rem"):
        return float(value[:-3]) * 16
    if value.endswith("em"):
        return float(value[:-2]) * font_px
    if value.endswith("px"):
        return float(value[:-2])
    return float(value) * font_px  # a unitless line height


def _switcher_prop(palette: Palette, selectors: list[str], key: str, default: str) -> str:
    # Font size and line height are inherited from the bar; the box's own are not.
    found = default
    inherited = (".top",) if key in ("font-size", "line-height") else ()
    for selector in (*inherited, *selectors):
        found = palette.declared(selector, key) or found
    return found


def test_language_switcher_links_are_at_least_24_css_pixels_each_way(
    pages: dict[tuple[str, str], str],
) -> None:
    for name, lang, page in outlines(pages):
        palette = Palette("\n".join(page.styles))
        selectors = [s for s, _ in palette.rules if s in (".top nav a", ".top a")]
        assert selectors, name

        prop = partial(_switcher_prop, palette, selectors)

        display = prop("display", "inline")
        assert display in ("inline-block", "inline-flex", "block", "flex"), (name, display)
        font = _px(prop("font-size", "1rem"), 16)
        padding = prop("padding", "0").split()
        vertical = 2 * _px(padding[0], font)
        horizontal = 2 * _px(padding[-1] if len(padding) > 1 else padding[0], font)
        height = max(_px(prop("line-height", "1.5"), font) + vertical,
                     _px(prop("min-height", "0px"), font))  # fmt: skip
        # Two capital letters are at least one em wide in any of the page's system fonts.
        width = max(font + horizontal, _px(prop("min-width", "0px"), font))
        assert height >= 24 and width >= 24, f"{name} ({lang}): {width:.1f} x {height:.1f} px"


def test_the_focus_ring_shows_on_the_dark_top_bar(pages: dict[tuple[str, str], str]) -> None:
    # A focus indicator is a state a keyboard user must see: 3:1 against what it sits on.
    for name, lang, page in outlines(pages):
        palette = Palette("\n".join(page.styles))
        bar = palette.colour(palette.declared(".top", "background") or "")
        assert bar is not None, name
        ring = None  # the last rule that colours a top-bar link's ring wins, as in the cascade
        for selector in ("a:focus-visible", ".top a:focus-visible", ".top nav a:focus-visible"):
            shorthand = (palette.declared(selector, "outline") or "").split()
            declared = palette.declared(selector, "outline-color") or " ".join(shorthand[-1:])
            ring = palette.colour(declared) or ring
        if ring is None:
            continue  # the browser's own ring, drawn in two contrasting colours
        assert contrast(ring, bar) >= 3.0, f"{name} ({lang}): {ring} on {bar}"


def test_no_rule_hides_the_focus_ring(pages: dict[tuple[str, str], str]) -> None:
    for name, _, page in outlines(pages):
        for selector, declarations in _rules("\n".join(page.styles)):
            outline = declarations.get("outline", "").split()
            assert outline[:1] not in (["none"], ["0"]), (name, selector)


# -- 6. wording -----------------------------------------------------------------------------

FIELD_NAME = re.compile(r"\b[a-z]+_[a-z_]+\b")


def _visible_text(html: str) -> str:
    page = Outline.of(html)
    hidden = {"style", "script", "svg", "code", "title"}
    return " ".join(
        e.text
        for e in page.elements
        if e.tag in ("p", "li", "td", "th", "dt", "dd", "h1", "h2", "h3", "summary", "span")
        and e.tag not in hidden
    )


def test_no_field_name_is_shown_to_a_reader(pages: dict[tuple[str, str], str]) -> None:
    for (name, lang), html in pages.items():
        page = Outline.of(html)
        code_text = " ".join(e.text for e in page.by_tag("code"))
        words = set(FIELD_NAME.findall(_visible_text(html))) - set(FIELD_NAME.findall(code_text))
        assert not words, f"{name} ({lang}) shows {sorted(words)}"


def test_the_model_words_its_roadmap_without_field_names() -> None:
    for question in load_model().questions:
        for lang in LANGS:
            for text in (getattr(question.action, lang), getattr(question.target, lang)):
                assert not FIELD_NAME.search(text), text
                assert "workforce" not in text, text  # the block's name in the event format


def test_the_company_page_writes_numbers_the_way_its_reader_does(
    pages: dict[tuple[str, str], str],
) -> None:
    italian = _visible_text(pages[("company", "it")])
    english = _visible_text(pages[("company", "en")])
    # The level bands as shares: "50 %" in Italian, "50%" in English.
    assert "1: 50\u00a0%" in italian and "1: 50%" in english
    version = f"Modello {load_model().version}"  # a name, not a number to localise
    assert version in italian
    assert not re.search(r"\d\.\d", italian.replace(version, "")), "a decimal point in Italian"
    for phrase in ("peso \u00d7 scarto", "weight \u00d7 gap"):
        assert phrase not in italian and phrase not in english


def test_the_directory_says_what_its_score_is_and_out_of_what(
    pages: dict[tuple[str, str], str],
) -> None:
    italian = _visible_text(pages[("search", "it")])
    english = _visible_text(pages[("search", "en")])
    assert not re.search(r"0\.\d{4}", italian + english)
    assert "su 100" in italian and "out of 100" in english
    assert not re.search(r"\d\.\d", italian), "a decimal point on the Italian page"
