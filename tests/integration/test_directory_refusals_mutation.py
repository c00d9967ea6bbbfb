"""Each refusal and bound of the directory, the maturity routes and the home page, pinned.

Every check below fails when the refusal or bound it names is taken out of the code (its
``raise`` or its check replaced by nothing, its ``Query``/``Path`` bound dropped) and passes
on the code as it is: a reader would see a 200 where a refusal belongs, a 500, an unbounded
answer or a figure the company keeps to itself. The ledger is built over HTTP on each engine,
then served by the real server (uvicorn, on a local port) and asked over real HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.main import create_app
from api.routes import directory as directory_route
from api.routes import home as home_route
from api.routes import maturity as maturity_route
from ledger.identifiers import DigitalLink
from ledger.store import directory as directory_queries
from ledger.store.ledger import LedgerStore
from tests.integration.api_support import (
    JSON_HEADERS,
    Api,
    PageText,
    assert_problem,
    batch_body,
    running_api,
    serving,
    urn,
)
from tests.integration.test_store_indexes import sent
from tests.supply import CERT_GOTS, handover, material, passport, receipt, take
from tests.terminal import Terminal, run_cli

pytestmark = pytest.mark.integration

DYER = "tintoria-como"  # keeps every figure but partners to itself, maturity included
TANNER = "conceria-riva"  # public maturity; its latest profile was refused
COMO = {"id": "main", "name": "Como works", "town": "Como", "region": "Lombardia",
        "country": "IT", "lat": "45.8081", "lon": "9.0852"}  # fmt: skip
ASSESSMENT: dict[str, Any] = {
    "type": "assessment", "model": "2026.1", "date": "2026-01-05",
    "answers": [{"question": "tr-1", "answer": "yes", "note": "elenco fornitori 2026"}],
}  # fmt: skip
HTML = {"Accept": "text/html"}
BATCH = DigitalLink("08000000001016", lot="L26").path()
OTHER_BATCH = DigitalLink("08000000001016", lot="L27").path()


@dataclass
class Served:
    """The ledger served over real HTTP, and its store (for tokens)."""

    http: httpx.Client
    app: FastAPI
    dyer: Terminal

    @property
    def store(self) -> LedgerStore:
        store: LedgerStore = self.app.state.store
        return store

    def bearer(self, actor: str) -> dict[str, str]:
        secret = self.store.create_token(tier="brand", actor=urn(actor))[1]
        return {"Authorization": f"Bearer {secret}"}


def _build(api: Api) -> Terminal:
    dyer = api.enrol(DYER, name="Tintoria Como", roles=["supplier", "brand"], region="Lombardia",
                     facilities=[COMO])  # fmt: skip
    api.accept(dyer.sign(material("urn:spola:lot:tintoria-como:L1", certificates=[CERT_GOTS])))
    api.accept(dyer.sign(ASSESSMENT))
    api.accept(
        dyer.sign(
            {
                "type": "profile",
                "processes": ["dyeing"],
                "certificates": [CERT_GOTS],
                "public_figures": ["partners"],
            }
        )
    )
    tanner = api.enrol(TANNER, name="Conceria Riva", roles=["supplier", "brand"],
                       region="Lombardia", facilities=[COMO])  # fmt: skip
    api.accept(tanner.sign(ASSESSMENT))
    api.accept(tanner.sign({"type": "profile", "processes": ["dyeing"]}))
    api.accept(tanner.sign({"type": "profile", "processes": ["printing"], "contact": "Riva"}))
    # Logged but refused (a process the catalogue does not know): it declares nothing.
    refused = tanner.sign(
        {"type": "profile", "processes": ["teleportation"], "public_figures": ["partners"]}
    )
    (logged,) = api.accept(refused)
    assert logged.get("applied") is False or "violation" in str(logged), logged
    # A brand registered without a facility, which issued a batch passport.
    mill = api.enrol("seteria", roles=["supplier"], facilities=[COMO])
    brand = api.enrol("maison", roles=["brand"])
    api.accept([mill.sign(material(BATCH, "10")), mill.sign(material(OTHER_BATCH, "10"))])
    lines = [take(BATCH, "4"), take(OTHER_BATCH, "4")]
    api.accept([mill.sign(handover("DDT-1", brand.actor, lines))])
    api.accept([brand.sign(receipt(mill.actor, "DDT-1"))])
    api.accept([brand.sign(passport(BATCH)), brand.sign(passport(OTHER_BATCH))])
    return dyer


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Served]:
    home = tmp_path / "home"
    with running_api(database_url, home) as api:
        dyer = _build(api)
        settings = api.settings
    app = create_app(settings)
    with serving(app) as host, httpx.Client(base_url=f"http://{host}", timeout=60) as http:
        yield Served(http, app, dyer)


def _refused(response: httpx.Response, name: str, *parts: str) -> None:
    body = assert_problem(response, 400, "bad-request", *parts)
    assert body["detail"].startswith(f"{name}: "), body


# -- the search's filters --------------------------------------------------------------------


def test_every_ill_formed_filter_is_a_400_naming_it(served: Served) -> None:
    get = served.http.get
    _refused(get("/v1/directory", params={"region": "x" * 101}), "region", "at most 100")
    _refused(get("/v1/directory?region=a&region=b"), "region", "more than once")
    _refused(get("/v1/directory?on=2026-13-01"), "on", "not a date")
    _refused(get("/v1/directory?on=2026-W01-1"), "on", "not a date")  # a week date
    _refused(get("/v1/directory?on=20261127"), "on", "not a date")  # the basic format
    _refused(get("/v1/directory?on=0001-06-01"), "on", "too early")
    _refused(get("/v1/directory?near=Como"), "near", "lat,lon")
    _refused(get("/v1/directory?near=45.12345678901234567,9"), "near", "lat,lon")
    _refused(get("/v1/directory?near=1234,9"), "near", "lat,lon")
    _refused(get("/v1/directory?near=91,9"), "near", "[-90, 90]")
    _refused(get("/v1/directory?near=45,181"), "near", "[-180, 180]")
    _refused(get("/v1/directory?near=45,9&radius_km=abc"), "radius_km", "not a number of km")
    _refused(get("/v1/directory?near=45,9&radius_km=0"), "radius_km", "more than 0")
    _refused(get("/v1/directory?near=45,9&radius_km=2000.5"), "radius_km", "at most 2000")
    _refused(get("/v1/directory?process=teleportation"), "process", "/v1/catalogue/processes")
    _refused(get("/v1/directory?material=unobtainium"), "material", "/v1/catalogue/materials")
    # A parameter's name given twice is cut in the detail, as on the pages.
    name = "n" * 300
    twice = get(f"/v1/directory?{name}=1&{name}=2")
    assert len(assert_problem(twice, 400, "bad-request")["detail"]) < 200
    # The bounds hold at their edges.
    assert get("/v1/directory?near=90,-180&radius_km=2000&on=0002-01-01").status_code == 200


def test_the_profiles_and_local_alternatives_parameters_are_bounded(served: Served) -> None:
    get = served.http.get
    long_on = get(f"/v1/directory/{urn(DYER)}", params={"on": "9" * 101})
    assert_problem(long_on, 400, "bad-request", "on", "at most 100")
    assert_problem(get("/v1/directory/" + "a" * 81), 400, "bad-request", "at most 80")
    alternatives = "/v1/items/{}/local-alternatives"
    assert_problem(get(alternatives.format("a" * 131)), 400, "bad-request", "at most 130")
    _refused(get(alternatives.format("nothing")), "item", "Digital Link")
    item = alternatives.format("01/08000000001016/21/NOWHERE")
    _refused(get(f"{item}?max_km=5000"), "max_km", "at most 2000")
    _refused(get(f"{item}?radius_km=x"), "radius_km", "not a number of km")
    # An actor the directory does not know, the ledger's operator among them, is a 404.
    for actor in ("urn:spola:actor:nobody", "urn:spola:actor:operator"):
        assert_problem(get(f"/v1/directory/{actor}"), 404, "not-found", actor)
    assert urn("operator") not in get("/v1/directory").text


def test_the_matches_and_actors_read_are_cut(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    everyone = served.http.get("/v1/directory").json()
    assert everyone["complete"] and everyone["matched"] == len(everyone["matches"]) == 4
    monkeypatch.setattr(directory_route, "MAX_MATCHES", 1)
    cut = served.http.get("/v1/directory").json()
    assert (cut["matched"], len(cut["matches"])) == (4, 1)
    monkeypatch.setattr(directory_route, "MAX_MATCHES", 200)
    monkeypatch.setattr(directory_queries, "MAX_ACTORS", 1)
    with sent(served.store.engine) as found, sent(served.store.read_engine) as replica:
        read = served.http.get("/v1/directory").json()
    assert (read["complete"], read["matched"]) == (False, 1)
    # The registrations are read up to the cut and one more, never all of them.
    registrations = [
        (sql, params)
        for sql, params in found + replica
        if "FROM actors" in sql and "ORDER BY actors.id" in sql
    ]
    assert registrations and all("LIMIT" in sql for sql, _ in registrations), registrations


# -- the pages' refusals ----------------------------------------------------------------------


def _page(response: httpx.Response, status: int, lang: str) -> PageText:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    page = PageText(response.text)
    assert page.lang == lang
    return page


def test_the_pages_refuse_on_a_page_in_the_readers_language(served: Served) -> None:
    get = served.http.get
    italian = {**HTML, "Accept-Language": "it"}
    long_lang = "x" * 101
    _page(get(f"/directory?lang={long_lang}", headers=italian), 400, "it")
    _page(get(f"/directory/{urn(DYER)}?lang={long_lang}", headers=italian), 400, "it")
    _page(get("/directory/" + "a" * 81 + "?lang=en", headers=HTML), 400, "en")
    # A ``lang`` given twice is not read: the refusal is in the language Accept-Language asks.
    _page(get("/directory?lang=en&lang=en", headers=italian), 400, "it")
    _page(get(f"/companies/{TANNER}?lang=en&lang=en", headers=italian), 400, "it")
    _page(get(f"/companies/{TANNER}?lang=english-uk", headers=italian), 400, "it")
    _page(get("/companies/" + "a" * 64 + "?lang=en", headers=HTML), 400, "en")
    _page(get("/companies/Conceria_Riva?lang=en", headers=HTML), 400, "en")
    _page(get(f"/companies/{TANNER}?lang=en", headers=HTML), 200, "en")
    # A client asking for JSON gets the API's problem at the same address.
    json = {"Accept": "application/json"}
    assert_problem(get(f"/directory/{urn('nobody')}", headers=json), 404, "not-found")
    assert_problem(get("/companies/Conceria_Riva", headers=json), 400, "bad-request", "slug")
    # The home page and the maturity route bound what they are given too.
    _page(get("/", params={"lang": long_lang}, headers=italian), 400, "it")
    assert_problem(get("/", params={"lang": long_lang}, headers=json), 400, "bad-request", "lang")
    for bad in ("nothing", "urn:spola:actor:Riva", "urn:spola:actor:" + "a" * 64):
        assert_problem(get(f"/v1/actors/{bad}/maturity"), 400, "bad-request", "actor_id")


# -- what a company keeps to itself -------------------------------------------------------------


def test_a_hidden_figure_and_a_hidden_maturity_stay_hidden(served: Served) -> None:
    get = served.http.get
    public = get(f"/v1/directory/{urn(DYER)}").json()
    assert set(public["track_record"]["figures"]) == {"partners"}
    own = get(f"/v1/directory/{urn(DYER)}", headers=served.bearer(DYER)).json()
    assert {"certified", "maturity"} <= set(own["track_record"]["figures"])
    stranger = get(f"/v1/directory/{urn(DYER)}", headers=served.bearer(TANNER)).json()
    assert set(stranger["track_record"]["figures"]) == {"partners"}
    assert_problem(get(f"/v1/actors/{urn(DYER)}/maturity"), 404, "not-found")
    assert get(f"/v1/actors/{urn(DYER)}/maturity", headers=served.bearer(DYER)).status_code == 200
    assert get(f"/companies/{DYER}", headers=HTML).status_code == 404
    home = get("/").text
    assert f"/companies/{TANNER}" in home and f"/companies/{DYER}" not in home


def test_only_the_latest_applied_profile_counts(served: Served) -> None:
    # The tanner's latest profile was refused: its offers and its hiding of figures count for
    # nothing, and its two applied profiles before it are read as one latest.
    get = served.http.get
    profile = get(f"/v1/directory/{urn(TANNER)}").json()
    assert [o["id"] for o in profile["processes"]] == ["printing"]
    assert profile["contact"] == "Riva"
    assert "maturity" in profile["track_record"]["figures"]
    assert get(f"/v1/actors/{urn(TANNER)}/maturity").status_code == 200
    assert get(f"/companies/{TANNER}", headers=HTML).status_code == 200
    assert f"/companies/{TANNER}" in get("/").text


def test_the_track_record_is_the_twelve_months_up_to_on(served: Served) -> None:
    # The dyer's material event was signed now: in no window that ends before it or starts
    # after it.
    get, headers = served.http.get, served.bearer(DYER)

    def made(on: str) -> Any:
        answer = get(f"/v1/directory/{urn(DYER)}?on={on}", headers=headers).json()
        return answer["track_record"]["figures"]["certified"]

    today = datetime.now(UTC).date()
    now = made(today.isoformat())
    assert now["events"] == 1, now
    assert made("2020-01-01")["events"] == 0
    assert made(today.replace(year=today.year + 2, day=1).isoformat())["events"] == 0


# -- the profile event's own bounds ---------------------------------------------------------------


def test_a_profile_event_out_of_its_bounds_is_refused_at_the_door(served: Served) -> None:
    dyer = served.dyer
    many = [{**CERT_GOTS, "id": f"CU-GOTS-{n}"} for n in range(17)]
    for fields in (
        {"processes": ["dyeing", "dyeing"]},
        {"public_figures": ["partners", "partners"]},
        {"certificates": many},
        {"processes": [f"process-{n}" for n in range(65)]},
        {"materials": [f"material-{n}" for n in range(65)]},
        {"contact": "c" * 501},
        {"contact": ""},
    ):
        envelope = dyer.sign_unchecked({"type": "profile", **fields})
        response = served.http.post(
            "/v1/entries", content=envelope.to_bytes(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (fields, response.text)


def test_the_entries_behind_an_offer_and_a_certificate_are_cut(served: Served) -> None:
    # 51 more lots of certified silk: the profile lists the latest 50 entries behind each.
    lots = [
        served.dyer.sign(material(f"urn:spola:lot:tintoria-como:M{n}", certificates=[CERT_GOTS]))
        for n in range(51)
    ]
    response = served.http.post("/v1/entries", content=batch_body(lots), headers=JSON_HEADERS)
    assert response.status_code in (200, 201), response.text
    profile = served.http.get(f"/v1/directory/{urn(DYER)}").json()
    (silk,) = (o for o in profile["materials"] if o["id"] == "silk-mulberry")
    (gots,) = profile["certificates"]
    assert len(silk["entries"]) == len(gots["entries"]) == 50
    assert silk["entries"] == sorted(silk["entries"], reverse=True)  # the latest


def test_local_alternatives_need_a_brand_with_a_facility(served: Served) -> None:
    # The brand without a facility issued a batch passport: there is no place to measure
    # distances from, which is said, not a server error.
    response = served.http.get(f"/v1/items{BATCH}/local-alternatives")
    assert_problem(response, 422, "format", "no facility")


def test_the_cli_refuses_a_bad_filter_in_one_line(
    served: Served, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = served.app.state.settings
    monkeypatch.setenv("SPOLA_HOME", str(settings.home))
    db = ("--db", settings.database_url)
    for args in (
        ("search", "--radius-km", "abc", "--near", "45,9"),
        ("search", "--region", "x" * 101),
        ("show", DYER, "--on", "2026-13-01"),
    ):
        code, out, err = run_cli(capsys, "directory", *args, *db)
        assert (code, out) == (2, ""), (args, code, out, err)
        assert err.startswith("spola: ") and err.count("\n") == 1, err


def test_the_home_page_and_the_maturity_evidence_are_cut(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(home_route, "SHOWN_PASSPORTS", 1)
    home = served.http.get("/").text
    assert home.count('href="/01/08000000001016/10/') == 1, home
    monkeypatch.setattr(maturity_route, "MAX_ENTRIES", 1)
    evidence = served.http.get(f"/v1/actors/{urn('maison')}/maturity").json()["evidence"]
    assert len(evidence["mean_product_mci"]["entries"]) == 1, evidence["mean_product_mci"]
