"""Passports, scores and company pages against signed figures at the edge of what events allow.

Each test is an attack or an accident a supplier or a brand can sign, and the answer a consumer
(or the brand itself) must still get over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.identifiers import DigitalLink
from tests.integration.api_support import Api, running_api
from tests.supply import facility, handover, item, lifecycle, material, passport, process, receipt
from tests.supply import take as line

pytestmark = pytest.mark.integration

GTIN = "08000000001016"
PIECE = DigitalLink(GTIN, serial="S1").path()
LOT = "urn:spola:lot:seteria:L1"
HUGE = "9" * 15  # the most digits a signed amount has before its point
BASE = "http://127.0.0.1:8000"  # SPOLA_PUBLIC_BASE_URL's default


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(database_url, tmp_path / "home") as running:
        yield running


def test_a_leg_of_the_largest_signed_figures_leaves_every_page_answering(api: Api) -> None:
    # 10^15 kg carried 10^15 km is 10^27 t·km: rounding it (and its CO2e) to its places needed
    # more than 28 digits, and the passport, the consumer page, the item's and the company's
    # circularity, the maturity document and the company page all answered 500.
    mill = api.enrol("seteria", roles=["supplier"], facilities=[facility()])
    brand = api.enrol("maison", roles=["brand"], facilities=[facility()])
    transport = {"mode": "road", "distance_km": HUGE}
    for signer, event in (
        (mill, material(LOT, HUGE)),
        (mill, handover("DDT-1", brand.actor, [line(LOT, HUGE)], transport=transport)),
        (brand, receipt(mill.actor, "DDT-1")),
        (brand, process([line(LOT, HUGE)], items=[item(PIECE, HUGE)])),
        (brand, passport(PIECE)),
    ):
        (answer,) = api.accept([signer.sign(event)])
        assert answer["applied"], answer["violation"]
    for path, headers in (
        (f"/v1/passports{PIECE}", {}),
        (PIECE, {"Accept": "text/html"}),
        (PIECE, {"Accept": "application/ld+json"}),
        (f"/v1/items{PIECE}/circularity", {}),
        (f"/v1/actors/{brand.actor}/circularity", {}),
        (f"/v1/actors/{brand.actor}/maturity", {}),
        ("/companies/maison", {}),
    ):
        answer = api.client.get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.text)
    doc = api.client.get(f"/v1/passports{PIECE}").json()
    assert doc["journey"][-2]["distance_km"] == HUGE


def test_a_lifecycle_text_cannot_inject_markup_into_the_consumer_page(api: Api) -> None:
    mill = api.enrol("seteria", roles=["supplier", "brand"], facilities=[facility()])
    evil = '<img src=x onerror="alert(1)">'
    for signer, event in (
        (mill, material(LOT, "10")),
        (mill, process([line(LOT, "1")], items=[item(PIECE)])),
        (mill, passport(PIECE, name=evil)),
        (mill, lifecycle("repair", PIECE, description=evil)),
    ):
        (answer,) = api.accept([signer.sign(event)])
        assert answer["applied"], answer["violation"]
    for lang in ("it", "en"):
        page = api.client.get(PIECE, params={"lang": lang}, headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "<img" not in page.text and page.text.count("&lt;img src=x") >= 3


def test_a_shared_cache_keys_passport_json_on_the_authorization_header(api: Api) -> None:
    # The public answer is "public" (a year, for a version): RFC 9111 §3.5 lets a shared cache
    # serve it to a request carrying Authorization, so without "Vary: Authorization" the brand
    # asking with its token through a CDN got the public document, restricted fields missing.
    mill = api.enrol("seteria", roles=["supplier", "brand"], facilities=[facility()])
    for event in (
        material(LOT, "10"),
        process([line(LOT, "1")], items=[item(PIECE)]),
        passport(PIECE),
    ):
        api.accept([mill.sign(event)])
    for path in (f"/v1/passports{PIECE}", f"/v1/passports{PIECE}/versions/1"):
        public = api.client.get(path)
        assert public.status_code == 200 and "restricted" not in public.json()["product"]
        vary = {v.strip().lower() for v in public.headers["vary"].split(",")}
        assert "authorization" in vary, (path, public.headers["vary"])
        again = api.client.get(path, headers={"If-None-Match": public.headers["etag"]})
        assert again.status_code == 304 and "authorization" in again.headers["vary"].lower()


def test_a_lot_cannot_rewrite_the_bundle_download_header(api: Api) -> None:
    # GS1 lets a lot hold '"', ';', '=', '*' and "'": written into Content-Disposition as it
    # was, this one closed the file name and added a filename* that browsers prefer.
    lot = "\";filename*=UTF-8''x"
    batch = DigitalLink(GTIN, lot=lot)
    brand = api.enrol("maison", roles=["supplier", "brand"], facilities=[facility()])
    for event in (material(batch.path(), "10"), passport(batch.path())):
        (answer,) = api.accept([brand.sign(event)])
        assert answer["applied"], answer["violation"]
    listed = api.client.get("/v1/passports").json()["passports"]
    (entry,) = [p for p in listed if p["id"] == batch.path().lstrip("/")]
    bundle = api.client.get(entry["api"].removeprefix(BASE) + "/bundle")
    assert bundle.status_code == 200, bundle.text
    disposition = bundle.headers["content-disposition"]
    assert disposition.count('"') == 2 and "filename*" not in disposition, disposition
    assert disposition.startswith('attachment; filename="01-08000000001016-10-')


def test_a_label_scanned_before_its_passport_is_issued_is_not_cached_as_missing(
    api: Api,
) -> None:
    # Labels are printed before the brand issues the passport. The resolver's 404 (a page for
    # people, a problem for machines) said nothing about caching or about depending on Accept:
    # a shared cache may keep a 404 heuristically (RFC 9110 section 15.1) and hand the HTML one
    # to a machine, or keep answering "missing" after the passport exists.
    for accept, media in (("text/html", "text/html"), ("application/json", "application/")):
        missing = api.client.get(PIECE, headers={"Accept": accept})
        assert missing.status_code == 404 and missing.headers["content-type"].startswith(media)
        assert "no-cache" in missing.headers.get("cache-control", ""), missing.headers
        vary = {v.strip().lower() for v in missing.headers.get("vary", "").split(",")}
        assert {"accept", "accept-language"} <= vary, missing.headers


def test_a_piece_delivered_to_a_shop_without_a_facility_still_resolves(api: Api) -> None:
    # A retailer registered without a facility has no coordinates: the delivery leg to it,
    # declaring no distance, failed the build, and the consumer's scan got a 400 saying the
    # label's own URI was "Not a valid GS1 Digital Link".
    mill = api.enrol("seteria", roles=["supplier"], facilities=[facility()])
    shop = api.enrol("negozio", roles=["brand", "retailer"])
    for signer, event in (
        (mill, material(LOT, "10")),
        (mill, process([line(LOT, "1")], items=[item(PIECE)])),
        (mill, lifecycle("sale", PIECE, to=shop.actor)),
        (mill, handover("DDT-1", shop.actor, [{"item": PIECE}])),
        (shop, receipt(mill.actor, "DDT-1")),
        (shop, passport(PIECE)),
    ):
        (answer,) = api.accept([signer.sign(event)])
        assert answer["applied"], answer["violation"]
    for accept in ("text/html", "application/ld+json"):
        scanned = api.client.get(PIECE, headers={"Accept": accept})
        assert scanned.status_code == 200, scanned.text
    doc = api.client.get(f"/v1/passports{PIECE}").json()
    (leg,) = [s for s in doc["journey"] if s["kind"] == "transport"]
    assert leg["distance_km"] is None
    assert {"code": "unknown-distance", "entries": [leg["index"]]} in doc["data_quality"]
    assert api.client.get(f"/v1/actors/{shop.actor}/circularity").status_code == 200
