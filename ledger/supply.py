"""Supply-chain event payloads: material, process, handover, receipt and lifecycle.

These are the events suppliers, brands, repairers and recyclers sign (DESIGN.md, Event types).
The models here check each payload on its own — shapes, identifiers, units, fractions, that
every quantity can be expressed as mass — so a malformed event is refused at admission. Whether
an event may happen given what the log already holds (custody, balances, mass, claims,
certificates) is decided by ``ledger.rules`` and recorded as the entry's verdict.

Identifiers:
- a lot is a GS1 Digital Link batch path ``/01/{gtin14}/10/{lot}`` or
  ``urn:spola:lot:{actor-slug}:{local}``;
- an item is a Digital Link item path ``/01/{gtin14}/21/{serial}`` or
  ``urn:spola:item:{actor-slug}:{serial}``;
both in one canonical spelling, so that one physical lot or item has exactly one identifier.
"""

from __future__ import annotations

import functools
import re
from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Final, Literal, Self

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from ledger.errors import FormatError
from ledger.events import EVENT_MODELS, ActorId, Day, Event, Scheme, StrictModel, Text
from ledger.identifiers import DigitalLink
from ledger.quantities import Dimension, Quantity, parse_decimal, unit

_URN_LOT: Final = re.compile(
    r"^urn:spola:lot:[a-z0-9][a-z0-9-]{0,62}:[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
)
_URN_ITEM: Final = re.compile(
    r"^urn:spola:item:[a-z0-9][a-z0-9-]{0,62}:[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
)
MAX_LINES: Final = 256  # inputs, outputs, handover lines per event
MAX_ITEMS: Final = 1000  # serialized items one process may make


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


def _positive(q: QuantityField, what: str) -> None:
    if q.quantity.value <= 0:
        raise ValueError(f"{what} must be more than 0")


def _mass_per_unit(q: QuantityField, per: QuantityField | None, what: str) -> None:
    _positive(q, what)
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
    _positive(per, f"{what}: mass_per_unit")


class Certificate(StrictModel):
    """A certificate the signer holds, e.g. GOTS scope or transaction certificate."""

    scheme: Scheme
    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    issuer: Text
    valid_from: Day
    valid_until: Day

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.valid_until < self.valid_from:
            raise ValueError("certificate valid_until is before valid_from")
        return self

    def valid_on(self, day: date) -> bool:
        return date.fromisoformat(self.valid_from) <= day <= date.fromisoformat(self.valid_until)


ClaimModel = Literal["identity_preserved", "segregated", "mass_balance"]
# ISO 22095:2020 chain-of-custody models, strongest first.
MODEL_STRENGTH: Final[dict[str, int]] = {
    "identity_preserved": 3,
    "segregated": 2,
    "mass_balance": 1,
}


class Claim(StrictModel):
    """A chain-of-custody claim: ``certified_fraction`` of the lot's mass is certified under
    ``scheme``, handled under ``model``."""

    model: ClaimModel
    scheme: Scheme
    certified_fraction: Fraction

    @model_validator(mode="after")
    def _some(self) -> Self:
        if Decimal(self.certified_fraction) <= 0:
            raise ValueError("a claim's certified_fraction must be more than 0")
        return self


class Feedstock(StrictModel):
    """Where the material of a new lot comes from, as mass fractions."""

    recycled: Fraction = "0"
    reused: Fraction = "0"
    renewable: Fraction = "0"

    @model_validator(mode="after")
    def _at_most_one(self) -> Self:
        if Decimal(self.recycled) + Decimal(self.reused) > 1:
            raise ValueError("feedstock: recycled + reused is over 1")
        return self


class LotOutput(StrictModel):
    """A new lot made by a process or by recycling."""

    lot: LotId
    material: CatalogueId
    quantity: QuantityField
    mass_per_unit: QuantityField | None = None
    claim: Claim | None = None

    @model_validator(mode="after")
    def _balanceable(self) -> Self:
        _mass_per_unit(self.quantity, self.mass_per_unit, f"lot {self.lot}: quantity")
        return self


class LotLine(StrictModel):
    lot: LotId
    quantity: QuantityField

    @model_validator(mode="after")
    def _some(self) -> Self:
        _positive(self.quantity, f"lot {self.lot}: quantity")
        return self


class ItemLine(StrictModel):
    item: ItemId


Line = LotLine | ItemLine


class ItemOutput(StrictModel):
    """A serialized item made by a process."""

    id: ItemId
    product: Text
    mass: QuantityField
    claim: Claim | None = None

    @model_validator(mode="after")
    def _mass(self) -> Self:
        if self.mass.quantity.dimension is not Dimension.MASS:
            raise ValueError(f"item {self.id}: mass must be in a mass unit such as KGM or GRM")
        _positive(self.mass, f"item {self.id}: mass")
        return self


class Untraced(StrictModel):
    """A declared addition from outside the ledger (thread, dye, adhesive): counted as mass."""

    material: CatalogueId
    quantity: QuantityField
    mass_per_unit: QuantityField | None = None

    @model_validator(mode="after")
    def _balanceable(self) -> Self:
        _mass_per_unit(self.quantity, self.mass_per_unit, f"untraced {self.material}: quantity")
        return self


class Chemical(StrictModel):
    name: Text
    quantity: QuantityField
    zdhc_mrsl_compliant: bool | None = None


class Workforce(StrictModel):
    """Aggregated figures for the process run; never personal data."""

    workers: int = Field(ge=0, le=100_000)
    hours: Amount
    women: int | None = Field(default=None, ge=0, le=100_000)

    @model_validator(mode="after")
    def _women(self) -> Self:
        if self.women is not None and self.women > self.workers:
            raise ValueError("workforce: women is more than workers")
        return self


