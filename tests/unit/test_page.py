"""The consumer passport page: self-contained, small, escaped, honest about verification.

The three documents in tests/fixtures/passports/ are real public passports from the demo ledger
(a jacket, a scarf and a bag); each is rendered in both languages.
"""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from passports.page import (
    LANGUAGES,
    Lang,
    bundle_path,
    choose_language,
    etag,
    journey_map,
    render_not_found,
    render_page,
)
from passports.qr import qr_svg

FIXTURES = Path(__file__).parent.parent / "fixtures" / "passports"
NAMES = ("jacket", "scarf", "bag")
PAGE_URL = "https://id.spola.example/01/08000000002020/21/I2WCYWNLMFBZJF7IAH3A"
MAX_BYTES = 100 * 1024


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / f"passport_{name}.json").read_text("utf-8"))
    return doc


def render(doc: dict[str, Any], lang: Lang = "en", *, verified: bool = True) -> str:
    qr = qr_svg(PAGE_URL).decode("utf-8")
    return render_page(doc, lang=lang, verified=verified, page_url=PAGE_URL, qr_svg=qr)


class Fetches(HTMLParser):
    """Every URL the browser would load by itself: src, srcset, stylesheets, icons, url()."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = {k: v or "" for k, v in attrs}
        for key in ("src", "srcset", "poster", "data", "background"):
            if key in values:
                self.urls.append(values[key])
        rel = values.get("rel", "").lower().split()
        loads = {"stylesheet", "icon", "preload", "prefetch", "preconnect", "dns-prefetch"}
        if tag == "link" and loads & set(rel):
            self.urls.append(values.get("href", ""))
        if tag in ("image", "use", "feimage"):  # SVG elements that fetch their href
            self.urls.append(values.get("href", values.get("xlink:href", "")))


def auto_fetched(html: str) -> list[str]:
    parser = Fetches()
    parser.feed(html)
    css_urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", html)
    return parser.urls + [u for u in css_urls if not u.startswith("#")]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", NAMES)
def test_demo_pages_are_under_100_kb_and_fetch_nothing_from_other_hosts(
    name: str, lang: Lang
) -> None:
    html = render(load(name), lang)
    assert len(html.encode("utf-8")) < MAX_BYTES
    assert "<script" not in html.lower()
    # The only automatic fetch is the empty data: icon that stops a /favicon.ico request.
    assert auto_fetched(html) == ["data:,"]
    assert "@import" not in html and "@font-face" not in html


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", NAMES)
def test_demo_pages_show_product_journey_scores_and_certificates(name: str, lang: Lang) -> None:
    doc = load(name)
    html = render(doc, lang)
    assert f'<html lang="{lang}">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert doc["product"]["name"] in html
    assert doc["issued_by"]["name"] in html
    assert doc["product"]["gtin"] in html and doc["product"]["serial"] in html
    assert '<svg class="map" id="journey-map"' in html and 'role="img"' in html
    assert '<title id="journey-map-title">' in html
    legs = [s for s in doc["journey"] if s["kind"] == "transport"]
    assert html.count('<line class="leg') == len(legs)
    for cert in doc["certificates"]:
        assert cert["id"] in html
    assert f"{len(doc['entries'])} " in html
    assert f'href="{bundle_path(doc["subject"])}"' in html
    assert "<caption>" in html and '<th scope="col">' in html and '<th scope="row">' in html


def test_numbers_are_written_the_readers_way() -> None:
    jacket = load("jacket")
    italian, english = render(jacket, "it"), render(jacket, "en")
    assert "72,2\u00a0%" in italian and "72.2%" in english  # merino's share of the weight
    assert "106\u00a0km" in italian and "106\u00a0km" in english
    assert "7,5\u00a0g" in italian and "7.5\u00a0g" in english  # 0.0075 kg CO2e
    assert "5 mar 2026" in italian and "5 Mar 2026" in english
    assert "Filatura" in italian and "Spinning" in english


def test_scheme_explanations_are_plain_language_in_both_languages() -> None:
    explanations = json.loads(
        resources.files("passports").joinpath("data", "explanations.json").read_text("utf-8")
    )
    for scheme in ("GOTS", "RWS", "LWG", "_other"):
        assert set(explanations["schemes"][scheme]) == {"it", "en"}
    for score in ("recycled_content", "renewable_content", "mci", "transport_km", "co2e"):
        assert set(explanations["scores"][score]) == {"it", "en"}
    scarf = render(load("scarf"), "en")
    assert explanations["schemes"]["GOTS"]["en"] in scarf
    assert scarf.count(explanations["schemes"]["GOTS"]["en"]) == 1  # once per scheme


def test_unknown_scheme_gets_the_generic_explanation() -> None:
    bag = load("bag")
    bag["certificates"][0] = {**bag["certificates"][0], "scheme": "XYZ", "scheme_name": "Xyz"}
    assert "An independent certification scheme" in render(bag, "en")


def test_untraced_materials_are_flagged_declared_not_traced() -> None:
    jacket = load("jacket")
    html = render(jacket, "en")
    untraced = [m for m in jacket["materials"] if not m["traced"]]
    assert html.count('<span class="tag warn">declared, not traced</span>') == len(untraced)
    assert "27.8% of the weight" in html  # the data-quality flag, in plain words


def test_verified_mark_only_when_the_server_checked_everything() -> None:
    jacket = load("jacket")
    checked, unchecked = render(jacket, verified=True), render(jacket, verified=False)
    assert 'class="badge ok"' in checked and "Not verified by the server" not in checked
    assert 'class="badge ok"' not in unchecked and "<strong>Verified</strong>" not in unchecked
    assert "Not verified by the server" in unchecked


def test_hostile_strings_are_escaped() -> None:
    doc = copy.deepcopy(load("jacket"))
    doc["product"]["name"] = '<script>alert("x")</script>'
    doc["journey"][0]["at"]["town"] = "<img src=x onerror=alert(1)>"
    doc["instructions"]["care"] = ['"><svg onload=alert(1)>']
    doc["certificates"][0]["scheme_url"] = 'javascript:alert(1)" onclick="x'
    html = render(doc, "en")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "<svg onload" not in html and '" onclick="x' not in html
    assert 'href="javascript:' not in html  # only http(s) links are drawn
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert auto_fetched(html) == ["data:,"]


def test_documents_link_only_to_web_urls() -> None:
    doc = load("bag")
    doc["documents"] = [
        {"kind": "other", "title": "Declaration", "url": "https://brand.example/doc.pdf"},
        {"kind": "other", "title": "Trap", "url": "data:text/html,<b>x</b>"},
    ]
    html = render(doc, "en")
    assert (
        '<a href="https://brand.example/doc.pdf" rel="noopener noreferrer">Declaration</a>' in html
    )
    assert '<li dir="auto" lang="en">Trap</li>' in html and "data:text/html" not in html
    assert auto_fetched(html) == ["data:,"]  # a link is followed by hand, never fetched


def test_language_switch_links_both_languages_and_marks_the_current_one() -> None:
    for lang in LANGUAGES:
        html = render(load("scarf"), lang)
        assert 'href="?lang=it"' in html and 'href="?lang=en"' in html
        assert re.search(rf'href="\?lang={lang}"[^>]*aria-current="true"', html)


@pytest.mark.parametrize(
    ("accept", "query", "want"),
    [
        (None, None, "it"),
        ("", "", "it"),
        ("en-GB,en;q=0.9", None, "en"),
        ("de-DE,de;q=0.9,en;q=0.5,it;q=0.4", None, "en"),
        ("fr, it;q=0.2, en;q=0.1", None, "it"),
        ("en;q=0, it;q=0.1", None, "it"),
        ("EN-us", None, "en"),
        ("en;q=abc", None, "it"),  # a malformed quality refuses the range
        ("en;q=2", None, "it"),  # out of range, likewise
        ("en", "it", "it"),  # the switch wins over the browser
        ("it", "en", "en"),
        ("en", "de", "en"),  # an unknown switch value falls back to the header
        ("*", None, "it"),
        ("en," * 10_000, None, "en"),
    ],
)
def test_choose_language(accept: str | None, query: str | None, want: str) -> None:
    assert choose_language(accept, query) == want


@pytest.mark.parametrize("lang", LANGUAGES)
def test_unknown_passport_gets_a_friendly_404_page(lang: Lang) -> None:
    html = render_not_found(lang=lang, path="/01/09999999999999/21/<b>nope</b>")
    assert f'<html lang="{lang}">' in html
    assert ("Passaporto non trovato" if lang == "it" else "Passport not found") in html
    assert "&lt;b&gt;nope&lt;/b&gt;" in html and "<b>nope" not in html
    assert auto_fetched(html) == ["data:,"] and len(html) < MAX_BYTES


def test_mci_is_shown_when_present_and_skipped_when_absent() -> None:
    jacket = load("jacket")
    assert "Material Circularity Indicator" not in render(jacket, "en")
    jacket["circularity"] = {**jacket["circularity"], "mci": {"method": "2019", "mci": "0.4213"}}
    html = render(jacket, "en")
    assert "Material Circularity Indicator (MCI)" in html and "0.42" in html
    jacket["circularity"]["mci"] = "0,5"  # not a number: skipped, not a broken page
    assert "Material Circularity Indicator" not in render(jacket, "en")


def test_map_projects_places_inside_the_canvas_north_up() -> None:
    bag = journey_map(load("bag")["journey"])
    assert bag is not None
    towns = {p.town: p for p in bag.places}
    assert {"Lecco", "Milano", "Robecchetto con Induno"} <= set(towns)
    for p in bag.places:
        assert 0 <= p.x <= bag.width and 0 <= p.y <= bag.height
    assert towns["Lecco"].y < towns["Milano"].y  # Lecco is north of Milan
    assert towns["Robecchetto con Induno"].x < towns["Milano"].x  # and Robecchetto west
    assert journey_map([]) is None


def test_a_journey_in_one_place_draws_one_dot_and_no_scale() -> None:
    jacket = load("jacket")
    step = jacket["journey"][0]
    one = journey_map([step, step])
    assert one is not None and len(one.places) == 1 and one.scale_km == 0


def test_every_wording_key_the_templates_use_exists_in_both_languages() -> None:
    strings = json.loads(
        resources.files("passports").joinpath("data", "strings.json").read_text("utf-8")
    )
    assert set(strings["it"]) == set(strings["en"])
    templates = resources.files("passports").joinpath("templates")
    used: set[str] = set()
    for template in templates.iterdir():
        text = template.read_text("utf-8")
        used |= set(re.findall(r"\bt\.([a-z_]+)", text))
        used |= set(re.findall(r"\bt\[\"([a-z_-]+)\"\]", text))
    assert used and used <= set(strings["en"])


def test_etag_is_stable_and_changes_with_the_page() -> None:
    jacket = load("jacket")
    assert etag(render(jacket)) == etag(render(jacket))
    assert etag(render(jacket)) != etag(render(jacket, verified=False))
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag(render(jacket)))


def test_estimated_distances_are_marked_in_the_list_and_dashed_on_the_map() -> None:
    doc = load("scarf")
    leg = next(s for s in doc["journey"] if s["kind"] == "transport")
    leg["distance_estimated"] = True
    doc["data_quality"].append({"code": "estimated-distance", "entries": [leg["index"]]})
    html = render(doc, "en")
    assert html.count('<line class="leg est"') == 1
    assert (
        '<span class="tag warn" title="distance estimated as the crow flies">estimated</span>'
        in html
    )
    assert "Some transport distances are estimates" in html


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"subject": "/01/09506000134352/21/A1", "product": {"name": "Sciarpa"}},
        {
            "journey": [
                {"kind": "process"},
                {"kind": "transport", "from": {"lat": "1", "lon": "2"}},
            ],
            "certificates": [{}],
            "materials": [{}],
            "versions": [{}],
            "data_quality": [{"code": "something-new"}],
            "circularity": {"mci": {"mci": "0.5"}},
            "short_chain": {"lombardy_share_by_mass": None},
        },
    ],
)
def test_sparse_documents_still_render_a_page(doc: dict[str, Any]) -> None:
    html = render(doc, "it")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")


def _luminance(colour: str) -> float:
    hex_digits = colour.lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(c * 2 for c in hex_digits)
    channels = [int(hex_digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2.x contrast ratio of two sRGB colours."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_text_colours_have_at_least_4_5_to_1_contrast() -> None:
    templates = resources.files("passports").joinpath("templates")
    sheets = ("layout.css", "reading.css", "passport.css")  # in the order the page inlines them
    css = "\n".join(templates.joinpath(name).read_text("utf-8") for name in sheets)
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    variables = dict(re.findall(r"(--[a-z-]+):\s*(#[0-9a-fA-F]{3,6})", css))

    def resolve(value: str) -> str | None:
        value = re.sub(r"var\((--[a-z-]+)\)", lambda m: variables[m.group(1)], value)
        found = re.search(r"#[0-9a-fA-F]{3,6}\b", value)
        return found.group(0) if found else None

    checked = 0
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = dict(re.findall(r"(?:^|;)\s*([a-z-]+)\s*:\s*([^;]+)", body))
        fg = resolve(declarations.get("color", ""))
        if fg is None or selector.strip().startswith((".top", ":root")):
            continue
        bg = resolve(declarations.get("background", ""))
        for under in [bg] if bg else [variables["--bg"], variables["--card"]]:
            assert contrast(fg, under) >= 4.5, (selector.strip(), fg, under)
            checked += 1
    assert contrast("#fff", variables["--ink"]) >= 4.5  # the dark top bar
    assert checked > 20


@pytest.mark.parametrize(
    "svg",
    [
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><image href="https://evil.example/x.png"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><use xlink:href="https://evil.example/x#a"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><a href = "javascript:alert(1)">x</a></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><a\nhref="https://evil.example/">x</a></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><a/href="javascript:alert(1)">x</a></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><a id="a"href="javascript:alert(1)">x</a></svg>',
        '<svg/onload="alert(1)" xmlns="http://www.w3.org/2000/svg"></svg>',
        "<p>not an svg</p>",
    ],
)
def test_a_qr_svg_that_could_run_or_fetch_is_not_inlined(svg: str) -> None:
    html = render_page(load("jacket"), lang="en", verified=False, page_url=PAGE_URL, qr_svg=svg)
    assert svg not in html and 'class="qr"' not in html
    assert auto_fetched(html) == ["data:,"]


def test_the_qr_code_from_passports_qr_is_inlined() -> None:
    html = render(load("jacket"), "en")
    assert '<figure class="qr">' in html and "<svg xmlns" in html
    assert html.count(qr_svg(PAGE_URL).decode("utf-8").strip()) == 1


@pytest.mark.parametrize(
    "page_url",
    [
        "https://id.spola.example/01/08000000002020/21/HREF7BQ2XW5GKN3DAJ4Q",  # a random serial
        "https://passports.hrefashion.example/01/08000000002020/21/I2WCYWNLMFBZJF7IAH3A",
    ],
)
def test_the_qr_code_of_a_uri_spelling_href_is_still_inlined(page_url: str) -> None:
    # The check for active SVG matched "href" anywhere, even in the URI the QR code's title
    # names: one serial in about 60 000, or every page of a brand whose host spells it, lost
    # its QR code.
    qr = qr_svg(page_url).decode("utf-8")
    html = render_page(load("jacket"), lang="en", verified=False, page_url=page_url, qr_svg=qr)
    assert '<figure class="qr">' in html and html.count(qr.strip()) == 1


def test_the_brands_words_are_marked_with_the_language_it_declared() -> None:
    # WCAG 3.1.2 (language of parts): "Foulard Lario 90x90, printed organic silk twill" on the
    # Italian page was read aloud as Italian. The brand's texts carry the language it declared.
    doc = copy.deepcopy(load("bag"))
    doc["product"]["lang"] = "en"
    doc["product"]["description"] = "Vegetable-tanned calf leather"
    doc["documents"] = [{"kind": "other", "title": "Declaration", "url": "https://b.example/d"}]
    parsed = LangOf(render(doc, "it"))
    assert parsed.lang_of(doc["product"]["name"]) == "en"
    assert parsed.lang_of("Vegetable-tanned calf leather") == "en"
    for line in doc["instructions"]["care"]:
        assert parsed.lang_of(line) == "en", line
    assert parsed.lang_of(doc["instructions"]["repair"]) == "en"
    assert parsed.lang_of(doc["instructions"]["take_back"]) == "en"
    assert parsed.lang_of("Declaration") == "en"
    # The page's own words stay in the page's language.
    assert parsed.lang_of("Come prendersene cura") == "it"
    # Undeclared, the brand's words take the page's language, as before.
    del doc["product"]["lang"]
    assert LangOf(render(doc, "it")).lang_of(doc["product"]["name"]) == "it"
    # A value that is no language tag is not written into the page.
    doc["product"]["lang"] = 'en" onclick="x'
    html = render(doc, "it")
    assert 'onclick="x' not in html and LangOf(html).lang_of(doc["product"]["name"]) == "it"


class LangOf(HTMLParser):
    """Each text of a page with the language in force where it stands (the nearest ``lang``)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.stack: list[tuple[str, str]] = []
        self.texts: list[tuple[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("meta", "link", "br", "img", "input", "hr", "path", "circle", "line"):
            return
        inherited = self.stack[-1][1] if self.stack else ""
        self.stack.append((tag, dict(attrs).get("lang") or inherited))

    def handle_endtag(self, tag: str) -> None:
        if any(open_tag == tag for open_tag, _ in self.stack):
            while self.stack.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        if data.strip() and self.stack:
            self.texts.append((data.strip(), self.stack[-1][1]))

    def lang_of(self, text: str) -> str:
        found = {lang for data, lang in self.texts if data == text}
        assert len(found) == 1, (text, found)
        return found.pop()
