"""Refusals of the passport graph reached over HTTP, which nothing else pinned.

A supplier may sign a making chain of any length: every process the ledger admits. The walk
behind a passport refuses one deeper than ``passports.graph.MAX_DEPTH`` rather than follow it;
that refusal was a bare ValueError, answered 500 "the service failed to answer" (and logged as
an unexpected error) on every read of the passport and of its item's circularity. It is now an
input over a documented bound, answered as one. Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.identifiers import DigitalLink
from ledger.store import passports as store_passports
from passports.graph import MAX_DEPTH
from tests.integration.api_support import Api, PageText, assert_problem
from tests.supply import item, lifecycle, make, material, passport, process, take

pytestmark = pytest.mark.integration

LOT = "urn:spola:lot:seteria:L{}".format
WORKS = {"id": "main", "name": "Seteria", "town": "Como", "region": "Lombardia",
         "country": "IT", "lat": "45.8081", "lon": "9.0852"}  # fmt: skip


def _issue(app: Api, processes: int) -> str:
    """A raw lot, ``processes`` events each turning the last lot into the next, a scarf made of
    the last one and its passport: the raw lot lies ``processes + 1`` steps upstream of it."""
    mill = app.enrol("seteria", roles=["supplier"], facilities=[WORKS])
    brand = app.enrol("maison", roles=["brand"])
    piece = DigitalLink("08000000001016", serial=f"DEEP{processes}").path()
    signed = [mill.sign(material(LOT(0), "10"))]
    signed += [
        mill.sign(process([take(LOT(n), "10")], [make(LOT(n + 1), "10")])) for n in range(processes)
    ]
    signed.append(mill.sign(process([take(LOT(processes), "1")], items=[item(piece)])))
    signed.append(mill.sign(lifecycle("sale", piece, to=brand.actor)))
    receipts = app.accept(signed) + app.accept([brand.sign(passport(piece))])
    assert [r["violation"] for r in receipts if not r["applied"]] == []
    return piece


@pytest.fixture
def deep(app: Api) -> Iterator[tuple[Api, str]]:
    yield app, _issue(app, MAX_DEPTH)


def test_a_chain_as_deep_as_the_bound_builds_its_passport(app: Api) -> None:
    # The counterpart of the refusals below: one process fewer.
    piece = _issue(app, MAX_DEPTH - 1)

    response = app.client.get(f"/v1/passports{piece}")

    assert response.status_code == 200, response.text[:300]
    assert [m["material"] for m in response.json()["materials"]] == ["silk-mulberry"]


@pytest.mark.parametrize("path", ["/v1/passports{}", "/v1/items{}/circularity"])
def test_a_passport_whose_making_chain_is_too_deep_is_refused_as_over_the_limit(
    deep: tuple[Api, str], path: str
) -> None:
    app, piece = deep

    response = app.client.get(path.format(piece))

    body = assert_problem(response, 413, "too-large")
    assert body["detail"] == f"the making chain of {piece} is deeper than {MAX_DEPTH}"


def test_one_unbuildable_passport_does_not_take_the_brands_figures_down(
    deep: tuple[Api, str],
) -> None:
    # A supplier's chain of 257 steps made the brand's company circularity and its maturity
    # answer 413 as a whole: one supplier could take any brand's company figures down. The
    # passport that cannot be built is left out of the figures, and named.
    app, piece = deep
    brand = "urn:spola:actor:maison"
    circularity = app.client.get(f"/v1/actors/{brand}/circularity")
    assert circularity.status_code == 200, circularity.text[:300]
    company = circularity.json()["company_mci"]
    assert company["unbuilt"] == [piece]
    assert piece not in [p["subject"] for p in company["products"]]
    maturity = app.client.get(f"/v1/actors/{brand}/maturity")
    assert maturity.status_code == 200, maturity.text[:300]
    assert maturity.json()["evidence"]["mean_product_mci"]["value"] is None


def test_a_passport_whose_provenance_is_over_the_walks_bound_is_refused_not_cut(
    app: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The store gathers at most TRACE_MAX_NODES lots and items upstream of a passport; past
    # it, the passport was built from part of its facts, as if the rest did not exist (its
    # composition wrong, and an auditor's bundle, which holds them all, disagreeing with it).
    piece = _issue(app, 6)  # 8 lots and items upstream, the piece included
    assert app.client.get(f"/v1/passports{piece}").status_code == 200
    monkeypatch.setattr(store_passports, "TRACE_MAX_NODES", 5)
    for path in ("/v1/passports{}", "/v1/items{}/circularity"):
        body = assert_problem(app.client.get(path.format(piece)), 413, "too-large")
        assert body["detail"] == f"the provenance of {piece} spans more than 5 lots and items"


def test_a_provenance_over_the_bound_leaves_the_brands_figures_standing(
    app: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    piece = _issue(app, 6)
    monkeypatch.setattr(store_passports, "TRACE_MAX_NODES", 5)
    brand = "urn:spola:actor:maison"
    circularity = app.client.get(f"/v1/actors/{brand}/circularity")
    assert circularity.status_code == 200, circularity.text[:300]
    assert circularity.json()["company_mci"]["unbuilt"] == [piece]
    maturity = app.client.get(f"/v1/actors/{brand}/maturity")
    assert maturity.status_code == 200, maturity.text[:300]
    assert maturity.json()["evidence"]["mean_product_mci"]["value"] is None


def test_a_consumer_scanning_such_a_piece_gets_a_page_not_a_json_problem(
    deep: tuple[Api, str],
) -> None:
    # The QR code's address, opened on a phone: the 413 was a JSON problem in the browser.
    app, piece = deep
    for lang, said in (
        ("it", "Questo passaporto non può essere mostrato"),
        ("en", "This passport cannot be shown"),
    ):
        page = app.client.get(piece, headers={"Accept": "text/html", "Accept-Language": lang})
        assert page.status_code == 413
        assert page.headers["content-type"].startswith("text/html"), page.headers
        parsed = PageText(page.text)
        assert parsed.lang == lang and said in parsed.text, parsed.text
    machine = app.client.get(piece, headers={"Accept": "application/ld+json"})
    assert assert_problem(machine, 413, "too-large")["detail"].startswith("the making chain")
