"""The supplier directory under review: hidden figures, input bounds, correctness, cost.

Each actor here is registered with one facility and signs its own ``profile`` event; nothing
of the demo is needed. A hidden figure must never be learnt from an answer (its value, the
order, the score, a count); every query parameter is bounded and refused with a precise 400
problem; certificates count on the days they are valid and not the day after; the latest
profile wins; the operator is never listed; a cut is said when it happens.
"""

from __future__ import annotations

import json
import time
import unicodedata
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from api.demo_story import JACKETS
from api.routes import directory as directory_route
from ledger.store import directory as directory_queries
from tests.integration.api_support import Api, assert_problem, get_json, store_of, urn
from tests.supply import CERT_GOTS, GOTS_CLAIM, make, material, process, take
from tests.terminal import Terminal, run_cli

pytestmark = pytest.mark.integration

# The events here are signed now, and a track record counts the year up to ``on``: a fixed date
# would leave them out once the suite runs on a later day. Tomorrow (UTC) keeps a run that
# crosses midnight inside the window.
ON = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
MILAN = ("45.4642", "9.19")


def site(town: str, region: str, lat: str, lon: str) -> dict[str, Any]:
    return {"id": "main", "name": f"{town} works", "town": town, "region": region,
            "country": "IT", "lat": lat, "lon": lon}  # fmt: skip


def enrol(
    app: Api, slug: str, *, region: str = "Lombardia", at: tuple[str, str] = MILAN
) -> Terminal:
    facility = site("Milano", region, *at)
    return app.enrol(slug, name=f"Workshop {slug}", region=region, facilities=[facility])


def profile(terminal: Terminal, **fields: Any) -> Any:
    return terminal.sign({"type": "profile", **fields})


def cert(valid_from: str, valid_until: str, scheme: str = "GOTS") -> dict[str, str]:
    return {**CERT_GOTS, "scheme": scheme, "valid_from": valid_from, "valid_until": valid_until}


def year_around(day: str) -> tuple[str, str]:
    """A validity from a year before ``day`` to a year after: valid on ``day``, whenever the
    suite runs."""
    middle = date.fromisoformat(day)
    return (middle - timedelta(days=365)).isoformat(), (middle + timedelta(days=365)).isoformat()


