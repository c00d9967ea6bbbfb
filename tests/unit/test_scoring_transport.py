"""Short chain: great-circle distances, legs (t·km, CO2e), the pinned factor set, local shares.

Known answers use the IUGG mean radius R = 6371.0088 km: one degree of arc is
R * pi / 180 = 111.19508023... km, half a great circle R * pi = 20015.11444... km.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import FormatError
from scoring.errors import ScoringInputError
from scoring.transport import (
    FACTORS,
    Step,
    great_circle_km,
    leg,
    load_factors,
    local_shares,
)

D = Decimal
ONE_DEGREE_KM = D("111.19508023353")  # 6371.0088 * pi / 180
MODES = ("road", "rail", "sea", "air", "inland-water", "courier", "on-foot")


def near(value: Decimal, expected: Decimal, within: str = "1e-9") -> bool:
    return abs(value - expected) <= D(within)


def test_one_degree_along_the_equator() -> None:
    assert near(great_circle_km(D(0), D(0), D(0), D(1)), ONE_DEGREE_KM)


def test_one_degree_along_a_meridian_at_milan_longitude() -> None:
    assert near(great_circle_km(D(45), D("9.19"), D(46), D("9.19")), ONE_DEGREE_KM)


def test_antipodes_are_half_a_great_circle_apart() -> None:
    # pi * 6371.0088 = 20015.114442...
    assert near(great_circle_km(D(0), D(0), D(0), D(180)), D("20015.114442036"))
    assert near(great_circle_km(D(90), D(0), D(-90), D(0)), D("20015.114442036"))


def test_same_point_is_zero_km() -> None:
    assert great_circle_km(D("45.4642"), D("9.19"), D("45.4642"), D("9.19")) == 0


def test_milan_to_como_is_about_forty_km() -> None:
    # Milan (45.4642 N, 9.1900 E) to Como (45.8081 N, 9.0852 E): about 39 km as the crow flies.
    km = great_circle_km(D("45.4642"), D("9.1900"), D("45.8081"), D("9.0852"))

    assert D(38) < km < D(40)


COORDINATE = st.decimals(min_value=-90, max_value=90, places=4)
LONGITUDE = st.decimals(min_value=-180, max_value=180, places=4)


@settings(max_examples=200, deadline=None)
@given(COORDINATE, LONGITUDE, COORDINATE, LONGITUDE)
def test_distance_is_symmetric_and_at_most_half_the_circumference(
    lat1: Decimal, lon1: Decimal, lat2: Decimal, lon2: Decimal
) -> None:
    there = great_circle_km(lat1, lon1, lat2, lon2)

    assert near(there, great_circle_km(lat2, lon2, lat1, lon1), "1e-6")
    assert D(0) <= there <= D("20015.1145")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((D(91), D(0), D(0), D(0)), "lat1"),
        ((D(0), D(-181), D(0), D(0)), "lon1"),
        ((D(0), D(0), D("NaN"), D(0)), "lat2"),
        ((D(0), D(0), D(0), D(200)), "lon2"),
    ],
)
def test_coordinates_off_the_globe_are_refused(
    args: tuple[Decimal, Decimal, Decimal, Decimal], field: str
) -> None:
    with pytest.raises(ScoringInputError) as caught:
        great_circle_km(*args)

    assert caught.value.field == field


def test_declared_distance_is_used_as_is() -> None:
    # 500 kg over 120 km by road: 0.5 t * 120 km = 60 t·km; 60 * 0.107 = 6.42 kg CO2e.
    result = leg("road", mass_kg=D(500), distance_km=D(120))

    assert (result.km, result.estimated, result.circuity) == (D(120), False, D(1))
    assert result.tkm == D(60)
    assert result.co2e_kg_per_tkm == D("0.107")
    assert result.co2e_kg == D("6.42")
    assert result.factors_version == FACTORS.version


def test_declared_distance_wins_over_coordinates() -> None:
    result = leg(
        "rail", mass_kg=D(1000), distance_km=D(10), origin=(D(0), D(0)), destination=(D(0), D(1))
    )

    assert (result.km, result.estimated) == (D(10), False)


def test_distance_from_coordinates_is_great_circle_times_circuity() -> None:
    # One degree along the equator by road: 111.19508023 km * 1.20 = 133.43409628 km;
    # 250 kg: 0.25 t * 133.43409628 = 33.35852407 t·km; * 0.107 = 3.56936207... kg CO2e.
    result = leg("road", mass_kg=D(250), origin=(D(0), D(0)), destination=(D(0), D(1)))

    assert result.estimated is True
    assert result.circuity == D("1.20")
    assert near(result.km, D("133.434096280"), "1e-8")
    assert near(result.tkm, D("33.358524070"), "1e-8")
    assert near(result.co2e_kg, D("3.5693620755"), "1e-8")


def test_air_uses_the_eight_percent_uplift() -> None:
    # 10 kg, one degree by air: 111.19508023 * 1.08 = 120.09068665 km; 0.01 t -> 1.2009068665
    # t·km; * 1.02 kg CO2e/t·km = 1.2249250038 kg.
    result = leg("air", mass_kg=D(10), origin=(D(0), D(0)), destination=(D(0), D(1)))

    assert near(result.km, D("120.090686652"), "1e-8")
    assert near(result.co2e_kg, D("1.224925003"), "1e-8")


def test_on_foot_emits_nothing() -> None:
    assert leg("on-foot", mass_kg=D(20), distance_km=D("0.8")).co2e_kg == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mode": "teleport", "mass_kg": D(1), "distance_km": D(1)}, "mode"),
        ({"mode": "road", "mass_kg": D(0), "distance_km": D(1)}, "mass_kg"),
        ({"mode": "road", "mass_kg": D(1), "distance_km": D(-1)}, "distance_km"),
        ({"mode": "road", "mass_kg": D(1)}, "origin"),
        ({"mode": "road", "mass_kg": D(1), "origin": (D(0), D(0))}, "destination"),
        (
            {"mode": "sea", "mass_kg": D(1), "origin": (D(95), D(0)), "destination": (D(0), D(0))},
            "origin.lat",
        ),
        (
            {"mode": "sea", "mass_kg": D(1), "origin": (D(0), D(0)), "destination": (D(0), D(190))},
            "destination.lon",
        ),
    ],
)
def test_impossible_legs_are_refused_naming_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    mode = kwargs.pop("mode")
    with pytest.raises(ScoringInputError) as caught:
        leg(mode, **kwargs)  # type: ignore[arg-type]

    assert caught.value.field == field
    assert isinstance(caught.value, FormatError)


def test_pinned_set_covers_every_mode_with_cited_sources() -> None:
    assert FACTORS.version == "2024.1"
    assert set(FACTORS.modes) == set(MODES)
    for name, mode in FACTORS.modes.items():
        assert mode.circuity >= 1, name
        assert mode.co2e_kg_per_tkm >= 0, name
        for source in (mode.co2e_source, mode.circuity_source):
            cited = FACTORS.sources[source]
            assert cited.title and cited.publisher and cited.year >= 2002 and cited.url
    assert FACTORS.modes["on-foot"].co2e_kg_per_tkm == 0
    assert all(FACTORS.modes[m].co2e_kg_per_tkm > 0 for m in MODES if m != "on-foot")


def _packaged() -> dict[str, object]:
    data: dict[str, object] = json.loads(FACTORS.model_dump_json())
    return data


def test_factor_citing_an_undeclared_source_is_refused() -> None:
    data = _packaged()
    data["modes"]["road"]["co2e_source"] = "rumour"  # type: ignore[index]

    with pytest.raises(FormatError, match="mode road cites unknown source rumour"):
        load_factors(json.dumps(data).encode())


def test_factor_written_as_a_float_is_refused() -> None:
    # Factors are decimal strings, so the pinned values are exactly what the file says.
    text = json.dumps(_packaged()).replace('"0.107"', "0.107")

    with pytest.raises(FormatError, match="transport factors"):
        load_factors(text.encode())


def test_circuity_below_one_is_refused() -> None:
    data = _packaged()
    data["modes"]["sea"]["circuity"] = "0.9"  # type: ignore[index]

    with pytest.raises(FormatError, match="transport factors"):
        load_factors(json.dumps(data).encode())


def test_local_shares_by_mass_and_by_steps() -> None:
    # Lombardia 2 kg, Piemonte 1 kg, Portugal 1 kg: Lombardy 2/4 by mass, 1/3 by steps;
    # Italy 3/4 by mass, 2/3 by steps.
    shares = local_shares(
        [Step("Lombardia", "IT", D(2)), Step("Piemonte", "IT", D(1)), Step(None, "PT", D(1))]
    )

    assert (shares.steps, shares.mass_kg) == (3, D(4))
    assert shares.lombardy.by_mass == D("0.5")
    assert shares.lombardy.by_steps == D(1) / D(3)
    assert shares.italy.by_mass == D("0.75")
    assert shares.italy.by_steps == D(2) / D(3)


@pytest.mark.parametrize("region", ["Lombardy", "lombardia", "IT-25", " Lombardia "])
def test_lombardy_is_recognised_by_its_names(region: str) -> None:
    assert local_shares([Step(region, "IT", D(1))]).lombardy.by_steps == 1


def test_a_lombardy_outside_italy_is_not_lombardy() -> None:
    shares = local_shares([Step("Lombardy", "CH", D(1))])

    assert (shares.lombardy.by_steps, shares.italy.by_steps) == (D(0), D(0))


def test_a_chain_without_mass_has_no_share_by_mass() -> None:
    shares = local_shares([Step("Lombardia", "IT", D(0))])

    assert shares.lombardy.by_mass is None
    assert shares.lombardy.by_steps == 1


def test_empty_chain_and_negative_mass_are_refused() -> None:
    with pytest.raises(ScoringInputError, match=r"^steps: "):
        local_shares([])
    with pytest.raises(ScoringInputError, match=r"^steps\[1\]\.mass_kg: "):
        local_shares([Step(None, "IT", D(1)), Step(None, "IT", D(-1))])
