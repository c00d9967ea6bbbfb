"""The supplier directory: search, profiles, local alternatives for a product, and its pages.

``GET /v1/directory`` filters and ranks actors (``scoring.directory``) from their profiles and
track records (``ledger.store.directory``); ``GET /v1/directory/{actor}`` is one profile;
``GET /v1/items/{item}/local-alternatives`` lists, for each step of the item's passport journey
done far from the brand, certified actors near the brand offering the same process; ``GET
/directory`` and ``GET /directory/{actor}`` are the same answers as HTML pages.

Access: the public sees the figures each actor made public; a brand token sees every figure of
its own actor; the operator sees all. A hidden figure is left out of the answer entirely and
does not count in the ranking. Query parameters are checked by ``api.directory_query``,
which refuses a bad one with a 400 ``bad-request`` problem naming it (``Refusal``); the pages
say the same refusal in their reader's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.auth import ViewerDep
from api.deps import StoreDep
from api.directory_page import (
    Refused,
    page_language,
    refusal_answer,
    render_directory,
    render_profile,
    render_profile_refused,
    render_profile_unknown,
)
from api.directory_query import (
    DEFAULT_LOCAL_RADIUS_KM,
    DEFAULT_MAX_KM,
    MAX_ACTOR_ID,
    MAX_FILTER_TEXT,
    ActorPath,
    Filters,
    Refusal,
    Text,
    day_of,
    km_parameter,
    once_each,
    overlong,
    refuse,
)
from api.passport_http import subject_of
from api.problems import BadRequest, ledger_problem, problem
from api.routes.maturity import maturity_document
from ledger.errors import FormatError, NotFoundError
from ledger.events import ActorEvent
from ledger.profiles import Candidate, HeldCertificate, Offer, Place
from ledger.store.directory import Profile, place_of
from ledger.store.ledger import LedgerStore
from ledger.store.tokens import Viewer
from ledger.store.track_figures import Figure
from passports.build import build_passport
from scoring.directory import (
    FarStep,
    Match,
    Search,
    journey_steps,
    km,
    local_alternatives,
    same_region,
    search,
)

# What others use: the router, and what the CLI (``spola.directory``) reads the directory with.
__all__ = ["full_profile", "profile_json", "router", "run_search"]

router = APIRouter(tags=["directory"])

MAX_MATCHES: Final = 200


def sees_all(viewer: Viewer, actor: str) -> bool:
    return viewer.may_see_restricted(actor)


def _offer(o: Offer) -> dict[str, Any]:
    return {"id": o.id, "declared": o.declared, "verified": o.verified,
            "status": "verified" if o.verified else "declared, not yet evidenced",
            "entries": list(o.entries[:50])}  # fmt: skip


def _certificate(c: HeldCertificate, on: date) -> dict[str, Any]:
    return {"scheme": c.scheme, "id": c.id, "issuer": c.issuer,
            "valid_from": c.valid_from.isoformat(), "valid_until": c.valid_until.isoformat(),
            "valid": c.valid_on(on), "evidenced": bool(c.entries),
            "entries": list(c.entries[:50])}  # fmt: skip


def profile_json(p: Profile, viewer: Viewer) -> dict[str, Any]:
    """The profile as ``viewer`` may see it: hidden figures are left out, not blanked."""
    every = sees_all(viewer, p.actor.id)
    shown = p.visible(all_figures=every)
    figures = {
        name: (None if figure is None else figure.to_json())
        for name, figure in p.figures.items()
        if name in shown
    }
    declared = p.declared
    return {
        "actor": p.actor.id, "name": p.actor.name, "roles": list(p.actor.roles),
        "country": p.actor.country, "region": p.actor.region,
        "facilities": [f.model_dump(exclude_none=True) for f in p.actor.facilities],
        "profile_index": None if declared is None else declared[0],
        "contact": None if declared is None else declared[1].contact,
        "processes": [_offer(o) for o in p.processes],
        "materials": [_offer(o) for o in p.materials],
        "certificates": [_certificate(c, p.window[1]) for c in p.certificates],
        "track_record": {"from": p.window[0].isoformat(), "to": p.window[1].isoformat(),
                         "public_figures": list(p.public_figures),
                         "complete": p.complete(all_figures=every), "figures": figures},
        "notes": {"maturity": "the actor has signed no maturity assessment"}
        if figures.get("maturity", 0) is None else {},
    }  # fmt: skip


def match_json(
    m: Match, on: date, process: str | None, whole: Mapping[str, bool]
) -> dict[str, Any]:
    """A match as the search lists it; ``whole`` says, by actor, whether the figures the viewer
    sees count all the entries of the window (``_as_seen``)."""
    c: Candidate = m.candidate
    place = m.place or (c.places[0] if c.places else None)
    offer = None if process is None else c.offer(process)
    return {
        "actor": c.actor,
        "name": c.name,
        "town": None if place is None else place.town,
        "region": c.region if place is None else place.region,
        "distance_km": None if m.distance_km is None else km(m.distance_km),
        "score": format(m.score, "f"),
        "record_complete": whole[c.actor],
        "process": None if offer is None else _offer(offer),
        "certificates": [_certificate(x, on) for x in c.certified_on(on)],
        "profile": f"/v1/directory/{c.actor}",
    }


def within_reach(near: Place | None, radius_km: Decimal) -> Callable[[ActorEvent], bool] | None:
    """Keeps actors with a facility within ``radius_km`` of ``near`` (all without ``near``)."""
    if near is None:
        return None
    return lambda actor: any(near.km_to(place_of(f)) <= radius_km for f in actor.facilities)


def _registration_allows(query: Search) -> Callable[[ActorEvent], bool] | None:
    """What the registration alone decides (reach, region): actors it drops are never read."""
    reach = within_reach(query.near, query.radius_km)
    region = query.region
    if region is None:
        return reach

    def keep(actor: ActorEvent) -> bool:
        regions = [actor.region, *(f.region for f in actor.facilities)]
        in_region = any(same_region(region, r) for r in regions)
        return in_region and (reach is None or reach(actor))

    return keep


def _as_seen(found: Sequence[Profile], viewer: Viewer) -> tuple[list[Candidate], dict[str, bool]]:
    """The profiles as ``viewer`` may see them: each a candidate ranked on its visible figures,
    and by actor whether those figures are whole (``Profile.complete``, the profile's rule: a
    gap in a hidden figure is not said)."""
    every = {p.actor.id: sees_all(viewer, p.actor.id) for p in found}
    candidates = [p.candidate(all_figures=every[p.actor.id]) for p in found]
    return candidates, {p.actor.id: p.complete(all_figures=every[p.actor.id]) for p in found}


def run_search(store: LedgerStore, filters: Filters, viewer: Viewer) -> dict[str, Any]:
    query = filters.search()
    found = store.directory_profiles(query.on, _registration_allows(query))
    candidates, whole = _as_seen(found, viewer)
    matches = search(candidates, query)
    return {
        "on": query.on.isoformat(),
        "radius_km": None if query.near is None else format(query.radius_km, "f"),
        "complete": found.complete,
        "matched": len(matches),
        "matches": [match_json(m, query.on, query.process, whole) for m in matches[:MAX_MATCHES]],
    }


# The JSON answers change with the viewer's token too: never shared by a cache.
JSON_HEADERS: Final = {"Vary": "Authorization", "Cache-Control": "private, no-cache"}


@router.get("/v1/directory", summary="Search the supplier directory")
async def get_directory(
    request: Request, response: Response, store: StoreDep, viewer: ViewerDep,
    filters: Annotated[Filters, Depends()],
) -> dict[str, Any]:  # fmt: skip
    once_each(request)
    response.headers.update(JSON_HEADERS)
    return await run_in_threadpool(run_search, store, filters, viewer)


def full_profile(store: LedgerStore, actor_id: str, on: date) -> Profile:
    """The profile with its maturity level, when the actor had signed an assessment by ``on``
    (``Profile.assessment``): the latest assessment's level as its company page gives it, an
    earlier one's as it scored when it was logged (the page's history). An earlier one the
    history no longer keeps has no level (null), and its figure is not ``complete``."""
    found = store.directory_profile(actor_id, on)
    if found.assessment is None:
        return found
    index, event = found.assessment
    document = maturity_document(store, actor_id)
    if document["assessment"] is not None and document["assessment"]["index"] == index:
        level = document["overall"]
    else:
        level = next((r["overall"] for r in document["history"] if r["index"] == index), None)
    value = {"level": level, "date": event.date,
             "page": f"/companies/{actor_id.removeprefix('urn:spola:actor:')}"}  # fmt: skip
    figure = Figure(value, (index,), complete=level is not None)
    return replace(found, figures={**found.figures, "maturity": figure})


@router.get("/v1/directory/{actor_id}", summary="An actor's profile and verified track record")
async def get_profile(
    request: Request, response: Response, store: StoreDep, viewer: ViewerDep, *,
    actor_id: ActorPath, on: Text = None,
) -> dict[str, Any]:  # fmt: skip
    once_each(request)
    response.headers.update(JSON_HEADERS)
    found = await run_in_threadpool(full_profile, store, actor_id, day_of(on))
    return profile_json(found, viewer)


def _alternatives(
    store: LedgerStore, subject: str, viewer: Viewer, *, max_km: Decimal, radius_km: Decimal,
    on: date,
) -> dict[str, Any]:  # fmt: skip
    facts = store.passport_facts(subject)
    passport = build_passport(facts)
    brand = facts.actors.get(facts.issue.event.actor)
    if brand is None or not brand.facilities:
        raise FormatError(f"the issuer of {subject} has no facility to measure distances from")
    home = brand.facilities[0]
    origin = Place(Decimal(home.lat), Decimal(home.lon), home.name, home.town, home.region)
    profiles = store.directory_profiles(on, within_reach(origin, radius_km))
    candidates, whole = _as_seen(profiles, viewer)
    steps = journey_steps(passport.document["journey"])
    far = local_alternatives(steps, origin, candidates, on=on, max_km=max_km, radius_km=radius_km)
    return {
        "item": subject, "on": on.isoformat(), "max_km": format(max_km, "f"),
        "radius_km": format(radius_km, "f"),
        "complete": profiles.complete,
        "brand": {"actor": brand.id, "name": brand.name, "facility": home.name,
                  "town": home.town, "lat": home.lat, "lon": home.lon},
        "far_steps": [_far_json(f, on, whole) for f in far],
    }  # fmt: skip


def _far_json(f: FarStep, on: date, whole: Mapping[str, bool]) -> dict[str, Any]:
    s = f.step
    return {
        "step": {"index": s.index, "kind": s.kind, "what": s.what, "processes": list(s.processes),
                 "town": s.place.town, "region": s.place.region, "country": s.place.country},
        "distance_km": km(f.distance_km),
        "abroad": f.abroad,
        "alternatives": [
            match_json(a.match, on, None, whole)
            | {"saved_km": km(a.saved_km),
               "offers": [_offer(o) for o in a.match.candidate.processes if o.id in s.processes]}
            for a in f.alternatives
        ],
    }  # fmt: skip


@router.get(
    "/v1/items/{item_id:path}/local-alternatives",
    summary="Certified actors near the brand for the far-away steps of an item's journey",
)
async def get_local_alternatives(
    request: Request, response: Response, store: StoreDep, viewer: ViewerDep,
    item_id: Annotated[str, Path(max_length=130)], *,
    max_km: Text = None, radius_km: Text = None, on: Text = None,
) -> dict[str, Any]:  # fmt: skip
    once_each(request)
    response.headers.update(JSON_HEADERS)
    try:
        subject = subject_of(item_id)
    except FormatError as exc:
        raise BadRequest(f"item: {exc}") from None
    far = km_parameter("max_km", max_km, DEFAULT_MAX_KM)
    near = km_parameter("radius_km", radius_km, DEFAULT_LOCAL_RADIUS_KM)
    return await run_in_threadpool(
        partial(_alternatives, store, subject, viewer, max_km=far, radius_km=near, on=day_of(on))
    )


# The pages change with the language asked for and with the viewer's token (restricted
# figures): no shared cache may hand one viewer's page to another.
PAGE_HEADERS = {"Vary": "Accept-Language, Authorization", "Cache-Control": "private, no-cache"}


@router.get("/directory", response_class=HTMLResponse, summary="The directory page (HTML)")
async def directory_page(
    request: Request, store: StoreDep, viewer: ViewerDep,
    filters: Annotated[Filters, Depends()], lang: str | None = None,
) -> HTMLResponse:  # fmt: skip
    # ``lang`` is bounded here, not by the query's schema: an overlong one is refused on the
    # page, in the language Accept-Language asks for, like any other filter.
    language, too_long = page_language(request, lang, MAX_FILTER_TEXT)
    error: Refused | None = None
    try:
        once_each(request)
        if too_long:
            raise overlong("lang")
        answer = await run_in_threadpool(run_search, store, filters, viewer)
    except Refusal as exc:
        answer, error = {"matches": []}, exc.refused
    html = render_directory(asdict(filters), answer, error, language, limit=MAX_FILTER_TEXT)
    return HTMLResponse(html, status_code=200 if error is None else 400, headers=PAGE_HEADERS)


def _readable_day(on: str | None) -> str | None:
    """``on`` when the profile page would read it (``day_of``), for the link back from a
    refusal of another parameter; None otherwise, or when there is none."""
    if on is None or len(on) > MAX_FILTER_TEXT:
        return None
    try:
        day_of(on)
    except Refusal:
        return None
    return on


@router.get("/directory/{actor_id}", response_class=HTMLResponse, summary="A profile page (HTML)")
async def profile_page(
    request: Request, store: StoreDep, viewer: ViewerDep, actor_id: str, *,
    lang: str | None = None, on: str | None = None,
) -> Response:  # fmt: skip
    # A refused parameter (``lang`` and ``on`` bounded here, as on the search page) or actor id
    # (bounded here, not by the path: FastAPI's refusal is JSON) is a 400 page and an unknown
    # actor a 404 page, in the reader's language; a client asking for JSON gets the API's
    # problem instead, as from the passport page (``refusal_answer``). ``on`` is read as the
    # JSON profile reads it (``day_of``).
    language, too_long = page_language(request, lang, MAX_FILTER_TEXT)
    try:
        if len(actor_id) > MAX_ACTOR_ID:
            raise refuse("actor_id", "too_long", f"at most {MAX_ACTOR_ID} characters",
                          limit=MAX_ACTOR_ID)  # fmt: skip
        once_each(request)
        if too_long:
            raise overlong("lang")
        if on is not None and len(on) > MAX_FILTER_TEXT:
            raise overlong("on")
        found = await run_in_threadpool(full_profile, store, actor_id, day_of(on))
    except Refusal as exc:
        day = None if exc.refused.name == "on" else _readable_day(on)
        refused = partial(render_profile_refused, actor_id, exc.refused, language, on=day)
        return refusal_answer(
            request, 400, refused, problem(400, "bad-request", "Bad request", exc.detail)
        )
    except NotFoundError as exc:
        unknown = partial(render_profile_unknown, actor_id, language)
        return refusal_answer(request, 404, unknown, ledger_problem(exc))
    html = render_profile(profile_json(found, viewer), language, dated=on is not None)
    return HTMLResponse(html, headers=PAGE_HEADERS)
