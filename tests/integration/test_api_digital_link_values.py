"""Lots and serials holding '/', '%', '<' and other characters GS1 allows, over real HTTP.

GS1 character set 82 lets a lot be ``26/11<A>``; its URI carries it as ``26%2F11%3CA%3E``.
A uvicorn server decodes the path before routing, which once turned the label's own QR code
into a 400 (``%2F`` became a path separator) or named another lot (``%25`` decoded twice).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import zxingcpp
from PIL import Image

from api.main import create_app
from ledger.identifiers import DigitalLink
from tests.integration.api_support import Api, running_api, serving
from tests.supply import (
    facility,
    handover,
    item,
    lifecycle,
    material,
    passport,
    process,
    receipt,
    take,
)

pytestmark = pytest.mark.integration

GTIN = "08000000001016"
BATCH = DigitalLink(GTIN, lot="26/11<A>")
PIECE = DigitalLink(GTIN, serial="S/1%41&(x)")
BASE = "http://127.0.0.1:8000"  # SPOLA_PUBLIC_BASE_URL's default


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[tuple[Api, httpx.Client]]:
    """A batch passport and an item passport with such values; a real server over them."""
    with running_api(database_url, tmp_path / "home") as api:
        mill = api.enrol("seteria", roles=["supplier"], facilities=[facility()])
        brand = api.enrol("maison", roles=["brand"], facilities=[facility()])
        batch, piece = BATCH.path(), PIECE.path()
        api.accept([mill.sign(material(batch, "10"))])
        api.accept([mill.sign(handover("DDT-1", brand.actor, [take(batch, "4")]))])
        api.accept([brand.sign(receipt(mill.actor, "DDT-1"))])
        api.accept([brand.sign(passport(batch, "Seta Lario, pezza"))])
        api.accept([mill.sign(process([take(batch, "1")], items=[item(piece)]))])
        api.accept([mill.sign(lifecycle("sale", piece, to=brand.actor))])
        api.accept([brand.sign(passport(piece))])
        with (
            serving(create_app(api.settings)) as host,
            httpx.Client(base_url=f"http://{host}", timeout=30) as client,
        ):
            yield api, client


def _path(link: DigitalLink) -> str:
    """The URI's path: what a phone requests after scanning the label."""
    return link.uri(BASE).removeprefix(BASE)


def test_the_label_uri_resolves_to_the_piece_it_names(site: tuple[Api, httpx.Client]) -> None:
    _, client = site
    for link, name in ((BATCH, "Seta Lario, pezza"), (PIECE, "Foulard Lario")):
        answer = client.get(_path(link), headers={"Accept": "application/ld+json"})
        assert answer.status_code == 200, answer.text
        product = answer.json()["credentialSubject"]["product"]
        assert product["name"] == name
        page = client.get(_path(link), headers={"Accept": "text/html"})
        assert page.status_code == 200 and name in page.text
    piece = client.get(_path(PIECE), headers={"Accept": "application/ld+json"}).json()
    assert piece["credentialSubject"]["product"]["serialNumber"] == "S/1%41&(x)"


def test_passport_api_lists_and_serves_the_uris_a_uri_may_carry(
    site: tuple[Api, httpx.Client],
) -> None:
    _, client = site
    listed = client.get("/v1/passports").json()["passports"]
    assert {p["url"] for p in listed} == {BATCH.uri(BASE), PIECE.uri(BASE)}
    assert {p["api"] for p in listed} == {
        BATCH.uri(f"{BASE}/v1/passports"),
        PIECE.uri(f"{BASE}/v1/passports"),
    }
    for link in (BATCH, PIECE):
        document = client.get(f"/v1/passports{_path(link)}")
        assert document.status_code == 200, document.text
        assert document.json()["subject"] == link.path()
    item_view = client.get(f"/v1/items{_path(PIECE)}")
    assert item_view.status_code == 200, item_view.text
    assert item_view.json()["id"] == PIECE.path()
    lot_view = client.get(f"/v1/lots{_path(BATCH)}")
    assert lot_view.status_code == 200, lot_view.text
    assert lot_view.json()["id"] == BATCH.path()


def test_a_percent_in_a_value_is_decoded_once(site: tuple[Api, httpx.Client]) -> None:
    _, client = site
    # ``%2541`` is the characters ``%41`` of the serial, not ``A``: no such piece.
    decoded_twice = DigitalLink(GTIN, serial="S/1A&(x)")
    answer = client.get(_path(decoded_twice), headers={"Accept": "application/json"})
    assert answer.status_code == 404, answer.text


def test_the_qr_code_carries_the_percent_encoded_uri(site: tuple[Api, httpx.Client]) -> None:
    _, client = site
    for link in (BATCH, PIECE):
        png = client.get(f"/v1/passports{_path(link)}/qr.png")
        assert png.status_code == 200, png.text
        image = Image.open(io.BytesIO(png.content)).convert("L")
        assert [r.text for r in zxingcpp.read_barcodes(image)] == [link.uri(BASE)]
