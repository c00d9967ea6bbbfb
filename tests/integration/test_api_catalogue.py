"""The catalogue over HTTP: lists, filters, single rows, 404s, ETags.

Each test runs on SQLite and PostgreSQL: the catalogue needs no database, but it is served by
the same app, lifespan and problem handlers as everything else.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.catalogue import catalogue
from tests.integration.api_support import Api, assert_problem

pytestmark = pytest.mark.integration


def _get(app: Api, path: str, **params: str) -> dict[str, Any]:
    response = app.client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def test_materials_list_every_row_with_sources_and_schemes_resolved(app: Api) -> None:
    body = _get(app, "/v1/catalogue/materials")

    assert body["version"] == 1
    rows = body["materials"]
    assert [r["id"] for r in rows] == [m.id for m in catalogue().materials]
    assert len(rows) >= 45
    wool = next(r for r in rows if r["id"] == "wool-recycled")
    assert wool["recycling_efficiency"] == {"feedstock": "0.80", "end_of_life": "0.80"}
    assert {s["id"] for s in wool["schemes"]} == {"GRS", "RCS"}
    for row in rows:
        assert row["sources"], row["id"]
        for source in row["sources"]:
            assert set(source) == {"id", "title", "publisher", "year", "url"}
            assert source["title"] and isinstance(source["year"], int)


def test_processes_list_every_row(app: Api) -> None:
    rows = _get(app, "/v1/catalogue/processes")["processes"]

    assert [r["id"] for r in rows] == [p.id for p in catalogue().processes]
    assert len(rows) >= 18
    repair = next(r for r in rows if r["id"] == "repair")
    assert repair["epcis_biz_step"] == "repairing" and repair["circular"] is True
    assert all(r["sources"] and "title" in r["sources"][0] for r in rows)


@pytest.mark.parametrize(
    ("params", "field", "value"),
    [
        ({"category": "leather"}, "category", "leather"),
        ({"cycle": "technical"}, "cycle", "technical"),
        ({"category": "packaging", "cycle": "biological"}, "category", "packaging"),
    ],
)
def test_material_filters_keep_only_matching_rows(
    app: Api, params: dict[str, str], field: str, value: str
) -> None:
    rows = _get(app, "/v1/catalogue/materials", **params)["materials"]

    assert rows
    assert all(r[field] == value for r in rows)
    assert all(r[k] == v for r in rows for k, v in params.items())


def test_scheme_filter_keeps_materials_that_scheme_applies_to(app: Api) -> None:
    rows = _get(app, "/v1/catalogue/materials", scheme="GOTS")["materials"]

    assert {"cotton-organic", "silk-mulberry-organic"} <= {r["id"] for r in rows}
    assert all("GOTS" in {s["id"] for s in r["schemes"]} for r in rows)


def test_filters_that_match_nothing_answer_an_empty_list(app: Api) -> None:
    rows = _get(app, "/v1/catalogue/materials", category="metal", cycle="biological")

    assert rows["materials"] == []


def test_process_stage_filter(app: Api) -> None:
    rows = _get(app, "/v1/catalogue/processes", stage="leather")["processes"]

    assert {"tanning-chrome", "tanning-vegetable"} <= {r["id"] for r in rows}
    assert all(r["stage"] == "leather" for r in rows)


@pytest.mark.parametrize(
    ("path", "param", "value"),
    [
        ("/v1/catalogue/materials", "category", "plastic"),
        ("/v1/catalogue/materials", "cycle", "spiral"),
        ("/v1/catalogue/materials", "scheme", "NOT-A-SCHEME"),
        ("/v1/catalogue/materials", "scheme", "not a scheme!"),
        ("/v1/catalogue/processes", "stage", "teleporting"),
    ],
)
def test_unknown_filter_values_are_refused_not_answered_empty(
    app: Api, path: str, param: str, value: str
) -> None:
    response = app.client.get(path, params={param: value})

    assert_problem(response, 400, "bad-request", param)


def test_one_material_by_id(app: Api) -> None:
    row = _get(app, "/v1/catalogue/materials/leather-bovine-vegetable")

    assert row["id"] == "leather-bovine-vegetable"
    assert row["category"] == "leather"
    assert row["sources"][0]["title"]


def test_one_process_by_id(app: Api) -> None:
    row = _get(app, "/v1/catalogue/processes/printing")

    assert row["stage"] == "wet-processing"
    assert row["epcis_biz_step"] == "commissioning"


@pytest.mark.parametrize(
    "path", ["/v1/catalogue/materials/unobtainium", "/v1/catalogue/processes/teleporting"]
)
def test_unknown_id_is_a_404_problem(app: Api, path: str) -> None:
    response = app.client.get(path)

    assert_problem(response, 404, "not-found", path.rsplit("/", 1)[1], "catalogue")


def test_answers_are_cacheable_and_revalidate_with_the_etag(app: Api) -> None:
    first = app.client.get("/v1/catalogue/materials", params={"category": "metal"})
    etag = first.headers["etag"]

    assert first.headers["cache-control"] == "public, max-age=3600"
    assert etag.startswith('"') and etag.endswith('"')
    again = app.client.get("/v1/catalogue/materials", params={"category": "metal"})
    assert again.headers["etag"] == etag and again.content == first.content

    revalidated = app.client.get(
        "/v1/catalogue/materials", params={"category": "metal"}, headers={"If-None-Match": etag}
    )
    assert revalidated.status_code == 304
    assert revalidated.content == b""
    assert revalidated.headers["etag"] == etag


def test_each_representation_has_its_own_etag(app: Api) -> None:
    metals = app.client.get("/v1/catalogue/materials", params={"category": "metal"})
    leathers = app.client.get("/v1/catalogue/materials", params={"category": "leather"})
    stale = app.client.get(
        "/v1/catalogue/materials",
        params={"category": "leather"},
        headers={"If-None-Match": metals.headers["etag"]},
    )

    assert metals.headers["etag"] != leathers.headers["etag"]
    assert stale.status_code == 200 and stale.content == leathers.content


def test_catalogue_endpoints_are_in_the_openapi_document(app: Api) -> None:
    paths = app.client.get("/openapi.json").json()["paths"]

    assert {
        "/v1/catalogue/materials",
        "/v1/catalogue/materials/{material_id}",
        "/v1/catalogue/processes",
        "/v1/catalogue/processes/{process_id}",
    } <= set(paths)
