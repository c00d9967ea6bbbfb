"""A search match and a local alternative say whether their track record may be partial.

Results rank on track-record figures that a read bound (``ledger.store.track_record.MAX_EVENTS``)
may have cut; the profile says so (``track_record.complete``), and so does each match of
``GET /v1/directory``, each alternative of ``GET /v1/items/{item}/local-alternatives``
(``record_complete``) and each result of the search page, in Italian and English. Like the
profile's, it is told over the figures the reader may see only: a gap in a figure the actor
keeps from the public is not said to the public.
"""

from __future__ import annotations

import html
from typing import Any

import pytest

from api.demo_story import BRAND, JACKETS, LOCAL_RECYCLER
from ledger.store import track_record
from tests.integration.api_support import (
    Api,
    browser,
    certified_lots,
    enrol_near,
    get_json,
    operator_at_head,
    operator_headers,
    store_of,
    urn,
)
from tests.supply import handover, material, receipt, take

pytestmark = pytest.mark.integration

MILAN, COMO, MONZA = ("45.4642", "9.19"), ("45.8081", "9.0852"), ("45.5845", "9.2744")
# The search page's notice on a match, as the profile page words its own.
NOTICE = {
    "it": "alcune voci di questo periodo potrebbero non essere contate",
    "en": "some entries of this period may not be counted",
}
ON = "2026-11-26"  # the demo season's last day


def _matches(app: Api, **headers: str) -> dict[str, dict[str, Any]]:
    found = get_json(app, "/v1/directory", **headers)["matches"]
    return {m["actor"]: m for m in found}


def _cards(app: Api, lang: str, **headers: str) -> dict[str, str]:
    """The search page's results by actor: each card's text, unescaped."""
    response = app.client.get("/directory", headers=browser(lang) | headers)
    assert response.status_code == 200, response.text[:300]
    cards = response.text.split('<li class="card">')[1:]
    return {
        actor: html.unescape(card.split("</li>")[0])
        for card in cards
        for actor in [card.split('href="/directory/')[1].split("?")[0]]
    }


def test_a_match_past_the_bound_says_its_record_may_be_partial(
    app: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    mill, dyer = enrol_near(app, "mill", MILAN), enrol_near(app, "dyer", COMO)
    certified_lots(app, mill, 4)  # past a bound of 3: the oldest is left out
    certified_lots(app, dyer, 2)
    monkeypatch.setattr(track_record, "MAX_EVENTS", 3)
    for headers in ({}, operator_headers(app)):
        matches = _matches(app, **headers)
        assert matches[mill.actor]["record_complete"] is False
        assert matches[dyer.actor]["record_complete"] is True
        # The same as the profile says, for the same reader.
        for actor, match in matches.items():
            profile = get_json(app, f"/v1/directory/{actor}", **headers)
            assert match["record_complete"] is profile["track_record"]["complete"]
    for lang in ("it", "en"):
        cards = _cards(app, lang)
        assert NOTICE[lang] in cards[mill.actor]
        assert NOTICE[lang] not in cards[dyer.actor]

    # The bound reached, nothing left out: whole, and no notice.
    monkeypatch.setattr(track_record, "MAX_EVENTS", 4)
    assert _matches(app)[mill.actor]["record_complete"] is True
    for lang in ("it", "en"):
        assert NOTICE[lang] not in _cards(app, lang)[mill.actor]


def test_a_hidden_figure_cut_is_not_told_in_a_match(
    app: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    mill, dyer = enrol_near(app, "mill", MILAN), enrol_near(app, "dyer", COMO)
    app.accept(mill.sign({"type": "profile", "public_figures": ["certified"]}))
    lot = "urn:spola:lot:dyer:D"
    app.accept([dyer.sign(material(lot, "100"))])
    app.accept([dyer.sign(handover(f"D-{n}", mill.actor, [take(lot, "1")])) for n in range(4)])
    app.accept([mill.sign(receipt(dyer.actor, f"D-{n}")) for n in range(4)])
    monkeypatch.setattr(track_record, "MAX_EVENTS", 3)  # cuts the acceptance, kept private
    operator = operator_headers(app)
    assert _matches(app, **operator)[mill.actor]["record_complete"] is False
    public = _matches(app)[mill.actor]
    assert public["record_complete"] is True  # the gap is in a figure the public does not see
    for lang in ("it", "en"):
        assert NOTICE[lang] not in _cards(app, lang)[mill.actor]
        assert NOTICE[lang] in _cards(app, lang, **operator)[mill.actor]


def test_a_local_alternative_says_when_its_record_may_be_partial(
    demo: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.operator = operator_at_head(store_of(demo), demo.settings.home)
    monza = enrol_near(demo, "riciclo-monza", MONZA)  # near the brand in Milan, past the bound
    grs = {"scheme": "GRS", "id": "GRS-MZ-1", "issuer": "ICEA", "valid_from": "2026-01-01",
           "valid_until": "2099-12-31"}  # fmt: skip
    demo.accept(monza.sign({"type": "profile", "processes": ["mechanical-recycling"],
                            "materials": ["wool-recycled"], "certificates": [grs]}))  # fmt: skip
    certified_lots(demo, monza, 4)
    path = f"/v1/items{JACKETS[1]}/local-alternatives?on={ON}"
    monkeypatch.setattr(track_record, "MAX_EVENTS", 3)
    answer = get_json(demo, path)
    assert answer["brand"]["actor"] == urn(BRAND)
    (far,) = answer["far_steps"]
    found = {a["actor"]: a["record_complete"] for a in far["alternatives"]}
    assert found == {urn(LOCAL_RECYCLER): True, monza.actor: False}
    monkeypatch.setattr(track_record, "MAX_EVENTS", 4)
    (far,) = get_json(demo, path)["far_steps"]
    assert all(a["record_complete"] is True for a in far["alternatives"])
