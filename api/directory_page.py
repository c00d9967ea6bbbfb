"""The directory's HTML pages: the search form with its matches, and one actor's profile.

Server-rendered with Jinja2 from ``api/templates/directory/``, in Italian or English; mobile
first, no script, no web font, nothing fetched from another host. The pages show exactly the
JSON answers the routes built for the same viewer (hidden figures are already left out);
every value is escaped by Jinja2.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Final
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ledger.catalogue import catalogue
from passports.page import LANGUAGES, Lang

STRINGS: Final[Mapping[Lang, Mapping[str, str]]] = {
    "it": {
        "site": "elenco fornitori", "languages": "Lingue", "directory": "Elenco fornitori",
        "intro": "Laboratori e fornitori con la loro storia firmata: ciò che dichiarano e ciò "
                 "che il registro dimostra.",
        "process": "Lavorazione", "material": "Materiale", "certificate": "Certificazione",
        "region": "Regione", "near": "Vicino a (lat,lon)", "radius": "Raggio (km)",
        "search": "Cerca", "any": "Qualsiasi", "matches": "Risultati",
        "none": "Nessun fornitore corrisponde ai filtri.", "verified": "verificato",
        "unverified": "dichiarato, non ancora dimostrato", "entries": "voci del registro",
        "score": "Punteggio", "facilities": "Sedi", "processes": "Lavorazioni",
        "materials": "Materiali", "certificates": "Certificazioni", "valid": "valido",
        "expired": "non valido oggi", "record": "Storia verificata",
        "figure_volumes": "Volumi", "figure_partners": "Partner distinti",
        "figure_acceptance": "Consegne ricevute e accettate",
        "figure_certified": "Eventi con materiale certificato",
        "figure_distance": "Distanza media delle consegne", "figure_services": "Servizi",
        "figure_maturity": "Livello di maturità",
    },
    "en": {
        "site": "supplier directory", "languages": "Languages", "directory": "Supplier directory",
        "intro": "Workshops and suppliers with their signed history: what they declare and what "
                 "the ledger proves.",
        "process": "Process", "material": "Material", "certificate": "Certificate",
        "region": "Region", "near": "Near (lat,lon)", "radius": "Radius (km)",
        "search": "Search", "any": "Any", "matches": "Matches",
        "none": "No supplier matches these filters.", "verified": "verified",
        "unverified": "declared, not yet evidenced", "entries": "log entries",
        "score": "Score", "facilities": "Facilities", "processes": "Processes",
        "materials": "Materials", "certificates": "Certificates", "valid": "valid",
        "expired": "not valid today", "record": "Verified track record",
        "figure_volumes": "Volumes", "figure_partners": "Distinct partners",
        "figure_acceptance": "Handovers received and accepted",
        "figure_certified": "Events with certified material",
        "figure_distance": "Mean handover distance", "figure_services": "Services",
        "figure_maturity": "Maturity level",
    },
}  # fmt: skip


MISSING: Final = "\u2013"  # an en dash where a figure is missing


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("api", "templates/directory"),
        autoescape=select_autoescape(["html", "css"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


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
