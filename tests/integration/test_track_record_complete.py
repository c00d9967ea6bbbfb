"""The track record says when its bound may have left out entries of its window
(``ledger.store.track_record.MAX_EVENTS``): ``complete`` in ``GET /v1/directory/{actor}`` and
a notice on the profile page, in Italian and English; never for a cut of older entries only,
and never for a figure the reader may not see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.store import track_record
from tests.integration.api_support import (
    Api,
    PageText,
    browser,
    certified_lots,
    enrol_near,
    get_json,
    operator_headers,
)
from tests.supply import CERT_GOTS, GOTS_CLAIM, handover, material, receipt, take

pytestmark = pytest.mark.integration

MILAN, COMO = ("45.4642", "9.19"), ("45.8081", "9.0852")
NOTICE = {
    "it": "alcune voci di questo periodo potrebbero non essere contate",
    "en": "some entries of this period may not be counted",
}


def _record(app: Api, actor: str, on: str = "", **headers: str) -> dict[str, Any]:
    query = f"?on={on}" if on else ""
    found: dict[str, Any] = get_json(app, f"/v1/directory/{actor}{query}", **headers)
    record: dict[str, Any] = found["track_record"]
    return record


def _page(app: Api, actor: str, lang: str) -> str:
    response = app.client.get(f"/directory/{actor}", headers=browser(lang))
    assert response.status_code == 200, response.text[:300]
    page = PageText(response.text)
    assert page.lang == lang
    return page.text


def test_making_events_past_the_bound_make_the_record_incomplete(
    app: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    mill = enrol_near(app, "mill", MILAN)
    certified_lots(app, mill, 4)  # all of them today, inside the window
    monkeypatch.setattr(track_record, "MAX_EVENTS", 3)
    record = _record(app, mill.actor, **operator_headers(app))
    assert record["figures"]["certified"]["events"] == 3  # the oldest left out
    assert record["complete"] is False
    assert _record(app, mill.actor)["complete"] is False  # "certified" is public
    for lang in ("it", "en"):
        assert NOTICE[lang] in _page(app, mill.actor, lang)

    # The bound reached, nothing left out: whole.
    monkeypatch.setattr(track_record, "MAX_EVENTS", 4)
    record = _record(app, mill.actor, **operator_headers(app))
    assert record["figures"]["certified"]["events"] == 4
    assert record["complete"] is True
    for lang in ("it", "en"):
        assert NOTICE[lang] not in _page(app, mill.actor, lang)


def test_a_cut_of_entries_older_than_the_window_is_no_gap(
    app: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    mill = enrol_near(app, "mill", MILAN)
    certified_lots(app, mill, 4)
    monkeypatch.setattr(track_record, "MAX_EVENTS", 3)
    later = (datetime.now(UTC).date() + timedelta(days=800)).isoformat()
    record = _record(app, mill.actor, later, **operator_headers(app))
    assert record["figures"]["certified"]["events"] == 0  # every entry before the window
    assert record["complete"] is True


def test_later_handovers_pushing_out_a_making_event_are_said(
    app: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    mill, dyer = enrol_near(app, "mill", MILAN), enrol_near(app, "dyer", COMO)
    lot = "urn:spola:lot:mill:A"
    app.accept([mill.sign(material(lot, "100", claim=GOTS_CLAIM, certificates=[CERT_GOTS]))])
    app.accept([mill.sign(handover(f"H-{n}", dyer.actor, [take(lot, "1")])) for n in range(3)])
    monkeypatch.setattr(track_record, "MAX_EVENTS", 3)
    record = _record(app, mill.actor, **operator_headers(app))
    assert record["figures"]["certified"]["events"] == 0
    assert record["complete"] is False
    monkeypatch.setattr(track_record, "MAX_EVENTS", 4)
    record = _record(app, mill.actor, **operator_headers(app))
    assert record["figures"]["certified"]["events"] == 1
    assert record["complete"] is True


def test_a_hidden_figure_cut_is_not_said_to_the_public(
    app: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    mill, dyer = enrol_near(app, "mill", MILAN), enrol_near(app, "dyer", COMO)
    app.accept(mill.sign({"type": "profile", "public_figures": ["certified"]}))
    lot = "urn:spola:lot:dyer:D"
    app.accept([dyer.sign(material(lot, "100"))])
    app.accept([dyer.sign(handover(f"D-{n}", mill.actor, [take(lot, "1")])) for n in range(4)])
    app.accept([mill.sign(receipt(dyer.actor, f"D-{n}")) for n in range(4)])
    monkeypatch.setattr(track_record, "MAX_EVENTS", 3)
    record = _record(app, mill.actor, **operator_headers(app))
    assert record["figures"]["acceptance"]["received"] == 3  # the oldest left out
    assert record["complete"] is False
    public = _record(app, mill.actor)
    assert set(public["figures"]) == {"certified"}
    assert public["complete"] is True  # the gap is in figures the public does not see
    for lang in ("it", "en"):
        assert NOTICE[lang] not in _page(app, mill.actor, lang)
    monkeypatch.setattr(track_record, "MAX_EVENTS", 4)
    assert _record(app, mill.actor, **operator_headers(app))["complete"] is True


def test_handovers_sent_past_the_bound_make_partners_incomplete(
    app: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    mill, dyer = enrol_near(app, "mill", MILAN), enrol_near(app, "dyer", COMO)
    app.accept(mill.sign({"type": "profile", "public_figures": ["partners"]}))
    lot = "urn:spola:lot:mill:A"
    app.accept([mill.sign(material(lot, "100"))])
    app.accept([mill.sign(handover(f"H-{n}", dyer.actor, [take(lot, "1")])) for n in range(4)])
    app.accept([dyer.sign(receipt(mill.actor, f"H-{n}")) for n in range(4)])
    monkeypatch.setattr(track_record, "MAX_EVENTS", 4)  # the material left out, not shown
    public = _record(app, mill.actor)
    assert public["figures"]["partners"]["entries_total"] == 4
    assert public["complete"] is True
    monkeypatch.setattr(track_record, "MAX_EVENTS", 3)
    public = _record(app, mill.actor)
    assert public["figures"]["partners"]["entries_total"] == 3  # the oldest left out
    assert public["complete"] is False
    for lang in ("it", "en"):
        assert NOTICE[lang] in _page(app, mill.actor, lang)
