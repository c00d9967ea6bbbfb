"""The directory's pure part: distances, filters, ranking, local alternatives, the profile event."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import pytest

from ledger.canonical import canonical_bytes
from ledger.directory_event import DEFAULT_PUBLIC, ProfileEvent
from ledger.errors import FormatError
from ledger.events import parse_event
from ledger.profiles import Candidate, HeldCertificate, Offer, Place
from scoring.directory import (
    Search,
    evidence,
    journey_steps,
    local_alternatives,
    record_score,
    search,
)

MILAN = Place(Decimal("45.4642"), Decimal("9.19"), town="Milano", region="Lombardia", country="IT")
COMO = Place(Decimal("45.8081"), Decimal("9.0852"), town="Como", region="Lombardia", country="IT")
GRANDATE = Place(Decimal("45.7712"), Decimal("9.0585"), town="Grandate", region="Lombardia")
SEREGNO = Place(Decimal("45.6510"), Decimal("9.2044"), town="Seregno", region="Lombardia")
PRATO = Place(Decimal("43.8808"), Decimal("11.0966"), town="Prato", region="Toscana", country="IT")
BIELLA = Place(Decimal("45.5629"), Decimal("8.0583"), town="Biella", region="Piemonte")
TODAY = date(2026, 11, 26)
GOTS = HeldCertificate("GOTS", "G-1", "ICEA", date(2026, 1, 1), date(2026, 12, 31), (7,))
EXPIRED = HeldCertificate("GOTS", "G-0", "ICEA", date(2025, 1, 1), date(2025, 12, 31))


def cosine_law_km(a: Place, b: Place) -> float:
    """A second formula for the same sphere: the spherical law of cosines."""
    p1, l1, p2, l2 = (math.radians(float(x)) for x in (a.lat, a.lon, b.lat, b.lon))
    cos = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(l2 - l1)
    return 6371.0088 * math.acos(cos)


def candidate(
    slug: str,
    place: Place,
    *,
    processes: tuple[Offer, ...] = (),
    certificates: tuple[HeldCertificate, ...] = (GOTS,),
    record: dict[str, Decimal] | None = None,
) -> Candidate:
    return Candidate(
        actor=f"urn:spola:actor:{slug}",
        name=slug,
        country="IT",
        region=place.region,
        places=(place,),
        processes=processes,
        materials=(Offer("silk-mulberry-organic", True, (3,)),),
        certificates=certificates,
        record=record or {},
    )


DYED = Offer("dyeing", True, (11, 12))
DECLARED = Offer("dyeing", True)


@pytest.mark.parametrize(
    ("other", "km"),
    [(COMO, "39.1"), (PRATO, "231.8"), (GRANDATE, "35.6"), (SEREGNO, "20.8"), (BIELLA, "88.9")],
)
def test_distances_from_milan_match_a_hand_computation(other: Place, km: str) -> None:
    got = MILAN.km_to(other)
    assert abs(float(got) - cosine_law_km(MILAN, other)) < 1e-6
    assert got.quantize(Decimal("0.1")) == Decimal(km)


def test_radius_keeps_exactly_the_candidates_within_it() -> None:
    found = [candidate("como", COMO), candidate("prato", PRATO), candidate("seregno", SEREGNO)]
    within_40 = search(found, Search(on=TODAY, near=MILAN, radius_km=Decimal(40)))
    assert [m.candidate.name for m in within_40] == ["seregno", "como"]
    within_39 = search(found, Search(on=TODAY, near=MILAN, radius_km=Decimal("39.09")))
    assert [m.candidate.name for m in within_39] == ["seregno"]  # Como is 39.098 km away
    assert within_40[1].distance_km == MILAN.km_to(COMO)


def test_a_performed_process_ranks_above_a_declared_one_at_the_same_distance() -> None:
    proven = candidate("proven", COMO, processes=(DYED,))
    claimed = candidate("claimed", COMO, processes=(DECLARED,))
    ranked = search([claimed, proven], Search(on=TODAY, process="dyeing", near=MILAN))
    assert [m.candidate.name for m in ranked] == ["proven", "claimed"]
    assert evidence(proven, "dyeing") == 1 and evidence(claimed, "dyeing") == Decimal("0.5")


def test_ranking_formula_combines_proximity_and_record() -> None:
    c = candidate("c", COMO, processes=(DYED,), record={"acceptance": Decimal("0.5")})
    (match,) = search([c], Search(on=TODAY, process="dyeing", near=MILAN, radius_km=Decimal(100)))
    proximity = 1 - MILAN.km_to(COMO) / 100
    record = (Decimal(1) + Decimal("0.5")) / 2
    assert record_score(c, "dyeing") == record
    assert match.score == ((proximity + record) / 2).quantize(Decimal("0.0001"))


def test_filters_on_process_material_certificate_and_region() -> None:
    dyer = candidate("dyer", GRANDATE, processes=(DYED,))
    lapsed = candidate("lapsed", COMO, processes=(DYED,), certificates=(EXPIRED,))
    far = candidate("far", PRATO, processes=(DYED,))
    every = [dyer, lapsed, far]
    gots = search(every, Search(on=TODAY, process="dyeing", certificate="gots"))
    assert {m.candidate.name for m in gots} == {"dyer", "far"}  # an expired certificate is not held
    assert search(every, Search(on=TODAY, process="weaving")) == []
    assert search(every, Search(on=TODAY, material="wool-merino")) == []
    lombardy = search(every, Search(on=TODAY, region="Lombardy"))
    assert {m.candidate.name for m in lombardy} == {"dyer", "lapsed"}


def test_hidden_figures_do_not_count_in_the_ranking() -> None:
    shown = candidate("shown", COMO, processes=(DYED,), record={"acceptance": Decimal(0)})
    hidden = candidate("hidden", COMO, processes=(DYED,))
    assert record_score(hidden, "dyeing") == 1  # only the evidence counts
    assert record_score(shown, "dyeing") == Decimal("0.5")


JOURNEY = [
    {"index": 5, "kind": "origin", "what": "silk", "at": {"lat": "43.8808", "lon": "11.0966"}},
    {"index": 9, "kind": "process", "what": "Dyeing", "process": "dyeing",
     "at": {"actor": "urn:spola:actor:prato-dyer", "lat": "43.8808", "lon": "11.0966",
            "town": "Prato", "country": "IT"}},
    {"index": 10, "kind": "process", "what": "Sewing", "process": "sewing",
     "at": {"lat": "45.4719", "lon": "9.1881", "town": "Milano", "country": "IT"}},
    {"index": 12, "kind": "lifecycle", "what": "recycling",
     "at": {"lat": "41.1", "lon": "1.2", "town": "Reus", "country": "ES"}},
    {"index": 13, "kind": "transport", "what": "road transport", "from": {}, "to": {}},
]  # fmt: skip


def test_journey_steps_keep_the_steps_that_stand_for_a_process() -> None:
    steps = journey_steps(JOURNEY)
    assert [(s.index, s.processes) for s in steps] == [
        (9, ("dyeing",)),
        (10, ("sewing",)),
        (12, ("mechanical-recycling", "chemical-recycling")),
    ]


def test_local_alternatives_for_far_and_foreign_steps_with_the_distance_saved() -> None:
    dyer = candidate("grandate", GRANDATE, processes=(DYED,))
    uncertified = candidate("bare", SEREGNO, processes=(DYED,), certificates=())
    recycler = candidate("seregno", SEREGNO, processes=(Offer("mechanical-recycling", True),))
    far = local_alternatives(
        journey_steps(JOURNEY), MILAN, [dyer, uncertified, recycler],
        on=TODAY, max_km=Decimal(100), radius_km=Decimal(60),
    )  # fmt: skip
    assert [(f.step.index, f.abroad) for f in far] == [(9, False), (12, True)]
    (alternative,) = far[0].alternatives  # the uncertified dyer is left out
    assert alternative.match.candidate.name == "grandate"
    assert alternative.saved_km == MILAN.km_to(PRATO) - MILAN.km_to(GRANDATE)
    assert [a.match.candidate.name for a in far[1].alternatives] == ["seregno"]


def test_the_step_s_own_actor_is_no_alternative() -> None:
    prato = candidate("prato-dyer", PRATO, processes=(DYED,))
    far = local_alternatives(
        journey_steps(JOURNEY), MILAN, [prato], on=TODAY, max_km=Decimal(100),
        radius_km=Decimal(2000),
    )  # fmt: skip
    assert far[0].alternatives == ()


PROFILE = {
    "v": 1, "type": "profile", "actor": "urn:spola:actor:stamperia-grandate", "seq": 3,
    "prev": "a" * 64, "time": "2026-11-25T09:00:00Z", "processes": ["printing", "dyeing"],
    "materials": ["silk-mulberry-organic"], "contact": "Grandate (CO)",
    "certificates": [{"scheme": "GOTS", "id": "G-1", "issuer": "ICEA",
                      "valid_from": "2026-11-03", "valid_until": "2027-11-02"}],
}  # fmt: skip


def test_a_profile_hides_volumes_unless_the_actor_publishes_them() -> None:
    event = parse_event(canonical_bytes(PROFILE))
    assert isinstance(event, ProfileEvent)
    assert "volumes" not in event.public_figures
    assert tuple(event.public_figures) == DEFAULT_PUBLIC


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"processes": ["dyeing", "dyeing"]}, "processes"),
        ({"public_figures": ["turnover"]}, "public_figures"),
        ({"processes": ["Dyeing!"]}, "processes"),
    ],
)
def test_a_malformed_profile_is_refused_naming_the_field(
    change: dict[str, object], field: str
) -> None:
    with pytest.raises(FormatError, match=field):
        parse_event(canonical_bytes(PROFILE | change))