def matches(app: Api, query: str, **headers: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = get_json(app, f"/v1/directory?{query}&on={ON}", **headers)[
        "matches"
    ]
    return found


def operator_token(app: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {store_of(app).create_token(tier='operator', actor=None)[1]}"}


# -- 1. hidden figures --------------------------------------------------------------------------


def test_a_hidden_certified_share_changes_neither_score_nor_order(app: Api) -> None:
    """Two workshops alike but for one fact: all of ``proud``'s lots carry a claim, none of
    ``plain``'s do. ``proud`` hides ``certified``: the public must see the two tied, in actor
    id order, with the same score, while the operator sees ``proud`` ahead."""
    proud, plain = enrol(app, "b-proud"), enrol(app, "a-plain")
    hidden = ["partners", "acceptance", "distance", "services", "maturity"]
    app.accept(
        [
            proud.sign(
                material("urn:spola:lot:b-proud:1", claim=GOTS_CLAIM, certificates=[CERT_GOTS])
            ),
            profile(proud, public_figures=hidden),
            plain.sign(material("urn:spola:lot:a-plain:1")),
            profile(plain, public_figures=hidden),
        ]
    )
    public = matches(app, "region=Lombardia")
    assert [m["actor"] for m in public] == [urn("a-plain"), urn("b-proud")]
    assert public[0]["score"] == public[1]["score"]
    assert "certified" not in str(public)
    full = matches(app, "region=Lombardia", **operator_token(app))
    assert [m["actor"] for m in full] == [urn("b-proud"), urn("a-plain")]


def test_hidden_volumes_stay_out_of_the_profile_page_and_the_json(app: Api) -> None:
    mill = enrol(app, "setificio")
    app.accept([mill.sign(material("urn:spola:lot:setificio:1", "777")), profile(mill)])
    public = app.client.get(f"/v1/directory/{urn('setificio')}?on={ON}")
    assert "volumes" not in public.json()["track_record"]["figures"]
    page = app.client.get(f"/directory/{urn('setificio')}?lang=en").text
    assert "Volumes" not in page
    seen = get_json(app, f"/v1/directory/{urn('setificio')}?on={ON}", **operator_token(app))
    assert "volumes" in seen["track_record"]["figures"]


def test_json_answers_that_vary_with_the_token_are_never_shared_by_caches(app: Api) -> None:
    enrol(app, "tintoria")
    for path in ("/v1/directory?region=Lombardia", f"/v1/directory/{urn('tintoria')}"):
        headers = app.client.get(path).headers
        assert "Authorization" in headers.get("vary", ""), path
        assert "private" in headers.get("cache-control", ""), path


# -- 2. bounds and problems ---------------------------------------------------------------------


def test_an_unknown_process_points_to_the_catalogue_route_that_exists(app: Api) -> None:
    for name in ("process", "material"):
        body = assert_problem(
            app.client.get(f"/v1/directory?{name}=unobtainium"), 400, "bad-request"
        )
        route = f"/v1/catalogue/{name}es" if name == "process" else f"/v1/catalogue/{name}s"
        assert route in body["detail"], body
        assert app.client.get(route).status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("near=45.4", "near"),
        ("near=91,9", "near"),
        ("near=45,9&radius_km=0", "radius_km"),
        ("process=ironing", "process"),
        ("on=26-11-2026", "on"),
        ("region=" + "x" * 101, "region"),
        ("certificate=" + "G" * 101, "certificate"),
        ("near=" + "4" * 200 + ",9", "near"),
        ("radius_km=" + "1" * 200 + "&near=45,9", "radius_km"),
        ("near=4_5,9", "near"),  # Decimal() reads underscores
        ("near=%D9%A4%D9%A5,9", "near"),  # Arabic-Indic digits: Decimal() reads them too
        ("near=4.5e1,9", "near"),  # an exponent
        ("near=NaN,9", "near"),
        ("process=dyeing&process=printing", "process"),
        ("region=Lombardia&region=Toscana", "region"),
    ],
)
def test_bad_or_unbounded_filters_are_a_400_naming_the_field(
    app: Api, query: str, field: str
) -> None:
    body = assert_problem(app.client.get(f"/v1/directory?{query}"), 400, "bad-request")
    assert body["detail"].startswith(f"{field}: "), body
    assert len(body["detail"]) < 300  # the value is not echoed back in full
    page = app.client.get(f"/directory?{query}")
    assert page.status_code == 400 and field in page.text


def test_poles_and_the_antimeridian_do_not_crash(app: Api) -> None:
    enrol(app, "polo", at=("-90", "180"))
    for near in ("90,180", "-90,-180", "0,-180", "0,180"):
        answer = app.client.get(f"/v1/directory?near={near}&radius_km=2000&on={ON}")
        assert answer.status_code == 200, answer.text
    (found,) = matches(app, "near=-89.99,-179.99&radius_km=10")
    assert found["actor"] == urn("polo")


# -- 3. correctness -----------------------------------------------------------------------------


def test_region_matches_whatever_the_case_and_the_accents(app: Api) -> None:
    enrol(app, "aosta", region="Vallée d'Aoste", at=("45.7372", "7.3206"))
    enrol(app, "brescia", region="lombardia", at=("45.5416", "10.2118"))
    nfd = unicodedata.normalize("NFD", "Vallée d'Aoste")
    for asked in ("VALLÉE D'AOSTE", "vallee d'aoste", nfd, "  Vallée   d'Aoste "):
        assert [m["actor"] for m in matches(app, f"region={asked}")] == [urn("aosta")], asked
    for asked in ("Lombardia", "LOMBARDY", "it-25"):
        assert [m["actor"] for m in matches(app, f"region={asked}")] == [urn("brescia")], asked


def test_a_certificate_counts_through_its_last_day_and_not_after(app: Api) -> None:
    shop = enrol(app, "tintoria")
    app.accept(profile(shop, certificates=[cert("2026-01-01", "2026-06-30")]))

    def found(day: str) -> list[str]:
        answer = get_json(app, f"/v1/directory?certificate=gots&on={day}")
        return [m["actor"] for m in answer["matches"]]

    assert found("2026-01-01") == found("2026-06-30") == [urn("tintoria")]
    assert found("2025-12-31") == found("2026-07-01") == []
    on_expiry = get_json(app, "/v1/directory?on=2026-07-01")["matches"]
    assert on_expiry[0]["certificates"] == []  # the expired one is not shown as held


