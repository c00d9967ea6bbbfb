"""HEAD answers as GET does, without the body, on every route that serves GET.

RFC 9110 §9.3.2: a server SHOULD send the same header fields in answer to HEAD as to GET, and
no content. Caches, link checkers and uptime monitors send HEAD; a 405 tells them the resource
is broken. The walk below covers every GET route in the app's route table, so a route added
without a sample here fails the test instead of going unchecked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from api.demo_story import (
    BRAND,
    JACKETS,
    SILK_MILL,
    TWILL,
    WOOL_MILL,
)
from tests.integration.api_support import PROBLEM_JSON, Api, assert_problem, get_json, running_api

pytestmark = pytest.mark.integration

JACKET = JACKETS[0]  # "/01/08000000002020/21/…"
TWILL_URL = TWILL.replace(":", "%3A")


def _samples(demo: Api) -> dict[str, str]:
    """Each GET route's path template → a request for it on the demo ledger."""
    key_id = get_json(demo, f"/v1/actors/urn:spola:actor:{BRAND}")["keys"][0]["key_id"]
    return {
        "/openapi.json": "/openapi.json",
        "/docs": "/docs",
        "/docs/oauth2-redirect": "/docs/oauth2-redirect",
        "/redoc": "/redoc",
        "/v1/entries/{index}/verdict": "/v1/entries/37/verdict",
        "/v1/log/checkpoint": "/v1/log/checkpoint",
        "/v1/log/key": "/v1/log/key",
        "/v1/log/entries": "/v1/log/entries?start=0&end=5",
        "/v1/log/proof/inclusion": "/v1/log/proof/inclusion?index=3",
        "/v1/log/proof/consistency": "/v1/log/proof/consistency?first=3",
        "/v1/log/receipts/{index}": "/v1/log/receipts/3",
        "/v1/keys/{key_id}": f"/v1/keys/{key_id}",
        "/v1/actors": "/v1/actors",
        "/v1/actors/{actor_id}": f"/v1/actors/urn:spola:actor:{SILK_MILL}",
        "/v1/directory": "/v1/directory?process=printing&on=2026-11-26",
        "/v1/directory/{actor_id}": f"/v1/directory/urn:spola:actor:{WOOL_MILL}",
        "/v1/items/{item_id:path}/local-alternatives": f"/v1/items{JACKET}/local-alternatives",
        "/directory": "/directory?process=printing",
        "/directory/{actor_id}": f"/directory/urn:spola:actor:{WOOL_MILL}",
        "/v1/items/{item_id:path}/circularity": f"/v1/items{JACKET}/circularity",
        "/v1/actors/{actor_id}/circularity": f"/v1/actors/urn:spola:actor:{BRAND}/circularity",
        "/v1/lots/{lot_id:path}/trace": f"/v1/lots/{TWILL_URL}/trace",
        "/v1/items/{item_id:path}/trace": f"/v1/items{JACKET}/trace",
        "/v1/lots/{lot_id:path}": f"/v1/lots/{TWILL_URL}",
        "/v1/items/{item_id:path}": f"/v1/items{JACKET}",
        "/v1/actors/{actor_id}/holdings": f"/v1/actors/urn:spola:actor:{SILK_MILL}/holdings",
        "/v1/catalogue/materials": "/v1/catalogue/materials",
        "/v1/catalogue/materials/{material_id}": "/v1/catalogue/materials/silk-mulberry",
        "/v1/catalogue/processes": "/v1/catalogue/processes",
        "/v1/catalogue/processes/{process_id}": "/v1/catalogue/processes/printing",
        "/v1/epcis/events": f"/v1/epcis/events?lot={TWILL_URL}",
        "/v1/passports": "/v1/passports?limit=3",
        "/v1/passports/{pid:path}/qr.png": f"/v1/passports{JACKET}/qr.png",
        "/v1/passports/{pid:path}/qr.svg": f"/v1/passports{JACKET}/qr.svg",
        "/v1/passports/{pid:path}/bundle": f"/v1/passports{JACKET}/bundle",
        "/v1/passports/{pid:path}/versions/{version}": f"/v1/passports{JACKET}/versions/1",
        "/v1/passports/{pid:path}": f"/v1/passports{JACKET}",
        "/.well-known/gs1resolver": "/.well-known/gs1resolver",
        "/01/{rest:path}": JACKET,
        "/v1/actors/{actor_id}/maturity": f"/v1/actors/urn:spola:actor:{BRAND}/maturity",
        "/companies/{slug}": f"/companies/{BRAND}",
        "/healthz": "/healthz",
        "/": "/",
    }


def _head(api: Api, target: str, **headers: str) -> httpx.Response:
    """HEAD ``target`` straight through the app's ASGI interface, on the test client's loop.

    An HTTP client drops whatever body follows an answer to HEAD (httpx does, and so does a
    server such as uvicorn), so only the app's own ``http.response.body`` messages show whether
    it sends one; they are kept here exactly as sent.
    """
    path, _, query = target.partition("?")
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "HEAD",
        "scheme": "http", "path": unquote(path), "raw_path": path.encode("ascii"),
        "root_path": "", "query_string": query.encode("ascii"), "client": ("testclient", 50000),
        "server": ("testserver", 80),
        "headers": [(b"host", b"testserver")]
        + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
    }  # fmt: skip
    portal = api.client.portal
    assert portal is not None
    portal.call(api.client.app, scope, receive, send)
    start, *bodies = sent
    assert start["type"] == "http.response.start" and bodies, target
    assert all(b["type"] == "http.response.body" for b in bodies) and not bodies[-1].get(
        "more_body"
    )
    return httpx.Response(
        start["status"],
        headers=[(name.decode(), value.decode()) for name, value in start["headers"]],
        content=b"".join(b.get("body", b"") for b in bodies),
        request=httpx.Request("HEAD", f"http://testserver{target}"),
    )


