"""The directory's HTML pages: the search form with its matches, and one actor's profile.

Server-rendered with Jinja2 from ``api/templates/directory/``, extending the public pages'
layout in ``passports/templates/``, in Italian or English (the wording is
``api.directory_wording``'s); mobile first, no script, no web font, nothing fetched from another
host. The pages show exactly the JSON answers the routes built for the same viewer (hidden
figures are already left out); every value is escaped by Jinja2.

A refused filter (``Refused``, from the route) is said in the page's language: the filter as
the form labels it (its parameter's name when the form has no field for it) and what is wrong,
with the refused value quoted as typed, in a ``<bdi>`` of its own, any character that would
print nothing (a control, a bidi mark, a lone surrogate) shown as its escape; the form puts a
value back in its field only when it prints whole (``shown_in_field``). The profile page
refuses the same way: a parameter or an actor id it refused, or an actor the directory does not
know, is a page of its own in the reader's language (``render_profile_refused``,
``render_profile_unknown``). So are the company page's (``/companies/{slug}``, which
``scoring.maturity_page`` renders): an address it refused, or a company without a public
maturity page (``render_company_refused``, ``render_company_missing``), leading to the directory;
the home page's (``render_home_refused``); an address refused before any route read it
(``render_request_refused``, for ``api.limits``); and an address no page answered: no route
serves it, the method is not one a page serves, or the client's rate limit is spent
(``render_unanswered``, for ``api.limits.page_refusal``).
A browser gets the page, a client asking for JSON the API's problem (``refusal_answer``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, Final, Literal
from urllib.parse import quote, urlencode

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from markupsafe import Markup, escape

from api.directory_wording import STRINGS
from api.escapes import printable
from api.passport_http import negotiate
from ledger.catalogue import catalogue
from passports.page import (
    LANGUAGES,
    Formatter,
    Lang,
    choose_language,
    layout_environment,
)

Reason = Literal[
    "twice", "too_long", "control", "escape", "nul", "not_a_date", "too_early", "not_a_place",
    "off_the_globe", "not_km", "km_out_of_range", "not_a_slug", "not_catalogued",
]  # fmt: skip
# The form's fields by parameter, and the parts of a page's address, as STRINGS labels them.
_FIELD_LABELS: Final = {
    "process": "process", "material": "material", "certificate": "certificate",
    "region": "region", "near": "near", "radius_km": "radius", "actor_id": "actor_id",
    "slug": "slug", "path": "slug",
}  # fmt: skip
# A page's refusal varies with Accept as well: a page, or a problem for a client asking for JSON.
REFUSAL_HEADERS: Final = {
    "Vary": "Accept, Accept-Language, Authorization",
    "Cache-Control": "private, no-cache",
}


@dataclass(frozen=True)
class Refused:
    """A query parameter the route refused: its ``name``, the ``reason``, the ``value`` as
    given (for the reasons that quote it) and the ``limit`` it broke (for those that name
    one)."""

    name: str
    reason: Reason
    value: str | None = None
    limit: str | None = None


# Characters of a refused parameter's name a refusal repeats.
MAX_NAME_SHOWN: Final = 100
# Characters of an address no route answers that its page quotes (as the passport page's).
MAX_PATH_SHOWN: Final = 300
# Why a page's address was answered by no page (``render_unanswered``).
Unanswered = Literal["no_page", "method", "rate_limited"]
MISSING: Final = "\u2013"  # an en dash where a figure is missing


@cache
def _environment() -> Environment:
    return layout_environment("api", "templates/directory")


def _summary(name: str, figure: Mapping[str, Any], lang: Lang) -> str:
    # Numbers as the reader writes them (Formatter: "48,2 km", "80 %" in Italian).
    fmt, t = Formatter(lang), STRINGS[lang]
    if name == "volumes":
        rows = figure.get("by_process", [])
        names = _names()
        return (
            "; ".join(
                f"{names.get(r['process'], r['process'])} "
                f"{names.get(r['material'], r['material'])} "
                f"{fmt.number(r['kg'], 1)}\u00a0kg"
                for r in rows
            )
            or f"{fmt.number(0)}\u00a0kg"
        )
    if name == "services":
        kinds = t["services"]
        return ", ".join(f"{kinds[k]} {v}" for k, v in figure.items() if k in kinds)
    if name == "distance":
        mean = figure.get("mean_km")
        return f"{MISSING if mean is None else fmt.km(mean)} ({figure.get('handovers')})"
    if name in ("acceptance", "certified"):
        return fmt.pct(figure.get("share"))
    value = figure.get("count", figure.get("level"))
    return MISSING if value is None else str(value)  # a level the history no longer keeps


@cache
def _names() -> dict[str, str]:
    # The catalogue's names of processes and materials (in English only), by id.
    found = {p.id: p.name for p in catalogue().processes}
    return found | {m.id: m.name for m in catalogue().materials}


def _isolated(text: str) -> Markup:
    # A value as typed, in a <bdi>; what prints nothing (a NUL, a right-to-left override, a
    # no-break space, a lone surrogate) as its escape, "\u202e": it can neither hide nor reorder.
    return Markup("<bdi>{}</bdi>").format(printable(text))


def refusal(refused: Refused, lang: Lang) -> Markup:
    """What the page says of ``refused``: "{the filter}: {what is wrong}", in ``lang``."""
    t = STRINGS[lang]
    label = _FIELD_LABELS.get(refused.name)
    field = escape(t[label]) if label else _isolated(refused.name)
    wording = t["refused"][refused.reason]
    if isinstance(wording, Mapping):  # worded for each filter
        wording = wording[refused.name]
    value = escape(t["quoted"]).format(value=_isolated(refused.value or ""))
    problem = escape(wording).format(value=value, limit=refused.limit or "")
    return Markup("{}: {}").format(field, problem)


def _render(template: str, lang: Lang, params: Mapping[str, Any], **values: Any) -> str:
    def query_for(code: str) -> str:
        kept = {k: v for k, v in params.items() if v}
        return urlencode(kept | {"lang": code})

    def summary(name: str, figure: Mapping[str, Any]) -> str:
        return _summary(name, figure, lang)

    def actor_path(actor: str) -> str:
        # An actor id as one segment of a link's path: registration admits none that needs
        # quoting (``ledger.events.ActorId``), but none could end the path if one did.
        return quote(actor, safe=":")

    def score(value: Any) -> str:
        # The ranking score, 0 to 1 with four places, as a whole number out of 100.
        text: str = STRINGS[lang]["score_of"]
        return text.format(n=Formatter(lang).number(Decimal(value) * 100))

    page = _environment().get_template(template)
    return page.render(lang=lang, t=STRINGS[lang], languages=LANGUAGES, query_for=query_for,
                       summary=summary, score=score, actor_path=actor_path, names=_names(),
                       fmt=Formatter(lang),
                       **values)  # fmt: skip


def shown_in_field(value: Any, limit: int) -> str | None:
    """``value`` as the search form puts it back in its field: as typed when every character
    of it prints and it is at most ``limit`` characters, else nothing. An invisible character
    in a field (a control, a bidi override, a no-break space) cannot be seen to be corrected,
    and a value longer than a filter may be would only be refused again: the refusal above the
    form quotes the value with its escapes instead."""
    if not isinstance(value, str) or len(value) > limit or printable(value) != value:
        return None
    return value


def render_directory(
    filters: Mapping[str, Any],
    answer: Mapping[str, Any],
    error: Refused | None,
    lang: Lang,
    *,
    limit: int,
) -> str:
    """The search page: the filters as a plain GET form, and the matches; with ``error``, the
    refused filter marked invalid and the refusal said in ``lang``. A field shows its filter
    only as ``shown_in_field`` allows (``limit``: the characters a filter may have); the links
    to the page in another language carry the query as given, its day included, so they show
    the same matches, or say the same refusal. A search dated with ``on`` leads each match to
    the profile of that day."""
    return _render(
        "directory.html",
        lang,
        filters,
        filters={name: shown_in_field(value, limit) for name, value in filters.items()},
        on=answer.get("on") if filters.get("on") else None,
        answer=answer,
        bad=error.name if error else "",
        error=refusal(error, lang) if error else "",
        processes=catalogue().processes,
        materials=catalogue().materials,
    )


def render_profile(profile: Mapping[str, Any], lang: Lang, *, dated: bool = False) -> str:
    """One actor's profile: declarations marked verified or not, and the visible figures. A
    profile ``dated`` by the reader (``on``) says so of its certificates, and its links to the
    other languages keep the day."""
    on = profile["track_record"]["to"] if dated else None
    return _render("profile.html", lang, {"on": on}, p=profile, on=on)


def _refused(lang: Lang, heading: str, *, error: str = "", said: str = "", back: str = "",
             back_text: str = "") -> str:  # fmt: skip
    # The refusal page: what was refused (``error``) or what is missing (``said``), a link
    # ``back`` to the page without the refused parameters, and one to the search.
    return _render("refused.html", lang, {}, heading=heading, error=error, said=said, back=back,
                   back_text=back_text)  # fmt: skip


def render_profile_refused(
    actor: str, refused: Refused, lang: Lang, *, on: str | None = None
) -> str:
    """The profile page when the route refused one of its parameters or the actor id itself:
    the refusal said in ``lang``, and a link to the profile without them (none for a refused
    id), of the day ``on`` when the route read a valid one."""
    t = STRINGS[lang]
    # The id as the route read it: '%' kept, as api.paths keeps %2F %25 %3F %23 in it.
    query = urlencode({"on": on, "lang": lang} if on else {"lang": lang})
    back = "" if refused.name == "actor_id" else f"/directory/{quote(actor, safe=':%')}?{query}"
    error = refusal(refused, lang)
    return _refused(lang, t["refused_title"], error=error, back=back, back_text=t["open_profile"])


def render_profile_unknown(actor: str, lang: Lang) -> str:
    """The profile page of an actor the directory does not know: said in ``lang``, the
    identifier shown as typed, and a way back to the search."""
    t = STRINGS[lang]
    said = escape(t["unknown"]).format(actor=_isolated(actor))
    return _refused(lang, t["unknown_title"], said=said)


def render_company_refused(slug: str, refused: Refused, lang: Lang) -> str:
    """The company page when the route refused its slug or a parameter: the refusal said in
    ``lang``, and a link to the company page without the parameter (none for a refused slug)."""
    t = STRINGS[lang]
    back = "" if refused.name == "slug" else f"/companies/{slug}?lang={lang}"
    error = refusal(refused, lang)
    return _refused(lang, t["refused_title"], error=error, back=back, back_text=t["open_company"])


def render_company_missing(slug: str, lang: Lang) -> str:
    """The company page of a slug with no public maturity page (no such company, the ledger's
    operator, or a company keeping its maturity from this reader), said the same for each in
    ``lang``, and a way to the directory."""
    t = STRINGS[lang]
    said = escape(t["company_missing"]).format(company=_isolated(slug))
    return _refused(lang, t["company_missing_title"], said=said)


def render_request_refused(refused: Refused, lang: Lang) -> str:
    """A page's address refused before any route read it (a control character in its path, a
    NUL in its query, a broken percent-escape, a target over the limit: ``api.limits``), said
    in ``lang``, and a way to the directory."""
    t = STRINGS[lang]
    return _refused(lang, t["refused_title"], error=refusal(refused, lang))


def render_unanswered(reason: Unanswered, path: str, lang: Lang) -> str:
    """A page's address that no page answered, said in ``lang``, with a way to the directory:
    no route serves ``path`` (404, the address quoted as typed, cut to ``MAX_PATH_SHOWN``
    characters), the method is not one a page serves (405), or the client's rate limit is
    spent (429)."""
    t = STRINGS[lang]
    if reason == "no_page":
        said = escape(t["no_page"]).format(path=_quoted(path[:MAX_PATH_SHOWN], lang))
        return _refused(lang, t["no_page_title"], said=said)
    if reason == "method":
        return _refused(lang, t["refused_title"], said=t["method"])
    return _refused(lang, t["rate_limited_title"], said=t["rate_limited"])


def _quoted(text: str, lang: Lang) -> Markup:
    return escape(STRINGS[lang]["quoted"]).format(value=_isolated(text))


def render_home_refused(refused: Refused, lang: Lang) -> str:
    """The home page when it refused a parameter: said in ``lang``, and a link to the home page
    without it."""
    t = STRINGS[lang]
    error = refusal(refused, lang)
    return _refused(lang, t["refused_title"], error=error, back=f"/?lang={lang}",
                    back_text=t["open_home"])  # fmt: skip


def given_twice(request: Request) -> str | None:
    """The first query parameter ``request`` gives more than once, if any, its name cut to
    ``MAX_NAME_SHOWN`` characters: which of its values would count is a guess, so the pages and
    the directory's routes refuse it."""
    for name, _ in request.query_params.multi_items():
        if len(request.query_params.getlist(name)) > 1:
            return name[:MAX_NAME_SHOWN]
    return None


def page_language(request: Request, lang: str | None, limit: int) -> tuple[Lang, bool]:
    """The language a page answers in, and whether its ``lang`` is over ``limit`` characters.
    A ``lang`` too long or given more than once is not read: Accept-Language chooses the
    language the page refuses it in."""
    too_long = lang is not None and len(lang) > limit
    told = None if too_long or len(request.query_params.getlist("lang")) > 1 else lang
    return choose_language(request.headers.get("accept-language"), told), too_long


def refusal_answer(
    request: Request, status: int, page: Callable[[], str], problem: Response
) -> Response:
    """A page's refusal: for a browser, the page ``page`` renders with ``status``; for a client
    asking for JSON (``negotiate``, as on the passport page), the API's ``problem``. Either way
    with ``REFUSAL_HEADERS``."""
    answer = HTMLResponse(page(), status) if negotiate(request) == "html" else problem
    answer.headers.update(REFUSAL_HEADERS)
    return answer
