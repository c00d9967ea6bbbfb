"""One MCI, four surfaces: the passport JSON, the item API, the JSON-LD and the consumer page.

On the demo ledger (SQLite and PostgreSQL), every piece's score is the same figure wherever a
reader meets it: the passport document and ``GET /v1/items/{id}/circularity`` give the same
6-place decimal string, the JSON-LD the same number, and the page that figure to 2 places,
half to even as the JSON rounds (docs/scoring.md, *What is shown, and how it is rounded*). An
item too light for the document's 3-place masses still gets its score on every surface.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest

from api.demo_story import BAGS, JACKETS, SCARVES
from ledger.identifiers import DigitalLink
from tests.integration.api_support import Api, get_json, running_api, store_of
from tests.supply import facility, handover, item, material, passport, process, receipt, take

pytestmark = pytest.mark.integration

PIECES = [*JACKETS, *BAGS, *SCARVES]
CHARM = DigitalLink("08000000001016", serial="CHARM1").path()
LOT = "urn:spola:lot:seteria:S1"
LABEL = {"en": "Material Circularity Indicator (MCI)", "it": "Indice di circolarità (MCI)"}


def on_page(published: str, lang: str) -> str:
    text = str(Decimal(published).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))
    return text.replace(".", ",") if lang == "it" else text


def test_every_surface_shows_the_same_mci(demo: Api) -> None:
    for piece in PIECES:
        document = get_json(demo, f"/v1/passports{piece}")
        published = document["circularity"]["mci"]["mci"]
        assert published == format(
            Decimal(published).quantize(Decimal("0.000001")).normalize(), "f"
        )
        assert 0 <= Decimal(published) <= 1

        assert get_json(demo, f"/v1/items{piece}/circularity")["mci"] == published, piece

        ld = get_json(demo, piece, Accept="application/ld+json")
        card = ld["credentialSubject"]["circularityScorecard"]
        assert card["materialCircularityIndicator"] == float(published), piece

        for lang, label in LABEL.items():
            html = demo.client.get(piece, headers={"Accept": "text/html", "Accept-Language": lang})
            row = f'<span>{label}</span><span class="value">{on_page(published, lang)}</span>'
            assert row in html.text, (piece, lang, published)


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(database_url, tmp_path / "home") as running:
        yield running


def test_an_item_lighter_than_a_gram_keeps_its_score_on_every_surface(api: Api) -> None:
    # 0.4 g shows as 0 kg (the document's masses have 3 places): the MCI is scored on the shares
    # alone (1 kg of them), here one virgin silk lot with no end-of-life fact and no declared
    # lifetime for a scarf: LFI = 1, X = 1, MCI = 1 - 0.9 = 0.1. The company cannot weigh it.
    mill = api.enrol("seteria", roles=["supplier"], facilities=[facility()])
    brand = api.enrol("maison", roles=["brand"], facilities=[facility()])
    for signer, event in (
        (mill, material(LOT, "1")),
        (mill, handover("DDT-1", brand.actor, [take(LOT, "1")])),
        (brand, receipt(mill.actor, "DDT-1")),
        (brand, process([take(LOT, "0.0004")], items=[item(CHARM, "0.0004")])),
        (brand, passport(CHARM)),
    ):
        (answer,) = api.accept([signer.sign(event)])
        assert answer["applied"], answer["violation"]

    token = store_of(api).create_token(tier="brand", actor=brand.actor)[1]
    document = get_json(api, f"/v1/passports{CHARM}", Authorization=f"Bearer {token}")
    assert document["product"]["restricted"]["mass_kg"] == "0"
    assert document["circularity"]["mci"]["mci"] == "0.1"
    assert get_json(api, f"/v1/items{CHARM}/circularity")["mci"] == "0.1"
    html = api.client.get(CHARM, headers={"Accept": "text/html", "Accept-Language": "en"})
    assert html.status_code == 200
    assert f'<span>{LABEL["en"]}</span><span class="value">0.10</span>' in html.text
    company = get_json(api, f"/v1/actors/{brand.actor}/circularity")["company_mci"]
    assert company["unweighed"] == [CHARM] and company["mci"] is None