def _get_routes(app: FastAPI) -> set[str]:
    return {
        str(context.path)
        for context in iter_route_contexts(app.routes)
        if "GET" in (context.methods or ())
    }


def _assert_head_is_get_without_body(get: httpx.Response, head: httpx.Response) -> None:
    where = str(get.request.url)
    assert head.status_code == get.status_code, where
    assert head.headers.multi_items() == get.headers.multi_items(), where
    assert head.content == b"", where


def test_every_get_route_answers_head_with_its_status_and_headers_and_no_body(
    demo: Api,
) -> None:
    samples = _samples(demo)
    app = demo.client.app
    assert isinstance(app, FastAPI)
    assert _get_routes(app) == set(samples), "a GET route without a sample here"
    statuses = set()
    for request in samples.values():
        get, head = demo.client.get(request), _head(demo, request)
        _assert_head_is_get_without_body(get, head)
        statuses.add(get.status_code)
        assert get.status_code == 200 and get.content, (request, get.text[:300])
    # The same pages in HTML and in JSON-LD: content negotiation answers HEAD as it does GET.
    for accept in ("text/html", "application/ld+json", "application/linkset+json"):
        get = demo.client.get(JACKET, headers={"Accept": accept})
        _assert_head_is_get_without_body(get, _head(demo, JACKET, Accept=accept))


def test_head_revalidates_with_the_etag_as_get_does(demo: Api) -> None:
    latest = f"/v1/passports{JACKET}"
    tag = demo.client.get(latest).headers["etag"]
    for request in (latest, f"{latest}/versions/1", JACKET, "/v1/catalogue/materials"):
        tag = _head(demo, request).headers["etag"]
        fresh = {"If-None-Match": tag}
        get, head = demo.client.get(request, headers=fresh), _head(demo, request, **fresh)
        assert get.status_code == 304, request
        _assert_head_is_get_without_body(get, head)
        stale = {"If-None-Match": '"0000"'}
        get, head = demo.client.get(request, headers=stale), _head(demo, request, **stale)
        assert get.status_code == 200 and get.headers["etag"] == tag, request
        _assert_head_is_get_without_body(get, head)


def test_head_of_what_is_not_there_is_a_bodiless_problem(demo: Api) -> None:
    missing = (
        "/v1/no-such-route",
        "/v1/lots/urn:spola:lot:nobody:X1",
        "/v1/entries/99999/verdict",
        f"/v1/passports{JACKET[:-2]}AA",
        f"/v1/epcis/events?actor=urn:spola:actor:nobody&lot={TWILL_URL}",
    )
    for request in missing:
        get, head = demo.client.get(request), _head(demo, request)
        assert_problem(get, 404, "not-found")
        assert head.headers["content-type"] == PROBLEM_JSON
        _assert_head_is_get_without_body(get, head)
    bad = demo.client.get("/v1/log/entries?start=5&end=2")
    _assert_head_is_get_without_body(bad, _head(demo, "/v1/log/entries?start=5&end=2"))
    assert_problem(bad, 400, "bad-request")


def test_refused_head_requests_carry_no_body(app: Api) -> None:
    # The limits refuse before any route runs: their problems are bodiless for HEAD too.
    nul = _head(app, "/v1/actors?after=%00")
    assert nul.status_code == 400 and nul.content == b""
    # A path served for POST only: 405, naming the method it serves.
    refused = _head(app, "/v1/entries")
    assert refused.status_code == 405 and refused.content == b""
    assert refused.headers["allow"] == "POST"


def test_allow_names_head_wherever_get_is_served(app: Api) -> None:
    for path in ("/v1/log/checkpoint", "/v1/passports", "/directory", "/"):
        # A client asking for JSON: a browser is refused a page's method with a page.
        refused = app.client.post(path, headers={"Accept": "application/json"})
        assert_problem(refused, 405, "method-not-allowed")
        assert refused.headers["allow"] == "GET, HEAD", path


def test_head_spends_the_client_budget_as_get_does(database_url: str, tmp_path: Path) -> None:
    with running_api(database_url, tmp_path / "home", rate_per_client=3) as api:
        # running_api spent one token reading the genesis entry: two are left.
        assert [_head(api, "/v1/log/checkpoint").status_code for _ in range(2)] == [200, 200]
        assert api.client.get("/v1/log/checkpoint").status_code == 429
        over = _head(api, "/v1/log/checkpoint")
        assert over.status_code == 429 and over.content == b""
        assert int(over.headers["retry-after"]) >= 1


def test_openapi_documents_no_head_operations(app: Api) -> None:
    paths = app.client.get("/openapi.json").json()["paths"]
    assert paths and not [path for path, item in paths.items() if "head" in item]
