"""The directory's HTML pages: the search form with its matches, and one actor's profile.

Server-rendered with Jinja2 from ``api/templates/directory/``, extending the public pages'
layout in ``passports/templates/``, in Italian or English; mobile first, no script, no web
font, nothing fetched from another host. The pages show exactly the JSON answers the routes
built for the same viewer (hidden figures are already left out); every value is escaped by
Jinja2.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Final
from urllib.parse import urlencode

from jinja2 import Environment

from ledger.catalogue import catalogue
from passports.page import LANGUAGES, Lang, by_language, layout_environment

# Each phrase in Italian and English, side by side.
STRINGS: Final[Mapping[Lang, Mapping[str, str]]] = by_language(
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
        "none": ("Nessun fornitore corrisponde ai filtri.", "No supplier matches these filters."),
        "verified": ("verificato", "verified"),
        "unverified": ("dichiarato, non ancora dimostrato", "declared, not yet evidenced"),
        "entries": ("voci del registro", "log entries"),
        "score": ("Punteggio", "Score"),
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
    }
)


MISSING: Final = "\u2013"  # an en dash where a figure is missing


@cache
def _environment() -> Environment:
    return layout_environment("api", "templates/directory")


def _summary(name: str, figure: Mapping[str, Any]) -> str:
    if name == "volumes":
        rows = figure.get("by_process", [])
        return "; ".join(f"{r['process']} {r['material']} {r['kg']} kg" for r in rows) or "0 kg"
    if name == "services":
        counts = {k: v for k, v in figure.items() if k in ("repair", "take-back", "recycling")}
        return ", ".join(f"{k} {v}" for k, v in counts.items())
    if name == "distance":
        return f"{figure.get('mean_km') or MISSING} km ({figure.get('handovers')})"
    if name in ("acceptance", "certified"):
        share = figure.get("share")
        return MISSING if share is None else f"{float(share) * 100:.0f}%"
    return str(figure.get("count", figure.get("level", MISSING)))


def _render(template: str, lang: Lang, params: Mapping[str, Any], **values: Any) -> str:
    def query_for(code: str) -> str:
        kept = {k: v for k, v in params.items() if v and k != "on"}
        return urlencode(kept | {"lang": code})

    page = _environment().get_template(template)
    return page.render(lang=lang, t=STRINGS[lang], languages=LANGUAGES, query_for=query_for,
                       summary=_summary, **values)  # fmt: skip


def render_directory(
    filters: Mapping[str, Any], answer: Mapping[str, Any], error: str | None, lang: Lang
) -> str:
    """The search page: the filters as a plain GET form, and the matches."""
    return _render(
        "directory.html",
        lang,
        filters,
        filters=filters,
        answer=answer,
        error=error,
        processes=catalogue().processes,
        materials=catalogue().materials,
    )


def render_profile(profile: Mapping[str, Any], lang: Lang) -> str:
    """One actor's profile: declarations marked verified or not, and the visible figures."""
    return _render("profile.html", lang, {}, p=profile)