def _unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value} appears twice")
        seen.add(value)


class MaterialEvent(Event):
    """A new lot at its origin: a silk mill's reeled silk, a tannery's hides, a recycled yarn."""

    type_name: ClassVar[str] = "material"

    type: Literal["material"]
    lot: LotId
    material: CatalogueId
    quantity: QuantityField
    mass_per_unit: QuantityField | None = None
    facility: FacilityId
    feedstock: Feedstock = Feedstock()
    claim: Claim | None = None
    certificates: list[Certificate] = Field(default_factory=list, max_length=16)

    @model_validator(mode="after")
    def _balanceable(self) -> Self:
        _mass_per_unit(self.quantity, self.mass_per_unit, "quantity")
        return self


class ProcessEvent(Event):
    """Input lots (or items) consumed, output lots or serialized items made, at one facility."""

    type_name: ClassVar[str] = "process"

    type: Literal["process"]
    process: CatalogueId
    facility: FacilityId
    inputs: list[Line] = Field(min_length=1, max_length=MAX_LINES)
    outputs: list[LotOutput] = Field(default_factory=list, max_length=MAX_LINES)
    items: list[ItemOutput] = Field(default_factory=list, max_length=MAX_ITEMS)
    untraced: list[Untraced] = Field(default_factory=list, max_length=64)
    certificates: list[Certificate] = Field(default_factory=list, max_length=16)
    energy_kwh: Amount | None = None
    water_l: Amount | None = None
    chemicals: list[Chemical] = Field(default_factory=list, max_length=64)
    workforce: Workforce | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if not self.outputs and not self.items:
            raise ValueError("a process makes at least one output lot or item")
        _unique([line.lot for line in self.inputs if isinstance(line, LotLine)], "input lot")
        _unique([line.item for line in self.inputs if isinstance(line, ItemLine)], "input item")
        _unique([o.lot for o in self.outputs], "output lot")
        _unique([i.id for i in self.items], "item")
        consumed = {line.lot for line in self.inputs if isinstance(line, LotLine)}
        for o in self.outputs:
            if o.lot in consumed:
                raise ValueError(f"lot {o.lot} is both input and output")
        return self


TransportMode = Literal["road", "rail", "sea", "air", "inland-water", "courier", "on-foot"]


class Transport(StrictModel):
    mode: TransportMode
    distance_km: Amount | None = None


class HandoverEvent(Event):
    """Custody of lots or items leaves ``actor`` for ``to``; in transit until ``to`` signs a
    receipt. ``id`` is the sender's reference (a delivery note number), unique per sender."""

    type_name: ClassVar[str] = "handover"

    type: Literal["handover"]
    id: LocalId
    to: ActorId
    lines: list[Line] = Field(min_length=1, max_length=MAX_LINES)
    from_facility: FacilityId | None = None
    to_facility: FacilityId | None = None
    transport: Transport | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.to == self.actor:
            raise ValueError("to: a handover goes to another actor")
        _unique([line.lot for line in self.lines if isinstance(line, LotLine)], "lot")
        _unique([line.item for line in self.lines if isinstance(line, ItemLine)], "item")
        return self


class HandoverRef(StrictModel):
    sender: ActorId
    id: LocalId


class ReceiptEvent(Event):
    """The receiver's answer to a handover: accepted (custody passes) or rejected (returns)."""

    type_name: ClassVar[str] = "receipt"

    type: Literal["receipt"]
    handover: HandoverRef
    accepted: bool
    reason: Text | None = None
    facility: FacilityId | None = None

    @model_validator(mode="after")
    def _reason(self) -> Self:
        if not self.accepted and self.reason is None:
            raise ValueError("reason: a rejected handover says why")
        return self


LifecycleKind = Literal["sale", "resale", "rental", "repair", "take-back", "recycling"]


class LifecycleEvent(Event):
    """What happens to a finished item after it is made: the circular life after sale.

    - ``sale`` / ``resale``: ownership passes to ``to`` (an actor) or, with ``to`` null, to a
      private person;
    - ``rental``: the owner rents the item out until ``until``;
    - ``repair``: ``description`` says what was repaired;
    - ``take-back``: the signer takes the item back (custody and ownership);
    - ``recycling``: the item ends; ``outputs`` are the recycled lots made from it.
    """

    type_name: ClassVar[str] = "lifecycle"

    type: Literal["lifecycle"]
    kind: LifecycleKind
    item: ItemId
    to: ActorId | None = None
    until: Day | None = None
    description: Text | None = None
    facility: FacilityId | None = None
    outputs: list[LotOutput] = Field(default_factory=list, max_length=16)

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.to is not None and self.kind not in ("sale", "resale"):
            raise ValueError(f"to: only sale and resale name a new owner, not {self.kind}")
        if (self.until is not None) != (self.kind == "rental"):
            raise ValueError("until: required for rental and only for rental")
        if self.kind == "repair" and self.description is None:
            raise ValueError("description: a repair says what was repaired")
        if self.outputs and self.kind != "recycling":
            raise ValueError(f"outputs: only recycling makes lots, not {self.kind}")
        _unique([o.lot for o in self.outputs], "output lot")
        return self


SUPPLY_MODELS: Final[tuple[type[Event], ...]] = (
    MaterialEvent,
    ProcessEvent,
    HandoverEvent,
    ReceiptEvent,
    LifecycleEvent,
)
EVENT_MODELS.update((model.type_name, model) for model in SUPPLY_MODELS)
