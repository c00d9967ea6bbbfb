"""The field types supply-chain events are made of: identifiers, amounts and quantities.

Each type checks one value on its own, so that ``ledger.supply``'s event models refuse a
malformed payload at admission:
- a lot is a GS1 Digital Link batch path ``/01/{gtin14}/10/{lot}`` or
  ``urn:spola:lot:{actor-slug}:{local}``;
- an item is a Digital Link item path ``/01/{gtin14}/21/{serial}`` or
  ``urn:spola:item:{actor-slug}:{serial}``;
both in one canonical spelling, so that one physical lot or item has exactly one identifier;
- amounts and fractions are plain decimal strings; a ``QuantityField`` is one with a UN/ECE
  Rec 20 unit, and ``require_mass`` refuses one that cannot be balanced as mass.
What an event may do given what the log holds is ``ledger.rules``' business.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal
from typing import Annotated, Final, Self

from pydantic import AfterValidator, StringConstraints, model_validator

from ledger.errors import FormatError
from ledger.events import StrictModel
from ledger.identifiers import DigitalLink
from ledger.quantities import Dimension, Quantity, parse_decimal, unit

_URN_LOT: Final = re.compile(
    r"^urn:spola:lot:[a-z0-9][a-z0-9-]{0,62}:[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
)
_URN_ITEM: Final = re.compile(
    r"^urn:spola:item:[a-z0-9][a-z0-9-]{0,62}:[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
)


def _identifier(kind: str, urn: re.Pattern[str], granularity: str) -> AfterValidator:
    def check(value: str) -> str:
        if value.startswith("urn:"):
            if not urn.match(value):
                raise ValueError(
                    f"{kind} URN must be urn:spola:{kind}:{{actor-slug}}:{{id}} with an id of "
                    "1-40 letters, digits, '.', '_' or '-'"
                )
            return value
        try:
            link = DigitalLink.parse(value)
        except FormatError as exc:
            raise ValueError(f"{kind} is neither a spola URN nor a Digital Link: {exc}") from None
        if link.granularity != granularity or link.cpv is not None:
            wanted = "/01/{gtin}/10/{lot}" if kind == "lot" else "/01/{gtin}/21/{serial}"
            raise ValueError(f"a {kind} Digital Link has the form {wanted}")
        if link.path() != value:
            raise ValueError(f"write the {kind} Digital Link as {link.path()}")
        return value

    return AfterValidator(check)


LotId = Annotated[str, StringConstraints(max_length=120), _identifier("lot", _URN_LOT, "batch")]
ItemId = Annotated[str, StringConstraints(max_length=120), _identifier("item", _URN_ITEM, "item")]
CatalogueId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,47}$")]
FacilityId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
LocalId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")]


def _plain_decimal(value: str) -> str:
    try:
        parse_decimal(value)
    except FormatError as exc:
        raise ValueError(str(exc)) from None
    return value


def _fraction(value: str) -> str:
    _plain_decimal(value)
    if Decimal(value) > 1:
        raise ValueError(f"fraction {value} is over 1")
    return value


Amount = Annotated[str, StringConstraints(max_length=40), AfterValidator(_plain_decimal)]
Fraction = Annotated[str, StringConstraints(max_length=40), AfterValidator(_fraction)]


class QuantityField(StrictModel):
    """``{"value": "12.5", "unit": "KGM"}``: a decimal string and a UN/ECE Rec 20 code."""

    value: Amount
    unit: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,3}$")]

    @model_validator(mode="after")
    def _known_unit(self) -> Self:
        try:
            unit(self.unit)
        except FormatError as exc:
            raise ValueError(str(exc)) from None
        return self

    @functools.cached_property
    def quantity(self) -> Quantity:
        # Parsed once per field: the validators and then every rule read it (model equality
        # and dumps ignore the cache: pydantic compares and writes fields only).
        return Quantity.parse(self.value, self.unit)


def require_positive(q: QuantityField, what: str) -> None:
    """Refuse a quantity of 0 or less; ``what`` names it in the message."""
    if q.quantity.value <= 0:
        raise ValueError(f"{what} must be more than 0")


def require_mass(q: QuantityField, per: QuantityField | None, what: str) -> None:
    """Refuse a quantity of 0 or less, or one that cannot be balanced as mass: one not in a
    mass unit needs ``per``, the (positive) mass of one unit; one in a mass unit has none."""
    require_positive(q, what)
    if q.quantity.dimension is Dimension.MASS:
        if per is not None:
            raise ValueError(f"{what} is already a mass: mass_per_unit is not allowed")
        return
    if per is None:
        raise ValueError(
            f"{what} in {q.unit} needs mass_per_unit (the mass of one {unit(q.unit).name}) "
            "so that it can be balanced as mass"
        )
    if per.quantity.dimension is not Dimension.MASS:
        raise ValueError(f"{what}: mass_per_unit must be in a mass unit such as KGM or GRM")
    require_positive(per, f"{what}: mass_per_unit")
