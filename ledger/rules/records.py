"""The projections' rows, and the effects by which a judged event changes them.

The rows are what the rules read (through ``ledger.rules.judge.DomainView``) and what the store
and ``ledger.rules.projection.Projection`` keep; an effect names one row to put, one balance to
set or one history row to add. Nothing here decides anything: the rules live in the sibling
modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from ledger.quantities import Quantity, unit
from ledger.supply import Claim

ItemStatus = Literal["held", "in_transit", "with_consumer", "consumed", "recycled"]
ENDED: Final = ("consumed", "recycled")
ZERO: Final = Decimal(0)


@dataclass(frozen=True)
class Feedstock:
    recycled: Decimal = ZERO
    reused: Decimal = ZERO
    renewable: Decimal = ZERO


@dataclass(frozen=True)
class LotRecord:
    id: str
    material: str
    unit: str
    mass_per_unit: Decimal | None  # kg in one unit; None when the unit is a mass unit
    origin: str  # the actor that made the lot
    facility: str | None
    made_by: str  # material, process or recycling
    created_at_index: int
    claim: Claim | None
    feedstock: Feedstock

    def mass(self, amount: Decimal) -> Decimal:
        """Kilograms in ``amount`` of this lot's unit."""
        per = None if self.mass_per_unit is None else Quantity(self.mass_per_unit, unit("KGM"))
        return Quantity(amount, unit(self.unit)).as_mass(per)


@dataclass(frozen=True)
class ItemRecord:
    id: str
    product: str
    mass: Decimal  # kg
    maker: str
    owner: str | None  # None: a private person
    custodian: str | None  # None: in transit, or with a private person
    status: ItemStatus
    claim: Claim | None
    feedstock: Feedstock
    created_at_index: int
    updated_at_index: int
    repairs: int = 0
    rentals: int = 0
    resales: int = 0


@dataclass(frozen=True)
class HandoverLine:
    kind: Literal["lot", "item"]
    subject: str
    amount: Decimal | None  # in the lot's unit; None for an item


@dataclass(frozen=True)
class HandoverRecord:
    sender: str
    id: str
    receiver: str
    lines: tuple[HandoverLine, ...]
    status: Literal["pending", "accepted", "rejected"]
    logged_at_index: int
    settled_at_index: int | None = None


@dataclass(frozen=True)
class CustodyRecord:
    """One change to a lot or item: made, consumed, sent, received, returned, sold …

    ``source`` and ``target`` are custodians, except for ``sold`` and ``resold``, where they
    are the owners before and after (None: a private person).
    """

    index: int
    n: int  # order within the event
    kind: Literal["lot", "item"]
    subject: str
    action: str
    source: str | None  # the actor it leaves (None: it is made)
    target: str | None  # the actor it reaches (None: consumed, in transit, with a private person)
    amount: Decimal | None  # lots: in the lot's unit


@dataclass(frozen=True)
class ProvenanceRecord:
    """An input to, or an output of, the making event at ``index``."""

    index: int
    n: int
    role: Literal["input", "output"]
    kind: Literal["lot", "item"]
    subject: str
    mass: Decimal  # kg


@dataclass(frozen=True)
class PutLot:
    record: LotRecord


@dataclass(frozen=True)
class SetBalance:
    lot: str
    holder: str
    amount: Decimal


@dataclass(frozen=True)
class PutItem:
    record: ItemRecord


@dataclass(frozen=True)
class PutHandover:
    record: HandoverRecord


@dataclass(frozen=True)
class AddCustody:
    record: CustodyRecord


@dataclass(frozen=True)
class AddProvenance:
    record: ProvenanceRecord


DomainEffect = PutLot | SetBalance | PutItem | PutHandover | AddCustody | AddProvenance
