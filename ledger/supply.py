"""Supply-chain event payloads: material, process, handover, receipt and lifecycle.

These are the events suppliers, brands, repairers and recyclers sign (DESIGN.md, Event types).
The models here check each payload on its own — shapes, identifiers, units, fractions, that
every quantity can be expressed as mass — so a malformed event is refused at admission. Whether
an event may happen given what the log already holds (custody, balances, mass, claims,
certificates) is decided by ``ledger.rules`` and recorded as the entry's verdict.

The field types they are made of (lot and item identifiers, amounts, fractions, quantities) are
defined in ``ledger.supply_fields``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Final, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from ledger.events import EVENT_MODELS, ActorId, Day, Event, Scheme, StrictModel, Text
from ledger.quantities import Dimension
from ledger.supply_fields import (
    Amount,
    CatalogueId,
    FacilityId,
    Fraction,
    ItemId,
    LocalId,
    LotId,
    QuantityField,
    require_mass,
    require_positive,
)

MAX_LINES: Final = 256  # inputs, outputs, handover lines per event
MAX_ITEMS: Final = 1000  # serialized items one process may make


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
        require_mass(self.quantity, self.mass_per_unit, f"lot {self.lot}: quantity")
        return self


class LotLine(StrictModel):
    lot: LotId
    quantity: QuantityField

    @model_validator(mode="after")
    def _some(self) -> Self:
        require_positive(self.quantity, f"lot {self.lot}: quantity")
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
        require_positive(self.mass, f"item {self.id}: mass")
        return self


class Untraced(StrictModel):
    """A declared addition from outside the ledger (thread, dye, adhesive): counted as mass."""

    material: CatalogueId
    quantity: QuantityField
    mass_per_unit: QuantityField | None = None

    @model_validator(mode="after")
    def _balanceable(self) -> Self:
        require_mass(self.quantity, self.mass_per_unit, f"untraced {self.material}: quantity")
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
        require_mass(self.quantity, self.mass_per_unit, "quantity")
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
