"""Quantities: decimal strings with UN/ECE Rec 20 units, exact conversion, mass for balancing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import FormatError
from ledger.quantities import UNITS, Dimension, Quantity, format_decimal, parse_decimal

_amounts = st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False)
_decimal_units = [u.code for u in UNITS.values() if u.code not in ("FTK", "DZN", "PR")]


@given(_amounts, st.sampled_from(_decimal_units), st.sampled_from(_decimal_units))
def test_conversion_within_a_dimension_round_trips_exactly(
    amount: Decimal, source: str, target: str
) -> None:
    quantity = Quantity(amount, UNITS[source])
    if UNITS[target].dimension is not quantity.dimension:
        with pytest.raises(FormatError, match="cannot convert"):
            quantity.to(target)
        return
    assert quantity.to(target).to(source).value == amount
    assert quantity.to(target).base() == quantity.base()


@given(_amounts)
def test_formatted_decimals_parse_back_to_the_same_value(amount: Decimal) -> None:
    assert parse_decimal(format_decimal(amount)) == amount


def test_known_conversions() -> None:
    assert Quantity.parse("1.5", "TNE").to("KGM").value == Decimal(1500)
    assert Quantity.parse("250", "GRM").to("KGM").value == Decimal("0.25")
    assert Quantity.parse("3", "PR").to("H87").value == Decimal(6)
    assert Quantity.parse("10", "FTK").to("MTK").value == Decimal("0.9290304")


def test_mass_is_mass_and_other_dimensions_need_a_declared_mass_per_unit() -> None:
    assert Quantity.parse("12.5", "KGM").as_mass() == Decimal("12.5")
    silk = Quantity.parse("40", "MTR")
    assert silk.as_mass(Quantity.parse("65", "GRM")) == Decimal("2.600")
    with pytest.raises(FormatError, match="needs a declared mass per metre"):
        silk.as_mass()
    with pytest.raises(FormatError, match="mass unit"):
        silk.as_mass(Quantity.parse("1", "MTK"))


@pytest.mark.parametrize("text", ["", "1e3", "1.", ".5", "-1", "01.5", "1,5", "NaN", "1 000"])
def test_anything_but_a_plain_decimal_string_is_refused(text: str) -> None:
    with pytest.raises(FormatError):
        parse_decimal(text)


def test_negative_only_where_allowed() -> None:
    assert parse_decimal("-2.5", negative=True) == Decimal("-2.5")


def test_unknown_unit_names_the_supported_codes() -> None:
    with pytest.raises(FormatError, match="'LBR' is not a supported UN/ECE Rec 20 code"):
        Quantity.parse("1", "LBR")


def test_every_unit_has_a_positive_factor_in_its_dimension() -> None:
    for code, unit in UNITS.items():
        assert unit.code == code and unit.factor > 0
        assert isinstance(unit.dimension, Dimension)


def test_json_form_is_a_decimal_string_and_a_code() -> None:
    assert Quantity.parse("12.500", "KGM").to_json() == {"value": "12.5", "unit": "KGM"}


@pytest.mark.parametrize(
    "text", ["1" * 16, "1.0000000000001", "1.00000000000000000000000000009", "9" * 40]
)
def test_more_digits_than_the_arithmetic_keeps_exactly_are_refused(text: str) -> None:
    with pytest.raises(FormatError, match="15 digits before the point or 12 after it"):
        parse_decimal(text)


def test_the_widest_accepted_decimal_is_exact() -> None:
    widest = "9" * 15 + "." + "9" * 12
    assert format_decimal(parse_decimal(widest)) == widest