def test_the_year_up_to_a_leap_day_reaches_back_to_the_28th_of_february(app: Api) -> None:
    """Events signed at fixed days around two 29 Februaries and a new year: the track record
    is the year up to ``on``, both ends counted; a year before 29 February is 28 February."""
    shop = enrol(app, "tintoria")
    days = ["2027-02-27", "2027-02-28", "2027-12-31", "2028-01-01", "2028-02-29"]
    app.accept([
        shop.sign(material(f"urn:spola:lot:tintoria:{n}") | {"time": f"{day}T23:59:59Z"})
        for n, day in enumerate(days)
    ])  # fmt: skip

    def made(on: str) -> int:
        shown = get_json(app, f"/v1/directory/{urn('tintoria')}?on={on}")
        events: int = shown["track_record"]["figures"]["certified"]["events"]
        return events

    assert made("2027-02-26") == 0 and made("2027-02-27") == 1
    assert made("2027-12-31") == 3 and made("2028-01-01") == 4
    assert made("2028-02-28") == 3  # from 2027-02-28: the 27th is out
    assert made("2028-02-29") == 4 and made("2029-02-28") == 1  # both from the 28th
    assert made("2029-03-01") == 0
    assert_problem(app.client.get("/v1/directory?on=2027-02-29"), 400, "bad-request")


def test_an_actor_without_a_profile_is_listed_with_the_default_figures(app: Api) -> None:
    enrol(app, "silent")
    (found,) = matches(app, "region=Lombardia")
    assert found["actor"] == urn("silent") and found["certificates"] == []
    shown = get_json(app, f"/v1/directory/{urn('silent')}?on={ON}")
    assert shown["profile_index"] is None and shown["processes"] == []
    assert "volumes" not in shown["track_record"]["figures"]


def test_the_latest_profile_replaces_the_earlier_one(app: Api) -> None:
    shop = enrol(app, "tintoria")
    everything = ["volumes", "partners", "acceptance", "certified", "distance", "services"]
    held = cert(*year_around(ON))
    app.accept(profile(shop, processes=["dyeing"], public_figures=everything, certificates=[held]))
    assert [m["actor"] for m in matches(app, "certificate=GOTS")] == [urn("tintoria")]
    app.accept(profile(shop, processes=["printing"]))
    assert matches(app, "process=dyeing") == [] and matches(app, "certificate=GOTS") == []
    assert [m["actor"] for m in matches(app, "process=printing")] == [urn("tintoria")]
    shown = get_json(app, f"/v1/directory/{urn('tintoria')}?on={ON}")
    assert "volumes" not in shown["track_record"]["figures"]


def test_a_profile_signed_before_its_key_was_revoked_still_counts(app: Api) -> None:
    shop = enrol(app, "tintoria")
    app.accept(profile(shop, processes=["dyeing"]))
    app.accept(app.operator.revoke(shop.actor, shop.key_id))
    assert [m["actor"] for m in matches(app, "process=dyeing")] == [urn("tintoria")]
    refused = app.post(profile(shop, processes=["printing"]))
    assert refused.status_code == 403
    assert [m["actor"] for m in matches(app, "process=dyeing")] == [urn("tintoria")]


def test_the_operator_is_never_listed(app: Api) -> None:
    enrol(app, "tintoria")
    everyone = get_json(app, f"/v1/directory?on={ON}")["matches"]
    assert [m["actor"] for m in everyone] == [urn("tintoria")]
    assert app.client.get("/v1/directory/urn:spola:actor:operator").status_code == 404


