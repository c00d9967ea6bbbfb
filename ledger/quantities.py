"""Physical quantities: decimal strings with UN/ECE Recommendation 20 unit codes.

Payloads never carry floats: a quantity is a decimal string (``"12.500"``) and a Rec 20 code
(``"KGM"``). This module parses and checks them, converts exactly (``decimal.Decimal``) between
units of one dimension, and expresses any quantity as mass for balancing — directly for mass
units, through a declared mass per unit for pieces, lengths and areas (a bolt of silk in metres,
a hide in square metres, buttons in pieces).

Which event fields hold quantities, and the rules that balance them, belong to the domain
events; this module only knows units and arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from enum import Enum
from typing import Final

from ledger.errors import FormatError

MAX_DIGITS: Final = 28  # significant digits kept; more than any scale in a supply chain needs
# A decimal string has at most this many digits before and after its point (27 in all, within
# MAX_DIGITS): every value an event carries is then exact in the arithmetic below. What the
# rules derive from it may be longer (a tiny amount converted into FTK or DZN keeps 28
# significant digits however small it is): the store keeps amounts as TEXT (migration 0007).
MAX_WHOLE_DIGITS: Final = 15
MAX_FRACTION_DIGITS: Final = 12
_EXACT: Final = Context(prec=MAX_DIGITS, traps=[InvalidOperation])


class Dimension(Enum):
    MASS = "mass"
    LENGTH = "length"
    AREA = "area"
    VOLUME = "volume"
    COUNT = "count"


@dataclass(frozen=True)
class Unit:
    code: str  # UN/ECE Recommendation 20 common code
    name: str
    dimension: Dimension
    factor: Decimal  # size of one unit in the dimension's base unit (kg, m, m², l, piece)


UNITS: Final[dict[str, Unit]] = {
    unit.code: unit
    for unit in (
        Unit("KGM", "kilogram", Dimension.MASS, Decimal(1)),
        Unit("GRM", "gram", Dimension.MASS, Decimal("0.001")),
        Unit("MGM", "milligram", Dimension.MASS, Decimal("0.000001")),
        Unit("TNE", "tonne", Dimension.MASS, Decimal(1000)),
        Unit("MTR", "metre", Dimension.LENGTH, Decimal(1)),
        Unit("CMT", "centimetre", Dimension.LENGTH, Decimal("0.01")),
        Unit("MMT", "millimetre", Dimension.LENGTH, Decimal("0.001")),
        Unit("KTM", "kilometre", Dimension.LENGTH, Decimal(1000)),
        Unit("MTK", "square metre", Dimension.AREA, Decimal(1)),
        Unit("CMK", "square centimetre", Dimension.AREA, Decimal("0.0001")),
        Unit("FTK", "square foot", Dimension.AREA, Decimal("0.09290304")),  # hides are sold in ft²
        Unit("LTR", "litre", Dimension.VOLUME, Decimal(1)),
        Unit("MLT", "millilitre", Dimension.VOLUME, Decimal("0.001")),
        Unit("MTQ", "cubic metre", Dimension.VOLUME, Decimal(1000)),
        Unit("H87", "piece", Dimension.COUNT, Decimal(1)),
        Unit("C62", "one (unit)", Dimension.COUNT, Decimal(1)),
        Unit("PR", "pair", Dimension.COUNT, Decimal(2)),
        Unit("DZN", "dozen", Dimension.COUNT, Decimal(12)),
    )
}


def unit(code: str) -> Unit:
    found = UNITS.get(code)
    if found is None:
        known = ", ".join(sorted(UNITS))
        raise FormatError(f"unit {code!r} is not a supported UN/ECE Rec 20 code ({known})")
    return found


def parse_decimal(text: str, *, what: str = "quantity", negative: bool = False) -> Decimal:
    """A plain decimal string (``"12.5"``, ``"0.125"``): no exponent, sign only if allowed.

    Digits are the ASCII 0-9 only: ``str.isdigit`` also holds for "²" and "٣", which Decimal
    refuses or reads as a second spelling of one amount.
    """
    if not isinstance(text, str) or not text or len(text) > 40:
        raise FormatError(f"{what} must be a decimal string such as '12.5'")
    if not text.isascii():
        raise FormatError(
            f"{what} {text!a} is not a plain decimal string: digits must be ASCII 0-9"
        )
    body = text[1:] if text.startswith("-") and negative else text
    whole, _, fraction = body.partition(".")
    if not whole.isdigit() or not (fraction == "" or fraction.isdigit()) or body.endswith("."):
        raise FormatError(f"{what} {text!r} is not a plain decimal string such as '12.5'")
    if len(whole) > 1 and whole.startswith("0"):
        raise FormatError(f"{what} {text!r} has a leading zero")
    if len(whole) > MAX_WHOLE_DIGITS or len(fraction) > MAX_FRACTION_DIGITS:
        raise FormatError(
            f"{what} {text!r} has more than {MAX_WHOLE_DIGITS} digits before the point or "
            f"{MAX_FRACTION_DIGITS} after it"
        )
    return Decimal(text)


def format_decimal(value: Decimal) -> str:
    """The shortest plain decimal string for ``value`` (no exponent, no trailing zeros)."""
    if not value.is_finite():
        raise FormatError(f"{value} is not a finite quantity")
    text = format(value.normalize(_EXACT), "f")
    return "0" if text in ("-0", "0") else text


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    unit: Unit

    @classmethod
    def parse(cls, value: str, code: str, *, what: str = "quantity") -> Quantity:
        number = parse_decimal(value, what=what)
        return cls(number, unit(code))

    @property
    def dimension(self) -> Dimension:
        return self.unit.dimension

    def to(self, code: str) -> Quantity:
        """The same amount in another unit of the same dimension, exactly."""
        target = unit(code)
        if target.dimension is not self.unit.dimension:
            raise FormatError(
                f"cannot convert {self.unit.name} ({self.unit.dimension.value}) to "
                f"{target.name} ({target.dimension.value})"
            )
        base = _EXACT.multiply(self.value, self.unit.factor)
        return Quantity(_EXACT.divide(base, target.factor), target)

    def base(self) -> Decimal:
        """The amount in the dimension's base unit (kg, m, m², l, pieces)."""
        return _EXACT.multiply(self.value, self.unit.factor)

    def as_mass(self, mass_per_unit: Quantity | None = None) -> Decimal:
        """Kilograms: directly for mass, else through the declared mass of one ``unit``.

        ``mass_per_unit`` is the mass of one of this quantity's units (one piece, one metre,
        one square metre), as declared in the event. A quantity that is not mass and has no
        declared mass per unit cannot be balanced: FormatError names what is missing.
        """
        if self.dimension is Dimension.MASS:
            return self.base()
        if mass_per_unit is None:
            raise FormatError(
                f"{format_decimal(self.value)} {self.unit.code} needs a declared mass per "
                f"{self.unit.name} to be balanced as mass"
            )
        if mass_per_unit.dimension is not Dimension.MASS:
            raise FormatError(f"mass per {self.unit.name} must be in a mass unit")
        return _EXACT.multiply(self.value, mass_per_unit.base())

    def to_json(self) -> dict[str, str]:
        return {"value": format_decimal(self.value), "unit": self.unit.code}
