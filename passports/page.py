"""The consumer passport page: one public passport document in, one HTML5 document out.

This module owns what a shopper sees after scanning a label: the page's wording in Italian and
English (``data/strings.json``), the plain-language explanations of certification schemes and
scores (``data/explanations.json``), the journey map drawn as inline SVG, and the choice of
language from ``?lang=`` and ``Accept-Language``. The page is self-contained: its style is inline,
it has no script, no web font and nothing the browser fetches from any host, so it stays fast on a
phone and leaks no scan to a third party.

It leaves out everything else: building the document (``passports.build``), checking signatures
and proofs (the caller says whether it did, in ``verified``), HTTP (``api/``), and caching
headers, which the route derives from ``etag``. Every value from the document is escaped by Jinja2,
after ``passports.display`` dropped its control characters, balanced its bidi marks and cut its
long lists to a page's worth.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, partial
from importlib import resources
from typing import Any, Final, Literal

from jinja2 import (
    ChainableUndefined,
    ChoiceLoader,
    Environment,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)
from markupsafe import Markup

from ledger.passport import LANGUAGE_TAG
from passports.display import clean_text, covered_steps, for_page
from passports.journey_map import as_decimal, journey_map, places_of

__all__ = [
    "LANGUAGES", "Lang", "Refusal", "bundle_path", "by_language", "choose_language", "etag",
    "journey_map", "render_not_found", "render_page",
]  # fmt: skip

Lang = Literal["it", "en"]
LANGUAGES: Final[tuple[Lang, ...]] = ("it", "en")
DEFAULT_LANGUAGE: Final[Lang] = "it"
# An Accept-Language header longer than this is cut: browsers send well under 200 characters.
_MAX_ACCEPT_LANGUAGE: Final = 1000

# The journey map's canvas, in SVG user units (it scales to the screen's width).

# Markup that could run or fetch: matched as elements and attributes, not as bare words, which
# the QR code's title (its URI, escaped) may spell ("HREF" in a serial, in a host name).
_ACTIVE_SVG: Final = re.compile(r"<script|<foreignobject|[\s/\"']on[a-z]+\s*=|href\s*=|url\(", re.I)
_MISSING: Final = "\u2013"  # an en dash where a number is missing


# -- language -------------------------------------------------------------------------------


def by_language(pairs: Mapping[str, Any]) -> dict[Lang, dict[str, Any]]:
    """Per-language wording from one table whose leaves are (Italian, English) pairs.

    Nested tables are split the same way; a plain string is the same in every language. So a
    phrase and its translation sit side by side, and none can go missing from one language.
    """

    def pick(value: Any, index: int) -> Any:
        if isinstance(value, tuple):
            return value[index]
        if isinstance(value, Mapping):
            return {key: pick(item, index) for key, item in value.items()}
        return value

    return {lang: pick(pairs, index) for index, lang in enumerate(LANGUAGES)}


def _as_lang(value: str) -> Lang | None:
    primary = value.strip().lower().split("-", 1)[0]
    return next((lang for lang in LANGUAGES if lang == primary), None)


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def choose_language(accept_language: str | None, query: str | None) -> Lang:
    """The page's language: ``?lang=`` if it names one, else Accept-Language's best, else it.

    Accept-Language follows RFC 9110 section 12.5.4: quality values rank the ranges, ``q=0``
    refuses one, and a region subtag (``en-GB``) matches its language. Ties go to the first.
    """
    if query is not None and (chosen := _as_lang(query)) is not None:
        return chosen
    best: Lang | None = None
    best_q = 0.0
    for part in (accept_language or "")[:_MAX_ACCEPT_LANGUAGE].split(","):
        tag, _, params = part.partition(";")
        lang = _as_lang(tag)
        q = _quality(params)
        if lang is not None and q > best_q:
            best, best_q = lang, q
    return best or DEFAULT_LANGUAGE


# -- packaged data --------------------------------------------------------------------------


@cache
def _data(name: str) -> dict[str, Any]:
    text = resources.files("passports").joinpath("data", name).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _fill(template: str, **values: Any) -> str:
    # Wording from strings.json with {placeholders}; the result is escaped like any value.
    return str(template).format(**values)


def _lookup(key: Any, table: Mapping[str, Any]) -> Any:
    return table.get(key, key)


def _fraction(value: Any) -> float:
    # A share for comparisons and bar widths: anything that is not a number counts as 0.
    return float(as_decimal(value) or 0)


def _web_url(value: Any) -> str | None:
    # Links the reader may follow: http(s) only, never javascript: or data: from a document.
    url = str(value or "")
    return url if url.startswith(("https://", "http://")) and "\\" not in url else None


def layout_environment(package: str, folder: str) -> Environment:
    """Jinja2 for the pages in ``package``'s ``folder`` that extend this package's shared
    layout (``templates/layout.html``): every value escaped (CSS included), an undefined name an
    error, not an empty string."""
    return Environment(
        loader=ChoiceLoader(
            [PackageLoader(package, folder), PackageLoader("passports", "templates")]
        ),
        autoescape=select_autoescape(["html", "css"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def _environment() -> Environment:
    # A missing optional member (an older document, a future ``circularity.mci``) renders as
    # nothing rather than failing the page; tests check every wording key the templates use.
    env = Environment(
        loader=PackageLoader("passports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fill"] = _fill
    env.filters["lookup"] = _lookup
    env.filters["fraction"] = _fraction
    env.filters["web_url"] = _web_url
    return env


def bundle_path(subject: str) -> str:
    """The auditors' bundle for the passport of ``subject`` (a Digital Link path)."""
    return f"/v1/passports{subject}/bundle"


