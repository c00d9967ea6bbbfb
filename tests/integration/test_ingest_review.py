"""Ingest attacks found in review: inputs one engine stored and the other could not.

Each test posts a validly signed event through the real ASGI app, on SQLite and PostgreSQL,
and expects the same precise refusal on both, with the log untouched: never a 500 on one
engine and an entry on the other, and never stored projections that a replay of the log (the
offline verifier's) contradicts.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api_support import Api, assert_problem, store_of
from tests.supply import CERT_GOTS, GOTS_CLAIM, facility, item, material, process, q, take
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

LOT = "urn:spola:lot:seteria:S26-0142"
SCARF = "urn:spola:item:seteria:8F3KQ2M7XWAB4C5D"


@pytest.fixture
def mill(app: Api) -> Terminal:
    return app.enrol("seteria", facilities=[facility()])


def _refused(app: Api, terminal: Terminal, fields: dict[str, Any], *detail: str) -> None:
    """``fields``, signed, are refused with 422 naming ``detail``; nothing is logged."""
    size = app.tree_size()
    response = app.post(terminal.sign_unchecked(fields))
    assert_problem(response, 422, "format", *detail)
    assert app.tree_size() == size
    report = store_of(app).rebuild()
    assert report.equal, report.differences


def test_quantity_with_more_digits_than_the_arithmetic_keeps_is_refused(
    app: Api, mill: Terminal
) -> None:
    # Stored rounded to 28 digits but replayed exactly, "1.00000000000000000000000000009"
    # kg let a later event pass the verifier's replay and fail the store (or the reverse).
    _refused(app, mill, material(LOT, "1.00000000000000000000000000009"), "quantity.value")


def test_quantity_too_large_for_the_store_is_refused_on_both_engines(
    app: Api, mill: Terminal
) -> None:
    # 40 nines were a 500 on PostgreSQL (a 41-character balance) and an entry on SQLite.
    _refused(app, mill, material(LOT, "9" * 40), "quantity.value", "digits before the point")


def test_mass_per_unit_too_small_for_the_store_is_refused_on_both_engines(
    app: Api, mill: Terminal
) -> None:
    per = q("0." + "0" * 37 + "1", "GRM")  # 10^-41 kg per metre: 43 characters
    fields = material(LOT, "10", "MTR", mass_per_unit=per)
    _refused(app, mill, fields, "mass_per_unit.value", "after it")


def test_nul_in_an_item_name_is_refused_on_both_engines(app: Api, mill: Terminal) -> None:
    app.accept(mill.sign(material(LOT, "10")))
    made = item(SCARF, product="Foulard\x00Lario")
    _refused(app, mill, process([take(LOT, "1")], items=[made]), "U+0000")


def test_nul_in_a_certificate_named_by_a_verdict_is_refused(app: Api, mill: Terminal) -> None:
    # The expired certificate's id went into the stored violation detail: a 500 on PostgreSQL.
    expired = CERT_GOTS | {"id": "CU\x00824511", "valid_until": "2020-01-02"}
    _refused(app, mill, material(LOT, claim=GOTS_CLAIM, certificates=[expired]), "U+0000")


def test_an_escaped_backslash_before_u0000_is_text_not_nul(app: Api, mill: Terminal) -> None:
    (receipt,) = app.accept(mill.sign(material(LOT)))
    assert receipt["applied"]
    made = item(SCARF, product="C:\\u0000 atelier")  # the six characters \u0000, not a NUL
    (receipt,) = app.accept(mill.sign(process([take(LOT, "1")], items=[made])))
    assert receipt["applied"], receipt
