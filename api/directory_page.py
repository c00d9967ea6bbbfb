"""The directory's HTML pages: the search form with its matches, and one actor's profile.

Server-rendered with Jinja2 from ``api/templates/directory/``, extending the public pages'
layout in ``passports/templates/``, in Italian or English; mobile first, no script, no web
font, nothing fetched from another host. The pages show exactly the JSON answers the routes
built for the same viewer (hidden figures are already left out); every value is escaped by
Jinja2.

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

from api.escapes import printable
from api.passport_http import negotiate
from ledger.catalogue import catalogue
from passports.page import (
    LANGUAGES,
    Formatter,
    Lang,
    by_language,
    choose_language,
    layout_environment,
)

# Each phrase in Italian and English, side by side.
STRINGS: Final[Mapping[Lang, Mapping[str, Any]]] = by_language(
    {
        "site": ("elenco fornitori", "supplier directory"),
        "skip": ("Vai al contenuto", "Skip to content"),
        "languages": ("Lingue", "Languages"),
        "directory": ("Elenco fornitori", "Supplier directory"),
        "intro": (
            "Laboratori e fornitori con la loro storia firmata: ciò che dichiarano e ciò che "
            "il registro dimostra.",
            "Workshops and suppliers with their signed history: what they declare and what the "
            "ledger proves.",
        ),
        "process": ("Lavorazione", "Process"),
        "material": ("Materiale", "Material"),
        "certificate": ("Certificazione", "Certificate"),
        "region": ("Regione", "Region"),
        "near": ("Vicino a (lat,lon)", "Near (lat,lon)"),
        "radius": ("Raggio (km)", "Radius (km)"),
        "search": ("Cerca", "Search"),
        "any": ("Qualsiasi", "Any"),
        "matches": ("Risultati", "Matches"),
        "best_of": (
            "mostrati i migliori {shown} di {matched}",
            "showing the best {shown} of {matched}",
        ),
        "incomplete": (
            "Sono registrati più fornitori di quanti una ricerca ne legga: alcuni non sono stati "
            "cercati.",
            "More suppliers are registered than a search reads: some were not searched.",
        ),
        "score_explained": (
            "Il punteggio unisce la vicinanza e la storia verificata che il fornitore rende "
            "pubblica; i dati che tiene riservati non contano.",
            "The score combines nearness and the verified record the supplier makes public; "
            "figures it keeps private do not count.",
        ),
        "none": ("Nessun fornitore corrisponde ai filtri.", "No supplier matches these filters."),
        "verified": ("verificato", "verified"),
        "unverified": ("dichiarato, non ancora dimostrato", "declared, not yet evidenced"),
        "entries": ("voci del registro", "log entries"),
        "score": ("Punteggio", "Score"),
        "score_of": ("{n} su 100", "{n} out of 100"),
        "roles": {
            "operator": ("gestore del registro", "ledger operator"),
            "supplier": ("fornitore", "supplier"),
            "brand": ("marchio", "brand"),
            "certifier": ("ente di certificazione", "certifier"),
            "repairer": ("riparatore", "repairer"),
            "recycler": ("riciclatore", "recycler"),
            "retailer": ("rivenditore", "retailer"),
            "logistics": ("logistica", "logistics"),
        },
        "services": {
            "repair": ("riparazioni", "repairs"),
            "take-back": ("ritiri", "take-backs"),
            "recycling": ("riciclo", "recycling"),
        },
        "facilities": ("Sedi", "Facilities"),
        "processes": ("Lavorazioni", "Processes"),
        "materials": ("Materiali", "Materials"),
        "certificates": ("Certificazioni", "Certificates"),
        "valid": ("valido", "valid"),
        "expired": ("non valido oggi", "not valid today"),
        "record": ("Storia verificata", "Verified track record"),
        "figure_volumes": ("Volumi", "Volumes"),
        "figure_partners": ("Partner distinti", "Distinct partners"),
        "figure_acceptance": ("Consegne ricevute e accettate", "Handovers received and accepted"),
        "figure_certified": ("Eventi con materiale certificato", "Events with certified material"),
        "figure_distance": ("Distanza media delle consegne", "Mean handover distance"),
        "figure_services": ("Servizi", "Services"),
        "figure_maturity": ("Livello di maturità", "Maturity level"),
        "record_incomplete": (
            "Il fornitore ha più voci nel registro di quante la storia ne legga: alcune voci di "
            "questo periodo potrebbero non essere contate, e i dati essere parziali.",
            "The supplier has more log entries than a track record reads: some entries of this "
            "period may not be counted, so the figures may be partial.",
        ),
        # The profile page's refusals: a parameter it refused, an actor it does not know.
        "refused_title": ("Richiesta non valida", "Request not valid"),
        "unknown_title": ("Fornitore non trovato", "Supplier not found"),
        "unknown": (
            "Nell'elenco non c'è alcun fornitore {actor}: controlla l'indirizzo, o cerca "
            "nell'elenco per lavorazione, materiale o regione.",
            "The directory has no supplier {actor}: check the address, or search the directory "
            "by process, material or region.",
        ),
        "open_profile": ("Apri il profilo", "Open the profile"),
        "search_directory": ("Cerca nell'elenco fornitori", "Search the supplier directory"),
        # The company page's: an address it refused, a company without a public page. One
        # wording for an unknown company, the operator and a hidden maturity: the page tells
        # the public no more than the JSON route does.
        "company_missing_title": ("Pagina dell'azienda non trovata", "Company page not found"),
        "company_missing": (
            "Non c'è alcuna pagina pubblica di maturità per {company}: controlla l'indirizzo, o "
            "cerca l'azienda nell'elenco fornitori.",
            "There is no public maturity page for {company}: check the address, or look the "
            "company up in the supplier directory.",
        ),
        "open_company": ("Apri la pagina dell'azienda", "Open the company page"),
        # An address under the pages that no route answers, a method no page serves, a spent
        # rate limit (``render_unanswered``, for api.problems and api.ratelimit).
        "no_page_title": ("Pagina non trovata", "Page not found"),
        "no_page": (
            "Non c'è alcuna pagina all'indirizzo {path}: controlla l'indirizzo, o cerca "
            "nell'elenco fornitori.",
            "There is no page at {path}: check the address, or search the supplier directory.",
        ),
        "method": (
            "Questa pagina si può soltanto aprire: non riceve moduli né dati. Aprila dal suo "
            "indirizzo o da un collegamento.",
            "This page can only be opened: it takes no form or data. Open it from its address "
            "or a link.",
        ),
        "rate_limited_title": ("Troppe richieste", "Too many requests"),
        "rate_limited": (
            "Da questa connessione sono arrivate molte richieste in poco tempo. Aspetta un "
            "minuto e riprova.",
            "Many requests came from this connection in a short time. Wait a minute and try again.",
        ),
        "open_home": ("Vai alla pagina iniziale", "Go to the home page"),
        # The parts of a page's address a refusal names.
        "actor_id": ("Identificativo del fornitore", "Supplier identifier"),
        "slug": ("Indirizzo della pagina", "Page address"),
        # A refused filter: "{field}: {what is wrong}". {value} is the value as typed, quoted.
        "quoted": ("«{value}»", "“{value}”"),
        "refused": {
            "twice": ("più di un valore; lasciane uno solo", "given more than once; give it once"),
            "too_long": (
                "sono ammessi al massimo {limit} caratteri",
                "at most {limit} characters",
            ),
            "control": (
                "{value} contiene un carattere di controllo, che nessun indirizzo ammette",
                "{value} holds a control character, which no address may",
            ),
            "escape": (
                "{value} contiene un '%' non seguito da due cifre esadecimali, o escape che non "
                "sono testo UTF-8",
                "{value} holds a '%' not followed by two hex digits, or escapes that are no "
                "UTF-8 text",
            ),
            "nul": (
                "{value} contiene un carattere NUL, che nessun filtro ammette",
                "{value} holds a NUL character, which no filter may",
            ),
            "not_a_date": ("{value} non è una data AAAA-MM-GG", "{value} is not a date YYYY-MM-DD"),
            "too_early": (
                "{value} è una data troppo antica: la storia verificata è quella dell'anno prima",
                "{value} is too early: the track record is the year before it",
            ),
            "not_a_place": (
                "scrivi latitudine,longitudine in gradi decimali col punto, ad es. 45.4642,9.19",
                "give it as lat,lon in decimal degrees, e.g. 45.4642,9.19",
            ),
            "off_the_globe": (
                "la latitudine va da -90 a 90 e la longitudine da -180 a 180",
                "latitude must lie in [-90, 90] and longitude in [-180, 180]",
            ),
            # The field wants a plain decimal: "12,5" is refused, so the example keeps its dot.
            "not_km": (
                "{value} non è un numero di km (cifre decimali col punto, ad es. 60 o 12.5)",
                "{value} is not a number of km (decimal digits, e.g. 60 or 12.5)",
            ),
            "km_out_of_range": (
                "deve essere più di 0 e al massimo {limit} km",
                "must be more than 0 and at most {limit} km",
            ),
            "not_a_slug": (
                "{value} non è l'indirizzo di una pagina d'azienda: lettere minuscole, cifre e "
                "trattini, a cominciare da una lettera o una cifra",
                "{value} is not a company page's address: lower-case letters, digits and "
                "hyphens, starting with a letter or digit",
            ),
            "not_catalogued": {
                "process": (
                    "{value} non è una lavorazione del catalogo: scegline una dall'elenco",
                    "{value} is not a process of the catalogue: choose one from the list",
                ),
                "material": (
                    "{value} non è un materiale del catalogo: scegline uno dall'elenco",
                    "{value} is not a material of the catalogue: choose one from the list",
                ),
            },
        },
    }
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
    return str(figure.get("count", figure.get("level", MISSING)))


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
        kept = {k: v for k, v in params.items() if v and k != "on"}
        return urlencode(kept | {"lang": code})

    def summary(name: str, figure: Mapping[str, Any]) -> str:
        return _summary(name, figure, lang)

    def score(value: Any) -> str:
        # The ranking score, 0 to 1 with four places, as a whole number out of 100.
        text: str = STRINGS[lang]["score_of"]
        return text.format(n=Formatter(lang).number(Decimal(value) * 100))

    page = _environment().get_template(template)
    return page.render(lang=lang, t=STRINGS[lang], languages=LANGUAGES, query_for=query_for,
                       summary=summary, score=score, names=_names(), fmt=Formatter(lang),
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
    to the page in another language carry the query as given, so the refusal is said there
    too."""
    return _render(
        "directory.html",
        lang,
        filters,
        filters={name: shown_in_field(value, limit) for name, value in filters.items()},
        answer=answer,
        bad=error.name if error else "",
        error=refusal(error, lang) if error else "",
        processes=catalogue().processes,
        materials=catalogue().materials,
    )


def render_profile(profile: Mapping[str, Any], lang: Lang) -> str:
    """One actor's profile: declarations marked verified or not, and the visible figures."""
    return _render("profile.html", lang, {}, p=profile)


def _refused(lang: Lang, heading: str, *, error: str = "", said: str = "", back: str = "",
             back_text: str = "") -> str:  # fmt: skip
    # The refusal page: what was refused (``error``) or what is missing (``said``), a link
    # ``back`` to the page without the refused parameters, and one to the search.
    return _render("refused.html", lang, {}, heading=heading, error=error, said=said, back=back,
                   back_text=back_text)  # fmt: skip


def render_profile_refused(actor: str, refused: Refused, lang: Lang) -> str:
    """The profile page when the route refused one of its parameters or the actor id itself:
    the refusal said in ``lang``, and a link to the profile without them (none for a refused
    id)."""
    t = STRINGS[lang]
    # The id as the route read it: '%' kept, as api.paths keeps %2F %25 %3F %23 in it.
    back = "" if refused.name == "actor_id" else f"/directory/{quote(actor, safe=':%')}?lang={lang}"
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