def etag(html: str) -> str:
    """A strong ETag for a rendered page: the same bytes always give the same tag."""
    return '"' + hashlib.sha256(html.encode("utf-8")).hexdigest()[:32] + '"'


# -- numbers and dates in the reader's language ---------------------------------------------


@dataclass(frozen=True)
class Formatter:
    """Numbers, shares, masses and dates written the way ``lang`` writes them."""

    lang: Lang

    def number(self, value: Any, places: int = 0) -> str:
        number = as_decimal(value)
        if number is None:
            return _MISSING
        text = f"{number:,.{places}f}"
        if self.lang == "it":
            text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return text

    def pct(self, value: Any) -> str:
        share = as_decimal(value)
        if share is None:
            return _MISSING
        pct = share * 100
        sign = "\u00a0%" if self.lang == "it" else "%"
        if 0 < pct < Decimal("0.1"):
            return f"< {self.number('0.1', 1)}{sign}"
        rounded = pct.quantize(Decimal("0.1"))
        places = 0 if rounded == rounded.to_integral_value() else 1
        return f"{self.number(rounded, places)}{sign}"

    def km(self, value: Any) -> str:
        number = as_decimal(value)
        places = 1 if number is not None and 0 < number < 10 and number % 1 else 0
        return f"{self.number(value, places)}\u00a0km"

    def co2e(self, kg: Any) -> str:
        number = as_decimal(kg)
        if number is not None and number < 1:
            return f"{self.number(number * 1000, 1)}\u00a0g"
        return f"{self.number(kg, 1)}\u00a0kg"

    def date(self, value: Any) -> str:
        text = str(value or "")[:10]
        try:
            year, month, day = (int(part) for part in text.split("-"))
        except ValueError:
            return text
        if not 1 <= month <= 12:
            return text
        return f"{day} {_data('strings.json')[self.lang]['months'][month - 1]} {year}"


# -- the page -------------------------------------------------------------------------------


def _names_by_actor(doc: Mapping[str, Any]) -> dict[str, str]:
    places = places_of(doc.get("journey") or [])
    for material in doc.get("materials") or []:
        places.extend(o for o in material.get("origins") or [] if isinstance(o, Mapping))
    return {str(p["actor"]): str(p.get("name") or p["actor"]) for p in places if "actor" in p}


