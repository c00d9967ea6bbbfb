"""``GET /`` (and HEAD): the home page a newcomer opens after ``make run``.

It reads only what the public routes already answer: the tree size and origin (as
``/healthz``), the first passports in subject order (``store.passports``, the read behind
``/v1/passports``: product name, issuer, subject; no passport document is built, so no
restricted field is ever at hand) and how many there are (``store.passport_count``, one
read), the actors' names (``/v1/actors``) and, for each actor, its
maturity assessments (``store.latest_assessments``, one indexed read an actor): an
actor that signed one has a company page worth linking to. The page itself is
``api.home_page``'s. It is a page for people, left out of the OpenAPI document like the company
page; another method is a 405 page for a browser, the problem for a program
(``api.limits.page_refusal``). A ``lang`` over ``MAX_LANG`` characters is
refused on a page in the language Accept-Language asks for, as the other pages refuse theirs
(``api.directory_page.refusal_answer``: a client asking for JSON gets the problem); one given
twice is not read.
"""

from __future__ import annotations

import re
import threading
from functools import partial
from typing import Final

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.deps import StoreDep
from api.directory_page import Refused, page_language, refusal_answer, render_home_refused
from api.home_page import AssessedCompany, Home, ListedPassport, render_home
from api.passport_http import public_uri
from api.problems import problem
from ledger.registry import ActorRecord
from ledger.store.ledger import LedgerStore

router = APIRouter(tags=["pages"])

SHOWN_PASSPORTS: Final = 50
# Actors whose latest assessment is looked up, in registration order (one indexed read each).
SCANNED_ACTORS: Final = 200
ACTOR_PAGE: Final = 100
# The company page's address: /companies/{slug} for urn:spola:actor:{slug}.
_SLUG: Final = re.compile(r"urn:spola:actor:([a-z0-9][a-z0-9-]{0,62})")
# Characters of ``lang``: checked by the page, which refuses on a page (FastAPI's refusal is JSON).
MAX_LANG: Final = 100


def _actors(store: LedgerStore) -> list[ActorRecord]:
    found: list[ActorRecord] = []
    while len(found) < SCANNED_ACTORS:
        page = store.actors(offset=len(found), limit=ACTOR_PAGE)
        found += page
        if len(page) < ACTOR_PAGE:
            break
    return found[:SCANNED_ACTORS]


def _assessed(store: LedgerStore, actors: list[ActorRecord]) -> list[AssessedCompany]:
    slugs = {a.id: found.group(1) for a in actors if (found := _SLUG.fullmatch(a.id))}
    latest = store.latest_assessments(list(slugs))
    # A company that keeps its maturity to itself is not listed: its page answers 404.
    shown = store.public_figures([a for a in slugs if a in latest])
    return [
        AssessedCompany(actor.name, slugs[actor.id], assessment.date)
        for actor in actors
        if (assessment := latest.get(actor.id)) is not None and "maturity" in shown[actor.id]
    ]


def home_facts(store: LedgerStore) -> Home:
    """The public facts the home page shows, read from ``store``."""
    # The size first: an entry appended while the rest is read makes the log larger than the
    # facts' size, so the next request reads them again instead of keeping them without it.
    # The size the reads see: with a read replica trailing the primary, the primary's size
    # would label older facts as current until the next append.
    tree_size = store.read_tree_size()
    rows = store.passports(after=None, limit=SHOWN_PASSPORTS)
    actors = _actors(store)
    names = {actor.id: actor.name for actor in actors}
    listed = [
        ListedPassport(row.product, names.get(row.issuer, row.issuer), public_uri("", row.subject))
        for row in rows
    ]
    return Home(
        origin=store.origin,
        tree_size=tree_size,
        passports=listed,
        passports_total=store.passport_count(),
        companies=_assessed(store, actors),
    )


class _Latest:
    """The home facts of the latest tree size, one per app (``app.state.home``): computing
    them takes up to a few hundred reads (one for each of ``SCANNED_ACTORS`` actors), so a
    public page must not redo that for every request. The facts change only when the log grows
    (every passport, actor and assessment is an entry), so the tree size, one cheap read, is
    the key; the lock makes concurrent requests wait for one computation, not run their own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: Home | None = None

    def get(self, store: LedgerStore) -> Home:
        with self._lock:
            if self._held is None or self._held.tree_size != store.read_tree_size():
                self._held = home_facts(store)
            return self._held


_CREATING = threading.Lock()


def _latest(app: FastAPI) -> _Latest:
    with _CREATING:
        if not hasattr(app.state, "home"):
            app.state.home = _Latest()
        latest: _Latest = app.state.home
        return latest


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home_page(request: Request, store: StoreDep, lang: str | None = None) -> Response:
    language, too_long = page_language(request, lang, MAX_LANG)
    if too_long:
        refused = Refused("lang", "too_long", limit=str(MAX_LANG))
        detail = f"lang: at most {MAX_LANG} characters"
        page = partial(render_home_refused, refused, language)
        said = problem(400, "bad-request", "Bad request", detail)
        return refusal_answer(request, 400, page, said)
    home = await run_in_threadpool(_latest(request.app).get, store)
    html = render_home(home, language)
    return HTMLResponse(html, headers={"Vary": "Accept-Language", "Cache-Control": "no-cache"})