def test_the_actors_cut_is_said_and_never_hides_a_profile(
    app: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    for slug in ("a1", "a2", "a3", "a4"):
        enrol(app, slug)
    monkeypatch.setattr(directory_queries, "MAX_ACTORS", 3)
    answer = get_json(app, f"/v1/directory?on={ON}")
    assert len(answer["matches"]) == 3 and answer["complete"] is False
    assert get_json(app, f"/v1/directory/{urn('a4')}?on={ON}")["actor"] == urn("a4")
    monkeypatch.setattr(directory_queries, "MAX_ACTORS", 4)
    assert get_json(app, f"/v1/directory?on={ON}")["complete"] is True


def test_the_matches_cut_is_said(app: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    for slug in ("a1", "a2", "a3"):
        enrol(app, slug)
    monkeypatch.setattr(directory_route, "MAX_MATCHES", 2)
    answer = get_json(app, f"/v1/directory?on={ON}")
    assert len(answer["matches"]) == 2 and answer["matched"] == 3


# -- 4. cost ------------------------------------------------------------------------------------


def test_a_search_over_500_actors_is_measured(app: Api) -> None:
    """Prints, asserts no time: how a search over many actors costs, with and without a
    filter that the registration or the profile alone decides."""
    store, operator = store_of(app), app.operator
    for start in range(0, 500, 100):
        batch = []
        terminals = []
        for n in range(start, start + 100):
            actor = urn(f"w{n:03d}")
            terminal = Terminal(actor=actor)
            region = "Lombardia" if n % 10 else "Piemonte"
            facilities = [site("Milano", region, *MILAN)]
            batch += [
                operator.register(actor, region=region, facilities=facilities),
                operator.add_key(actor, terminal.key),
            ]
            terminals.append(terminal)
        store.append(batch)
        store.append(
            [t.sign(material(f"urn:spola:lot:{t.actor.rsplit(':', 1)[1]}:1")) for t in terminals]
            + [profile(t, processes=["dyeing"]) for t in terminals]
        )
    for query in ("", "region=Piemonte", "certificate=GOTS", "process=dyeing", "near=45.4,9.2"):
        started = time.perf_counter()
        answer = get_json(app, f"/v1/directory?{query}&on={ON}")
        print(f"500 actors, {query or 'no filter'}: {len(answer['matches'])} matches, "
              f"{time.perf_counter() - started:.2f} s")  # fmt: skip
    assert len(get_json(app, f"/v1/directory?region=Piemonte&on={ON}")["matches"]) == 50


def test_hidden_volumes_cannot_be_read_off_the_public_maturity_evidence(app: Api) -> None:
    mill = enrol(app, "setificio")
    raw, dyed = "urn:spola:lot:setificio:raw", "urn:spola:lot:setificio:dyed"
    app.accept(
        [
            mill.sign(material(raw, "500")),
            mill.sign(process([take(raw, "123.456")], [make(dyed, "120")])),
            profile(mill),  # volumes hidden, maturity public: the defaults
        ]
    )
    full = get_json(app, f"/v1/directory/{urn('setificio')}?on={ON}", **operator_token(app))
    (row,) = full["track_record"]["figures"]["volumes"]["by_process"]
    assert row["kg"] == "123.456"
    maturity = app.client.get(f"/v1/actors/{urn('setificio')}/maturity")
    assert "123.456" not in maturity.text


def test_the_cli_says_on_stderr_when_a_cut_was_hit(
    app: Api, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for slug in ("a1", "a2", "a3"):
        enrol(app, slug)
    monkeypatch.setenv("SPOLA_HOME", str(app.settings.home))
    monkeypatch.setattr(directory_route, "MAX_MATCHES", 2)
    monkeypatch.setattr(directory_queries, "MAX_ACTORS", 2)
    code, out, err = run_cli(capsys, "directory", "search", "--db", database_url, "--on", ON)
    assert code == 0 and len(out.splitlines()) == 3  # the header and two rows
    assert "showing the best 2 of 2" not in err  # two read, two matched: that cut was not hit
    assert "some were not searched" in err
    monkeypatch.setattr(directory_queries, "MAX_ACTORS", 2000)
    code, out, err = run_cli(capsys, "directory", "search", "--db", database_url, "--json")
    assert code == 0 and json.loads(out)["matched"] == 3
    assert "showing the best 2 of 3 matches" in err and "not searched" not in err


def test_local_alternatives_say_when_the_actors_cut_was_hit(
    demo: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = f"/v1/items{JACKETS[1]}/local-alternatives?on=2026-11-26"
    assert get_json(demo, path)["complete"] is True
    monkeypatch.setattr(directory_queries, "MAX_ACTORS", 2)
    assert get_json(demo, path)["complete"] is False
