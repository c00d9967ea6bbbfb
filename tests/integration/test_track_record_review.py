"""A supplier's track record as a brand reads it (``GET /v1/directory/{actor}``): every figure
counts the supplier's own applied entries inside the window, and nothing else — not another
actor's events, not a refused entry, not a handover still waiting for its receipt."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger.geo import great_circle_km
from tests.integration.api_support import Api, enrol_near, get_json, operator_headers
from tests.supply import (
    CERT_GOTS,
    GOTS_CLAIM,
    handover,
    item,
    lifecycle,
    make,
    material,
    process,
    receipt,
    take,
)

pytestmark = pytest.mark.integration

MILAN, COMO, BERGAMO = ("45.4642", "9.19"), ("45.8081", "9.0852"), ("45.6983", "9.6773")
LOT_A, LOT_B = "urn:spola:lot:mill:A", "urn:spola:lot:mill:B"
SCARF = "/01/08000000001016/21/SCARF1"


def _figures(app: Api, actor: str, on: date) -> dict[str, Any]:
    """Every figure, as the operator sees them (an actor may hide some from the public)."""
    path = f"/v1/directory/{actor}?on={on.isoformat()}"
    found: dict[str, Any] = get_json(app, path, **operator_headers(app))
    assert found["track_record"]["to"] == on.isoformat()
    figures: dict[str, Any] = found["track_record"]["figures"]
    return figures


def _strip(figure: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in figure.items() if k not in ("entries", "entries_total")}


def test_the_track_record_counts_only_the_suppliers_settled_applied_entries(app: Api) -> None:
    started = datetime.now(UTC).date()  # no event below is signed before this day
    mill = enrol_near(app, "mill", MILAN)
    dyer, spinner, brand = (enrol_near(app, s, at) for s, at in
                            (("dyer", COMO), ("spinner", BERGAMO), ("brand", COMO)))  # fmt: skip
    own = app.accept(
        [
            mill.sign(material(LOT_A, "100", claim=GOTS_CLAIM, certificates=[CERT_GOTS])),
            mill.sign(material(LOT_B, "100")),
            mill.sign(process([take(LOT_A, "20")], [make(f"{LOT_A}2", "20")])),
            mill.sign(
                process(
                    [take(LOT_A, "4")],
                    items=[item(SCARF, "2", claim=GOTS_CLAIM)],
                    certificates=[CERT_GOTS],
                    process="sewing",
                )
            ),
            mill.sign(
                process(
                    [take(LOT_A, "6")],
                    [make(f"{LOT_A}3", "6", claim=GOTS_CLAIM)],
                    certificates=[CERT_GOTS],
                )
            ),
        ]
    )
    sent = app.accept(
        [
            mill.sign(handover("H-1", dyer.actor, [take(LOT_A, "10")])),  # accepted
            mill.sign(handover("H-2", brand.actor, [take(LOT_A, "10")])),  # rejected
            mill.sign(handover("H-3", spinner.actor, [take(LOT_B, "10")])),  # pending
            dyer.sign(receipt(mill.actor, "H-1")),
            brand.sign(receipt(mill.actor, "H-2", accepted=False)),
        ]
    )
    refused = app.post(mill.sign(handover("H-4", brand.actor, [take(LOT_B, "999")]))).json()
    assert refused["applied"] is False, refused
    lot_d, lot_s = "urn:spola:lot:dyer:D", "urn:spola:lot:spinner:S"
    received = app.accept(
        [
            dyer.sign(material(lot_d, "50", claim=GOTS_CLAIM, certificates=[CERT_GOTS])),
            spinner.sign(material(lot_s, "50")),
            spinner.sign(handover("S-1", mill.actor, [take(lot_s, "5")])),  # accepted
            dyer.sign(handover("D-2", mill.actor, [take(lot_d, "5")])),  # rejected
            dyer.sign(handover("D-3", mill.actor, [take(lot_d, "5")])),  # pending
            mill.sign(receipt(spinner.actor, "S-1")),
            mill.sign(receipt(dyer.actor, "D-2", accepted=False)),
        ]
    )
    recycled = app.accept(
        [mill.sign(lifecycle("recycling", SCARF, outputs=[make("urn:spola:lot:mill:R", "1.5")]))]
    )
    today = datetime.now(UTC).date()

    figures = _figures(app, mill.actor, today)
    assert _strip(figures["volumes"]) == {
        "by_process": [
            {"process": "dyeing", "material": "silk-mulberry", "kg": "26"},
            {"process": "recycling", "material": "item", "kg": "2"},
            {"process": "sewing", "material": "silk-mulberry", "kg": "4"},
        ]
    }
    making = [recycled[0]["index"], own[4]["index"], own[3]["index"], own[2]["index"]]
    assert figures["volumes"]["entries"] == making
    assert figures["partners"] == {  # the dyer (H-1) and the spinner (S-1)
        "count": 2,
        "entries": sorted([sent[0]["index"], received[2]["index"]], reverse=True),
        "entries_total": 2,
    }
    assert figures["acceptance"] == {  # S-1 accepted, D-2 rejected; D-3 still pending
        "share": "0.5",
        "accepted": 1,
        "received": 2,
        "entries": [received[6]["index"], received[5]["index"]],
        "entries_total": 2,
    }
    assert figures["certified"] == {  # LOT_A, the scarf, LOT_A3; not LOT_B, the recycling,
        "share": "0.5",  # nor the dyer's own material event
        "certified": 3,
        "events": 6,
        "entries": [own[4]["index"], own[3]["index"], own[0]["index"]],
        "entries_total": 3,
    }
    milan, como, bergamo = ((Decimal(a), Decimal(b)) for a, b in (MILAN, COMO, BERGAMO))
    mean = (great_circle_km(*milan, *como) + great_circle_km(*bergamo, *milan)) / 2
    assert _strip(figures["distance"]) == {"mean_km": str(mean.quantize(Decimal("0.1"))),
                                           "handovers": 2}  # fmt: skip
    assert figures["services"] == {
        "repair": 0,
        "take-back": 0,
        "recycling": 1,
        "entries": [recycled[0]["index"]],
        "entries_total": 1,
    }

    # The day before: every entry above is after the window's end.
    before = _figures(app, mill.actor, started - timedelta(days=1))
    assert _strip(before["volumes"]) == {"by_process": []}
    assert before["partners"]["count"] == 0
    assert _strip(before["acceptance"]) == {"share": None, "accepted": 0, "received": 0}
    assert _strip(before["certified"]) == {"share": None, "certified": 0, "events": 0}
    assert _strip(before["distance"]) == {"mean_km": None, "handovers": 0}
    assert _strip(before["services"]) == {"repair": 0, "take-back": 0, "recycling": 0}


def test_a_figure_lists_its_latest_fifty_entries_and_counts_them_all(app: Api) -> None:
    mill = enrol_near(app, "mill", MILAN)
    lots = [material(f"urn:spola:lot:mill:{n}", "1", claim=GOTS_CLAIM, certificates=[CERT_GOTS])
            for n in range(51)]  # fmt: skip
    made = [r["index"] for r in app.accept([mill.sign(fields) for fields in lots])]
    certified = _figures(app, mill.actor, datetime.now(UTC).date())["certified"]
    assert _strip(certified) == {"share": "1", "certified": 51, "events": 51}
    assert certified["entries"] == sorted(made, reverse=True)[:50]
    assert certified["entries_total"] == 51
