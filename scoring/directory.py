"""Supplier directory: filter, rank and find local alternatives, from facts already gathered.

This module owns the arithmetic of the directory: the distance from a point to an actor's
nearest facility (``ledger.geo.great_circle_km``), which candidates match a search
(process, material, certificate valid on the day, region, radius), the ranking score, and, for
a product's journey, which steps were done far from the brand and which certified actors near
the brand offer the same process. Facts in, values out: where the candidates come from (the
ledger's profiles and applied events) is ``ledger.store.directory``'s business.

Ranking (docs/directory.md): ``record`` is the mean of the evidence for the wanted process (1
performed in applied events, 0.5 declared only; without a process filter, the share of declared
processes performed) and of the public figures among acceptance share, certified share and
``min(partners, 5) / 5``; with ``near``, ``score = (proximity + record) / 2`` where
``proximity = 1 - km / radius_km``, else ``score = record``. Ties go to the nearer, then to the
actor id. A figure the actor keeps private does not count, so the order leaks nothing of it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

from ledger.geo import format_km
from ledger.profiles import LIFECYCLE_PROCESSES, Candidate, Place
from scoring.transport import ITALY, LOMBARDY

PLACES: Final = Decimal("0.1")
SCORE_PLACES: Final = Decimal("0.0001")
PARTNERS_FOR_FULL_MARKS: Final = 5
ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)
HALF: Final = Decimal("0.5")


@dataclass(frozen=True)
class Search:
    on: date
    process: str | None = None
    material: str | None = None
    certificate: str | None = None
    near: Place | None = None
    radius_km: Decimal = Decimal(100)
    region: str | None = None


@dataclass(frozen=True)
class Match:
    candidate: Candidate
    score: Decimal
    place: Place | None  # the nearest facility, with ``near``
    distance_km: Decimal | None


def region_key(text: str | None) -> str:
    """A region name as compared: accents dropped, case folded, spaces collapsed, so that
    "Vallée d'Aoste", "VALLEE D'AOSTE" and its decomposed (NFD) spelling are the same."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def same_region(wanted: str, region: str | None) -> bool:
    """Whether ``region`` is the region ``wanted`` (Lombardy, Lombardia and IT-25 are one)."""
    a, b = region_key(wanted), region_key(region)
    return bool(a) and (a == b or (a in LOMBARDY and b in LOMBARDY))


def _matches(c: Candidate, query: Search) -> bool:
    if query.process is not None and c.offer(query.process) is None:
        return False
    if query.material is not None and all(m.id != query.material for m in c.materials):
        return False
    if query.certificate is not None and not c.certified_on(query.on, query.certificate):
        return False
    if query.region is not None:
        regions = [c.region, *(p.region for p in c.places)]
        return any(same_region(query.region, r) for r in regions)
    return True


def evidence(c: Candidate, process: str | None) -> Decimal:
    """1 if ``process`` was performed, 0.5 if only declared; without one, the share verified."""
    if process is not None:
        offer = c.offer(process)
        return ZERO if offer is None else ONE if offer.verified else HALF
    declared = [o for o in c.processes if o.declared]
    if not declared:
        return ZERO
    return Decimal(sum(1 for o in declared if o.verified)) / Decimal(len(declared))


def record_score(c: Candidate, process: str | None) -> Decimal:
    parts = [evidence(c, process)]
    for share in ("acceptance", "certified"):
        if share in c.record:
            parts.append(c.record[share])
    if "partners" in c.record:
        parts.append(min(c.record["partners"], Decimal(PARTNERS_FOR_FULL_MARKS)) / 5)
    return sum(parts, ZERO) / Decimal(len(parts))


def search(candidates: Iterable[Candidate], query: Search) -> list[Match]:
    """The candidates matching ``query``, best first (see the module's ranking formula)."""
    found: list[Match] = []
    for c in candidates:
        if not _matches(c, query):
            continue
        record = record_score(c, query.process)
        place: Place | None = None
        km: Decimal | None = None
        score = record
        if query.near is not None:
            nearest = c.nearest(query.near)
            if nearest is None or nearest[1] > query.radius_km:
                continue
            place, km = nearest
            score = (ONE - km / query.radius_km + record) / 2
        found.append(Match(c, score.quantize(SCORE_PLACES), place, km))
    found.sort(key=lambda m: (-m.score, m.distance_km or ZERO, m.candidate.actor))
    return found


# -- local alternatives for a product's far-away steps ------------------------------------------


@dataclass(frozen=True)
class JourneyStep:
    """A step of a passport's journey done at ``place``: the processes it stands for."""

    index: int
    kind: str
    what: str
    processes: tuple[str, ...]
    place: Place
    actor: str | None = None  # who did it


@dataclass(frozen=True)
class Alternative:
    match: Match
    saved_km: Decimal  # the step's distance from the brand minus the alternative's


@dataclass(frozen=True)
class FarStep:
    step: JourneyStep
    distance_km: Decimal  # from the brand
    abroad: bool
    alternatives: tuple[Alternative, ...]


def journey_steps(journey: Sequence[Mapping[str, Any]]) -> list[JourneyStep]:
    """The steps of a passport journey that stand for a catalogue process, with their place."""
    steps = []
    for row in journey:
        at = row.get("at")
        if not isinstance(at, Mapping) or not at.get("lat") or not at.get("lon"):
            continue
        if row.get("kind") == "process" and row.get("process"):
            processes: tuple[str, ...] = (str(row["process"]),)
        elif row.get("kind") in ("recycling", "lifecycle"):
            processes = LIFECYCLE_PROCESSES.get(str(row.get("what")), ())
        else:
            continue
        if processes:
            place = Place(Decimal(at["lat"]), Decimal(at["lon"]), at.get("facility"),
                          at.get("town"), at.get("region"), at.get("country"))  # fmt: skip
            steps.append(JourneyStep(int(row["index"]), str(row["kind"]), str(row["what"]),
                                     processes, place, at.get("actor")))  # fmt: skip
    return steps


def local_alternatives(
    steps: Iterable[JourneyStep],
    home: Place,
    candidates: Sequence[Candidate],
    *,
    on: date,
    max_km: Decimal,
    radius_km: Decimal,
) -> list[FarStep]:
    """For each step over ``max_km`` from ``home`` (or outside Italy): certified candidates
    within ``radius_km`` of ``home`` offering one of its processes, with the distance saved.

    The actor that did the step, and any candidate no nearer to ``home`` than the step, are
    left out: an alternative always brings the step closer.
    """
    far = []
    for step in steps:
        km = home.km_to(step.place)
        abroad = (step.place.country or ITALY).upper() != ITALY
        if km <= max_km and not abroad:
            continue
        best: dict[str, Match] = {}
        for process in step.processes:
            query = Search(on=on, process=process, near=home, radius_km=radius_km)
            for match in search([c for c in candidates if c.certified_on(on)], query):
                closer = match.distance_km is not None and match.distance_km < km
                if match.candidate.actor == step.actor or not closer:
                    continue
                kept = best.get(match.candidate.actor)
                if kept is None or match.score > kept.score:
                    best[match.candidate.actor] = match
        ranked = sorted(best.values(), key=lambda m: (-m.score, m.distance_km or ZERO))
        alternatives = tuple(Alternative(m, km - (m.distance_km or ZERO)) for m in ranked)
        far.append(FarStep(step, km, abroad, alternatives))
    return far


def km(value: Decimal) -> str:
    """A distance as shown: km to one decimal place."""
    return format_km(value)
