"""The page a browser is refused with where none of the service's pages says it.

The home, directory, company and passport pages word their own refusals (``api.directory_page``,
``passports.page``). Elsewhere (an API operation, a mistyped address such as ``/pasports/…``) a
browser was answered with the API's JSON problem for three refusals made before any route
runs, which this module words as a small page in the reader's language instead:
- no route answers the address (404), quoted as typed;
- the method is not one the address serves (405), naming the methods it serves;
- the request's headers are over the limit the service reads (431, ``api.limits``), usually a
  browser's cookies.
Each page says the status and the reason and leads back to the home page. Only a client whose
``Accept`` names HTML and prefers it (``asks_for_html``) is a browser here: one that names no
format (``*/*``, no header at all) is a program, which keeps the problem, as does a client
asking for JSON. Either answer then varies with ``Accept`` (``PAGE_HEADERS``,
``PROBLEM_VARY``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from jinja2 import Environment
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import Scope

from api.escapes import printable
from api.passport_http import PAGE_POLICY, negotiate
from passports.page import LANGUAGES, Lang, by_language, layout_environment

STRINGS: Final[Mapping[Lang, Mapping[str, str]]] = by_language(
    {
        "language_name": ("Italiano", "English"),
        "site": ("registro di tracciabilità", "traceability ledger"),
        "skip": ("Vai al contenuto", "Skip to content"),
        "languages": ("Lingue", "Languages"),
        "status": ("Errore {status}", "Error {status}"),
        "quoted": ("«{value}»", "“{value}”"),
        "no_page_title": ("Pagina non trovata", "Page not found"),
        "no_page": (
            "Non c'è alcuna pagina all'indirizzo {path}: controlla l'indirizzo.",
            "There is no page at {path}: check the address.",
        ),
        "method_title": ("Metodo non consentito", "Method not allowed"),
        "method": (
            "L'indirizzo {path} non accetta una richiesta {method}: accetta soltanto {allowed}.",
            "The address {path} does not take a {method} request: it takes {allowed} only.",
        ),
        "headers_title": (
            "Intestazioni della richiesta troppo grandi",
            "Request headers too large",
        ),
        "headers": (
            "Il browser ha inviato {size} byte di intestazioni, oltre il limite di {limit} byte "
            "che questo servizio legge: di solito sono i cookie. Cancella i cookie di questo "
            "sito e riprova.",
            "Your browser sent {size} bytes of request headers, over the limit of {limit} bytes "
            "this service reads: usually its cookies. Delete this site's cookies and try again.",
        ),
        "home": ("Vai alla pagina iniziale", "Go to the home page"),
    }
)
# Characters of an address, and of a method, that a page quotes (as the directory's pages).
MAX_PATH_SHOWN: Final = 300
MAX_METHOD_SHOWN: Final = 20
# The page changes with Accept and the language, and is never kept by a shared cache; it runs
# no script and fetches nothing (as the passport page, ``PAGE_POLICY``).
PAGE_HEADERS: Final = {
    "Vary": "Accept, Accept-Language",
    "Cache-Control": "private, no-cache",
    "Content-Security-Policy": PAGE_POLICY,
}
# The problem a program keeps at the same address: a browser gets the page there.
PROBLEM_VARY: Final = {"Vary": "Accept"}
_HTML: Final = ("text/html", "application/xhtml+xml")
_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def asks_for_html(request: Request) -> bool:
    """Whether ``request``'s Accept names HTML (with a q above 0) and prefers it to JSON
    (``negotiate``): a browser opening an address, not a program naming no format."""
    if negotiate(request) != "html":
        return False
    for part in request.headers.get("accept", "").split(",")[:32]:
        media, _, params = part.partition(";")
        if media.strip().lower() in _HTML and not _refused(params):
            return True
    return False


def _refused(params: str) -> bool:
    # ``q=0`` (or 0.0, 0.000) refuses a media range (RFC 9110 §12.4.2).
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            return value.strip().rstrip("0").rstrip(".") in ("", "0")
    return False


def methods_served(scope: Scope) -> list[str]:
    """The methods some route of the app serves at ``scope``'s path, as a 405's ``Allow``
    names them (``api.problems.allowed_methods``): HEAD wherever GET is (``api.head``)."""
    routes = scope["app"].router.routes
    served = {
        method
        for method in _METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in routes)
    }
    if "GET" in served:
        served.add("HEAD")
    return [method for method in _METHODS if method in served]


@cache
def _environment() -> Environment:
    return layout_environment("api", "templates/refused")


def _quoted(text: str, lang: Lang) -> Markup:
    # As typed, in a <bdi>, what prints nothing shown as its escape: it can neither hide nor
    # reorder the sentence around it.
    isolated = Markup("<bdi>{}</bdi>").format(printable(text))
    return escape(STRINGS[lang]["quoted"]).format(value=isolated)


def _render(lang: Lang, status: int, heading: str, said: Markup) -> str:
    t = STRINGS[lang]
    values: dict[str, Any] = {
        "lang": lang,
        "t": t,
        "languages": [(code, STRINGS[code]["language_name"]) for code in LANGUAGES],
        "heading": heading,
        "status": t["status"].format(status=status),
        "said": said,
    }
    return _environment().get_template("refused.html").render(**values)


def render_no_route(path: str, lang: Lang) -> str:
    """404: no route answers ``path``, quoted as typed (cut to ``MAX_PATH_SHOWN``)."""
    t = STRINGS[lang]
    said = escape(t["no_page"]).format(path=_quoted(path[:MAX_PATH_SHOWN], lang))
    return _render(lang, 404, t["no_page_title"], said)


def render_method(method: str, path: str, allowed: list[str], lang: Lang) -> str:
    """405: ``path`` does not take ``method``; it takes the ``allowed`` methods."""
    t = STRINGS[lang]
    said = escape(t["method"]).format(
        path=_quoted(path[:MAX_PATH_SHOWN], lang),
        method=_quoted(method[:MAX_METHOD_SHOWN], lang),
        allowed=", ".join(allowed),
    )
    return _render(lang, 405, t["method_title"], said)


def render_headers_too_large(size: int, limit: int, lang: Lang) -> str:
    """431: the request's headers are ``size`` bytes, over the ``limit`` the service reads."""
    t = STRINGS[lang]
    said = escape(t["headers"]).format(size=size, limit=limit)
    return _render(lang, 431, t["headers_title"], said)
