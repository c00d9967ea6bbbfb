"""The home page at ``/``: what this ledger is, its log, the passports issued, the companies.

Server-rendered with Jinja2 from ``api/templates/home/``, extending the public pages' layout in
``passports/templates/``, in Italian or English; mobile first, no script, no web font, nothing
fetched from another host. It shows public data only: the log's origin and size, each
passport's product name, issuer and Digital Link path (what its QR code already prints), and
the companies that signed a maturity self-assessment. The route gathers them
(``api.routes.home``); every value is escaped by Jinja2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from jinja2 import Environment

from passports.page import LANGUAGES, Lang, by_language, layout_environment

# Each phrase in Italian and English, side by side; {placeholders} are filled in the template.
STRINGS: Final[Mapping[Lang, Mapping[str, str]]] = by_language(
    {
        "language_name": ("Italiano", "English"),
        "site": ("registro di tracciabilità", "traceability ledger"),
        "skip": ("Vai al contenuto", "Skip to content"),
        "languages": ("Lingue", "Languages"),
        "title": (
            "Un registro verificabile per la filiera della moda",
            "A verifiable ledger for the fashion supply chain",
        ),
        "intro": (
            "Ogni laboratorio della filiera firma ciò che ha fatto (un lotto di materiale, una "
            "lavorazione, una consegna) e il registro aggiunge questi eventi firmati a un log "
            "in sola aggiunta che chiunque può verificare. Dal log nascono i passaporti "
            "digitali dei prodotti e i punteggi di circolarità e di maturità delle aziende.",
            "Every workshop in the supply chain signs what it did (a lot of material, a process, "
            "a handover) and the ledger appends those signed events to an append-only log "
            "anyone can verify. From the log come the products' digital passports and the "
            "companies' circularity and maturity scores.",
        ),
        "log": ("Il log", "The log"),
        "origin": ("Origine", "Origin"),
        "tree_size": ("Voci nel log", "Entries in the log"),
        "checkpoint": ("Ultimo checkpoint firmato", "Latest signed checkpoint"),
        "log_key": ("Chiave pubblica del log", "The log's public key"),
        "offline": (
            "Un revisore lo verifica offline, con la sola chiave pubblica:",
            "An auditor verifies it offline, with nothing but the public key:",
        ),
        "passports": ("Passaporti emessi", "Passports issued"),
        "count": ("{n} in tutto", "{n} in all"),
        "first_shown": (
            "Qui i primi {shown}; l'elenco completo:",
            "The first {shown} here; the full list:",
        ),
        "no_passports": (
            "Nessun passaporto è stato ancora emesso su questo registro.",
            "No passport has been issued on this ledger yet.",
        ),
        "companies": ("Maturità delle aziende", "Company maturity"),
        "companies_intro": (
            "Aziende che hanno firmato un'autovalutazione: livelli, prove dal registro e "
            "prossimi passi.",
            "Companies that signed a self-assessment: levels, ledger evidence and next steps.",
        ),
        "assessed_on": ("autovalutazione del {date}", "self-assessment of {date}"),
        "no_companies": (
            "Nessuna azienda ha ancora firmato un'autovalutazione.",
            "No company has signed a self-assessment yet.",
        ),
        "explore": ("Da esplorare", "Explore"),
        "directory": ("Elenco fornitori", "Supplier directory"),
        "directory_note": (
            "laboratori e fornitori, con ciò che il registro dimostra",
            "workshops and suppliers, with what the ledger proves",
        ),
        "api_docs": ("Documentazione dell'API", "API documentation"),
        "api_note": ("OpenAPI, interattiva", "OpenAPI, interactive"),
    }
)


@dataclass(frozen=True)
class ListedPassport:
    """One passport on the page: its product, its issuer and its consumer page."""

    product: str
    issuer: str
    path: str  # the subject's Digital Link path as a URI carries it: the page's address here


@dataclass(frozen=True)
class AssessedCompany:
    """A company with a signed maturity self-assessment, and its company page."""

    name: str
    slug: str
    assessed_on: str  # the latest assessment's date, YYYY-MM-DD


@dataclass(frozen=True)
class Home:
    """What the home page shows: public facts only."""

    origin: str
    tree_size: int
    passports: Sequence[ListedPassport]  # the first ones, in subject order
    passports_total: int  # all the passports of the ledger
    companies: Sequence[AssessedCompany]


@cache
def _environment() -> Environment:
    return layout_environment("api", "templates/home")


def render_home(home: Home, lang: Lang) -> str:
    """The home page in ``lang``."""
    values: dict[str, Any] = {
        "lang": lang,
        "t": STRINGS[lang],
        "languages": [(code, STRINGS[code]["language_name"]) for code in LANGUAGES],
        "home": home,
    }
    return _environment().get_template("home.html").render(**values)