def _mci(doc: Mapping[str, Any]) -> Decimal | None:
    """``circularity.mci`` as a number in [0, 1]: a bare value or an MCI result's ``mci``."""
    score = (doc.get("circularity") or {}).get("mci")
    if isinstance(score, Mapping):
        score = score.get("mci")
    value = as_decimal(score)
    return value if value is not None and 0 <= value <= 1 else None


def _inline_svg(qr_svg: str | None) -> Markup | None:
    # The QR code comes from passports.qr.qr_svg, our own encoder, and is inlined as markup;
    # as a belt to those braces, anything that could run or fetch is dropped, not inlined.
    start = (qr_svg or "").find("<svg")
    if qr_svg is None or start < 0 or _ACTIVE_SVG.search(qr_svg):
        return None
    return Markup(qr_svg[start:])  # noqa: S704 # nosec B704 # our own QR encoder's SVG, checked above


def _context(lang: Lang) -> dict[str, Any]:
    strings = _data("strings.json")
    return {
        "lang": lang,
        "t": strings[lang],
        "languages": [(code, strings[code]["language_name"]) for code in LANGUAGES],
        "fmt": Formatter(lang),
    }


def render_page(
    doc: Mapping[str, Any],
    *,
    lang: Lang,
    verified: bool,
    page_url: str,
    qr_svg: str | None = None,
) -> str:
    """The consumer page of the public passport ``doc`` as a complete HTML5 document.

    Actors' text is cleaned and long lists are cut first (``passports.display``); the
    template says how much it left out (``omitted``). ``verified`` must be True only when the
    caller checked every signature and proof behind ``doc``: it alone decides whether the page
    shows the "verified" mark. ``qr_svg`` is an SVG from ``passports.qr.qr_svg`` (decoded),
    inlined as it is.
    """
    template = _environment().get_template("passport.html")
    page = for_page(doc)
    journey = page.whole.get("journey") or []
    return template.render(
        _context(lang),
        doc=page.shown,
        omitted=page.omitted,
        verified=verified,
        page_url=page_url,
        qr=_inline_svg(qr_svg),
        journey_map=journey_map(journey),
        names=_names_by_actor(page.whole),
        material_names={
            m.get("material"): m.get("name") for m in page.whole.get("materials") or []
        },
        covered=partial(covered_steps, journey),
        mci=_mci(doc),
        explain=_data("explanations.json"),
        bundle=bundle_path(str(doc.get("subject") or "")),
        brand_lang=_brand_lang(doc),
    )


def _brand_lang(doc: Mapping[str, Any]) -> Markup:
    """The ``lang`` attribute of the elements holding the brand's words, from the language its
    passport declared (WCAG 3.1.2, language of parts); none for an undeclared or ill-formed
    one, so that they take the page's."""
    declared = (doc.get("product") or {}).get("lang")
    if isinstance(declared, str) and re.fullmatch(LANGUAGE_TAG, declared):
        return Markup(' lang="{}"').format(declared)
    return Markup("")


Refusal = Literal["not_found", "too_large", "bad_link", "no_link", "method", "rate_limited"]


def render_not_found(*, lang: Lang, path: str, kind: Refusal = "not_found") -> str:
    """A friendly page for ``path`` (shown escaped), in the page's look: no passport there
    (404), one whose facts lie beyond the bounds the service follows (413, ``too_large``), an
    address no label carries (400, 414 or 422, ``bad_link``: not a Digital Link, a parameter
    refused, a control character, a broken escape), a link type the passport does not offer
    (404, ``no_link``), a method the page does not serve (405, ``method``) or a client's rate
    limit spent (429, ``rate_limited``)."""
    template = _environment().get_template("not_found.html")
    return template.render(_context(lang), path=clean_text(path[:300]), kind=kind)
