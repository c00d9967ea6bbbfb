"""Domain rules: what a supply-chain event may do, given what the log already holds.

A validly signed, well-formed event can still claim something the ledger knows to be false: a
lot its signer does not hold, more mass out of a dye house than went in, a certified fraction
that grew on the way. ``apply_domain_event`` decides, from a ``DomainView`` of the projections
before the event, either the list of effects the event has on them or a ``RuleViolation``
naming the rule and the numbers. The store applies the effects inside the sequencer's
transaction (``ledger.store.domain``); the rebuild and the verifier apply them to ``Projection``
in memory. Both see the same verdicts because this module is the only place that decides.

The projections:
- lots: what a lot is (material, unit, mass per unit, origin, claim, feedstock fractions);
- balances: how much of a lot each actor holds, in the lot's unit (goods in transit are held by
  nobody until the receiver's receipt);
- items: serialized products, their owner, custodian and status;
- handovers: pending, accepted or rejected;
- custody: one row per change of hands or making, consuming, selling, repairing …;
- provenance: for each making event, its inputs and outputs (the provenance graph).

A passport event adds a custody row with the action ``passport`` whose target is the issuer:
the item's or lot's history then shows who stands behind its passport, and from when.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Final, Literal, Protocol

from ledger.catalogue import catalogue
from ledger.directory_event import ProfileEvent
from ledger.errors import FormatError, RuleViolation
from ledger.events import ActorEvent, Event, parse_event
from ledger.passport import LIFECYCLE_CAUSES, PassportEvent
from ledger.quantities import Quantity, format_decimal, unit
from ledger.registry import ActorRecord
from ledger.supply import (
    MODEL_STRENGTH,
    Certificate,
    Claim,
    HandoverEvent,
    ItemLine,
    ItemOutput,
    LifecycleEvent,
    Line,
    LotLine,
    LotOutput,
    MaterialEvent,
    ProcessEvent,
    ReceiptEvent,
    Untraced,
)

ItemStatus = Literal["held", "in_transit", "with_consumer", "consumed", "recycled"]
ENDED: Final = ("consumed", "recycled")
FRACTION_PLACES: Final = Decimal("0.000001")  # derived feedstock fractions keep 6 places
ZERO: Final = Decimal(0)
# Who may sign a lifecycle event besides the item's owner (DESIGN.md: "an authorised actor").
AUTHORISED_ROLES: Final[dict[str, frozenset[str]]] = {
    "repair": frozenset({"repairer", "brand"}),
    "take-back": frozenset({"brand", "retailer", "recycler", "repairer"}),
    "resale": frozenset({"retailer"}),
}


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


class DomainView(Protocol):
    """The projections as they stand before the event being judged."""

    def lot(self, lot_id: str) -> LotRecord | None: ...

    def balance(self, lot_id: str, holder: str) -> Decimal: ...

    def item(self, item_id: str) -> ItemRecord | None: ...

    def handover(self, sender: str, handover_id: str) -> HandoverRecord | None: ...

    def passport_issuer(self, subject: str) -> str | None:
        """The brand that first issued a passport for ``subject``, if any did."""
        ...


class ActorView(Protocol):
    def actor(self, actor_id: str) -> ActorRecord | None: ...


def apply_domain_event(
    event: Event, *, index: int, view: DomainView, actors: ActorView
) -> list[DomainEffect]:
    """The effects of a supply-chain event; RuleViolation if it breaks a rule.

    Registry events (and any type without domain rules) have no domain effects.
    """
    judge = _Judge(event, index, view, actors)
    if isinstance(event, MaterialEvent):
        judge.material(event)
    elif isinstance(event, ProcessEvent):
        judge.process(event)
    elif isinstance(event, HandoverEvent):
        judge.handover(event)
    elif isinstance(event, ReceiptEvent):
        judge.receipt(event)
    elif isinstance(event, LifecycleEvent):
        judge.lifecycle(event)
    elif isinstance(event, PassportEvent):
        judge.passport(event)
    elif isinstance(event, ProfileEvent):
        judge.profile(event)
    return judge.effects


def _amount(value: Decimal) -> str:
    return format_decimal(value)


def _kg(value: Decimal) -> str:
    return f"{format_decimal(value)} kg"


@dataclass
class _Judge:
    """Checks one event against the view and collects its effects (nothing is applied here)."""

    event: Event
    index: int
    view: DomainView
    actors: ActorView
    effects: list[DomainEffect] = field(default_factory=list)
    _custody_n: int = 0
    _provenance_n: int = 0
    # Changes this event has already made, so that later checks within it see them.
    _balances: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    # -- shared checks --------------------------------------------------------------------

    @property
    def day(self) -> date:
        return date.fromisoformat(self.event.time[:10])

    def _facility(self, facility: str | None) -> None:
        if facility is None:
            return
        record = self.actors.actor(self.event.actor)
        known = () if record is None else _facilities(record.profile)
        if facility not in known:
            raise RuleViolation(
                "actor.unknown_facility",
                f"facility {facility!r} is not registered for {self.event.actor} "
                f"(registered: {', '.join(known) or 'none'})",
            )

    @staticmethod
    def _material(material: str) -> None:
        if catalogue().material(material) is None:
            raise RuleViolation(
                "catalogue.unknown_material", f"material {material!r} is not in the catalogue"
            )

    def _certified(self, claim: Claim | None, certificates: list[Certificate]) -> None:
        if claim is None:
            return
        same = [c for c in certificates if c.scheme == claim.scheme]
        if not any(c.valid_on(self.day) for c in same):
            shown = "; ".join(f"{c.id} {c.valid_from}..{c.valid_until}" for c in same) or "none"
            raise RuleViolation(
                "certificate.not_valid",
                f"a {claim.scheme} claim needs a {claim.scheme} certificate valid on "
                f"{self.day} (given: {shown})",
            )

    def _lot(self, lot_id: str) -> LotRecord:
        record = self.view.lot(lot_id)
        if record is None:
            raise RuleViolation("lot.unknown", f"lot {lot_id} is not in the ledger")
        return record

    def _new_lot(self, lot_id: str) -> None:
        existing = self.view.lot(lot_id)
        if existing is not None:
            raise RuleViolation(
                "lot.exists",
                f"lot {lot_id} already exists (made at log index {existing.created_at_index})",
            )

    def _item(self, item_id: str) -> ItemRecord:
        record = self.view.item(item_id)
        if record is None:
            raise RuleViolation("item.unknown", f"item {item_id} is not in the ledger")
        if record.status in ENDED:
            raise RuleViolation(
                "item.ended",
                f"item {item_id} was {record.status} at log index {record.updated_at_index}",
            )
        return record

    def _balance(self, lot_id: str, holder: str) -> Decimal:
        key = (lot_id, holder)
        if key not in self._balances:
            self._balances[key] = self.view.balance(lot_id, holder)
        return self._balances[key]

    def _set_balance(self, lot_id: str, holder: str, amount: Decimal) -> None:
        self._balances[(lot_id, holder)] = amount
        self.effects.append(SetBalance(lot_id, holder, amount))

    def _in_lot_unit(self, lot: LotRecord, line: LotLine) -> Decimal:
        try:
            return line.quantity.quantity.to(lot.unit).value
        except FormatError:
            raise RuleViolation(
                "quantity.unit_mismatch",
                f"lot {lot.id} is counted in {lot.unit}; {line.quantity.unit} is another dimension",
            ) from None

    def _take(self, line: LotLine, verb: str) -> tuple[LotRecord, Decimal]:
        """Take ``line`` from the signer's balance: custodian and balance rules."""
        lot = self._lot(line.lot)
        amount = self._in_lot_unit(lot, line)
        held = self._balance(lot.id, self.event.actor)
        if held <= 0:
            raise RuleViolation(
                "custody.not_holder",
                f"only the current custodian {verb} a lot: {self.event.actor} holds none of "
                f"lot {lot.id}",
            )
        if amount > held:
            raise RuleViolation(
                "balance.insufficient",
                f"lot {lot.id}: {verb} {_amount(amount)} {lot.unit}, but {self.event.actor} "
                f"holds {_amount(held)} {lot.unit}",
            )
        self._set_balance(lot.id, self.event.actor, held - amount)
        return lot, amount

    def _held_item(self, line: ItemLine, verb: str) -> ItemRecord:
        item = self._item(line.item)
        if item.custodian != self.event.actor or item.status != "held":
            where = "in transit" if item.status == "in_transit" else f"held by {item.custodian}"
            raise RuleViolation(
                "custody.not_holder",
                f"only the current custodian {verb} an item: {line.item} is {where}",
            )
        return item

    def _custody(
        self,
        kind: Literal["lot", "item"],
        subject: str,
        action: str,
        *,
        source: str | None,
        to: str | None,
        amount: Decimal | None = None,
    ) -> None:
        self.effects.append(
            AddCustody(
                CustodyRecord(
                    self.index, self._custody_n, kind, subject, action, source, to, amount
                )
            )
        )
        self._custody_n += 1

    def _provenance(
        self,
        role: Literal["input", "output"],
        kind: Literal["lot", "item"],
        subject: str,
        mass: Decimal,
    ) -> None:
        self.effects.append(
            AddProvenance(
                ProvenanceRecord(self.index, self._provenance_n, role, kind, subject, mass)
            )
        )
        self._provenance_n += 1

    def _make_lot(
        self,
        output: LotOutput | MaterialEvent,
        made_by: str,
        feedstock: Feedstock,
        facility: str | None,
    ) -> LotRecord:
        quantity = output.quantity.quantity
        per = None if output.mass_per_unit is None else output.mass_per_unit.quantity.base()
        record = LotRecord(
            id=output.lot,
            material=output.material,
            unit=quantity.unit.code,
            mass_per_unit=per,
            origin=self.event.actor,
            facility=facility,
            made_by=made_by,
            created_at_index=self.index,
            claim=output.claim,
            feedstock=feedstock,
        )
        self.effects.append(PutLot(record))
        self._set_balance(record.id, self.event.actor, quantity.value)
        self._custody(
            "lot", record.id, "made", source=None, to=self.event.actor, amount=quantity.value
        )
        return record

    # -- material -------------------------------------------------------------------------

    def material(self, event: MaterialEvent) -> None:
        self._material(event.material)
        self._facility(event.facility)
        self._new_lot(event.lot)
        self._certified(event.claim, event.certificates)
        f = event.feedstock
        feedstock = Feedstock(Decimal(f.recycled), Decimal(f.reused), Decimal(f.renewable))
        lot = self._make_lot(event, "material", feedstock, event.facility)
        self._provenance("output", "lot", lot.id, lot.mass(lot_amount(event)))

    # -- process --------------------------------------------------------------------------

    @staticmethod
    def _process_type(process: str) -> None:
        if catalogue().process(process) is None:
            raise RuleViolation(
                "catalogue.unknown_process", f"process {process!r} is not in the catalogue"
            )

    def process(self, event: ProcessEvent) -> None:
        self._process_type(event.process)
        for output in event.outputs:
            self._material(output.material)
        for extra in event.untraced:
            self._material(extra.material)
        self._facility(event.facility)
        for output in event.outputs:
            self._new_lot(output.lot)
        for made in event.items:
            if self.view.item(made.id) is not None:
                raise RuleViolation("item.exists", f"item {made.id} already exists")

        inputs = [self._consume(line) for line in event.inputs]
        mass_in = sum((m for m, _, _ in inputs), ZERO)
        added = [(_untraced_mass(extra), extra) for extra in event.untraced]
        mass_added = sum((m for m, _ in added), ZERO)
        outputs_mass = [(output_mass(o), o) for o in event.outputs]
        items_mass = [(item.mass.quantity.as_mass(), item) for item in event.items]
        mass_out = sum((m for m, _ in outputs_mass), ZERO) + sum((m for m, _ in items_mass), ZERO)
        if mass_out > mass_in + mass_added:
            raise RuleViolation(
                "mass.balance",
                f"outputs weigh {_kg(mass_out)}, more than the {_kg(mass_in)} consumed plus "
                f"{_kg(mass_added)} of declared untraced additions",
            )
        claims = [(m, o.claim) for m, o in outputs_mass] + [(m, i.claim) for m, i in items_mass]
        self._propagate(inputs, claims, event.certificates)

        feedstock = _mix(
            [(m, fs) for m, fs, _ in inputs]
            + [(m, _catalogue_feedstock(extra.material)) for m, extra in added]
        )
        for mass, output in outputs_mass:
            self._make_lot(output, "process", feedstock, event.facility)
            self._provenance("output", "lot", output.lot, mass)
        for mass, made in items_mass:
            self._make_item(made, mass, feedstock)

    def _consume(self, line: Line) -> tuple[Decimal, Feedstock, Claim | None]:
        if isinstance(line, LotLine):
            lot, amount = self._take(line, "processes")
            mass = lot.mass(amount)
            self._custody(
                "lot", lot.id, "consumed", source=self.event.actor, to=None, amount=amount
            )
            self._provenance("input", "lot", lot.id, mass)
            return mass, lot.feedstock, lot.claim
        item = self._held_item(line, "processes")
        if item.owner != self.event.actor:
            raise RuleViolation(
                "custody.not_owner", f"item {item.id} belongs to {item.owner or 'a private person'}"
            )
        self.effects.append(
            PutItem(replace(item, status="consumed", custodian=None, updated_at_index=self.index))
        )
        self._custody("item", item.id, "consumed", source=self.event.actor, to=None)
        self._provenance("input", "item", item.id, item.mass)
        return item.mass, item.feedstock, item.claim

    def _propagate(
        self,
        inputs: list[tuple[Decimal, Feedstock, Claim | None]],
        outputs: list[tuple[Decimal, Claim | None]],
        certificates: list[Certificate],
    ) -> None:
        """Chain of custody (ISO 22095): claims pass through a process and never grow."""
        for _, claim in outputs:
            if claim is None:
                continue
            self._certified(claim, certificates)
            scheme = claim.scheme
            sources = [c for _, _, c in inputs if c is not None and c.scheme == scheme]
            if not sources:
                raise RuleViolation(
                    "claim.no_certified_input",
                    f"an output claims {scheme}, but no input carries a {scheme} claim",
                )
            weakest = min(sources, key=lambda c: MODEL_STRENGTH[c.model])
            if MODEL_STRENGTH[claim.model] > MODEL_STRENGTH[weakest.model]:
                raise RuleViolation(
                    "claim.model_grows",
                    f"an output claims {claim.model} under {scheme}, stronger than the "
                    f"{weakest.model} of its inputs",
                )
            if claim.model != "mass_balance":
                mixed = [c for _, _, c in inputs if c is None or c.scheme != scheme]
                if mixed:
                    raise RuleViolation(
                        "claim.model_grows",
                        f"a {claim.model} {scheme} output cannot mix in {len(mixed)} input(s) "
                        f"without a {scheme} claim",
                    )
                lowest = min(Decimal(c.certified_fraction) for c in sources)
                if Decimal(claim.certified_fraction) > lowest:
                    raise RuleViolation(
                        "claim.fraction_grows",
                        f"an output claims {claim.certified_fraction} {scheme}-certified, more "
                        f"than the {format_decimal(lowest)} of its inputs",
                    )
        for scheme in sorted({c.scheme for _, c in outputs if c is not None}):
            certified_in = sum(
                (
                    m * Decimal(c.certified_fraction)
                    for m, _, c in inputs
                    if c is not None and c.scheme == scheme
                ),
                ZERO,
            )
            certified_out = sum(
                (
                    m * Decimal(c.certified_fraction)
                    for m, c in outputs
                    if c is not None and c.scheme == scheme
                ),
                ZERO,
            )
            if certified_out > certified_in:
                raise RuleViolation(
                    "claim.certified_mass_grows",
                    f"outputs claim {_kg(certified_out)} of {scheme}-certified mass; the inputs "
                    f"carry {_kg(certified_in)}",
                )

    def _make_item(self, made: ItemOutput, mass: Decimal, feedstock: Feedstock) -> None:
        actor = self.event.actor
        self.effects.append(
            PutItem(
                ItemRecord(
                    id=made.id,
                    product=made.product,
                    mass=mass,
                    maker=actor,
                    owner=actor,
                    custodian=actor,
                    status="held",
                    claim=made.claim,
                    feedstock=feedstock,
                    created_at_index=self.index,
                    updated_at_index=self.index,
                )
            )
        )
        self._custody("item", made.id, "made", source=None, to=actor)
        self._provenance("output", "item", made.id, mass)

    # -- handover and receipt -------------------------------------------------------------

    def handover(self, event: HandoverEvent) -> None:
        if self.actors.actor(event.to) is None:
            raise RuleViolation("handover.unknown_receiver", f"{event.to} is not registered")
        existing = self.view.handover(event.actor, event.id)
        if existing is not None:
            raise RuleViolation(
                "handover.exists",
                f"{event.actor} already used handover id {event.id!r} (log index "
                f"{existing.logged_at_index})",
            )
        self._facility(event.from_facility)
        lines: list[HandoverLine] = []
        for line in event.lines:
            if isinstance(line, LotLine):
                lot, amount = self._take(line, "hands over")
                self._custody("lot", lot.id, "sent", source=event.actor, to=event.to, amount=amount)
                lines.append(HandoverLine("lot", lot.id, amount))
            else:
                item = self._held_item(line, "hands over")
                self.effects.append(
                    PutItem(
                        replace(
                            item, custodian=None, status="in_transit", updated_at_index=self.index
                        )
                    )
                )
                self._custody("item", item.id, "sent", source=event.actor, to=event.to)
                lines.append(HandoverLine("item", item.id, None))
        self.effects.append(
            PutHandover(
                HandoverRecord(event.actor, event.id, event.to, tuple(lines), "pending", self.index)
            )
        )

    def receipt(self, event: ReceiptEvent) -> None:
        ref = event.handover
        record = self.view.handover(ref.sender, ref.id)
        if record is None:
            raise RuleViolation(
                "handover.unknown", f"{ref.sender} has no handover {ref.id!r} in the ledger"
            )
        if record.receiver != event.actor:
            raise RuleViolation(
                "receipt.not_receiver",
                f"handover {ref.id!r} of {ref.sender} goes to {record.receiver}; only it signs "
                "the receipt",
            )
        if record.status != "pending":
            raise RuleViolation(
                "handover.not_pending",
                f"handover {ref.id!r} of {ref.sender} was already {record.status} at log index "
                f"{record.settled_at_index}",
            )
        if event.accepted:
            self._facility(event.facility)
        holder, action = (
            (record.receiver, "received") if event.accepted else (record.sender, "returned")
        )
        for line in record.lines:
            if line.kind == "lot":
                assert line.amount is not None
                self._set_balance(
                    line.subject, holder, self._balance(line.subject, holder) + line.amount
                )
                self._custody(
                    "lot", line.subject, action, source=record.sender, to=holder, amount=line.amount
                )
            else:
                item = self.view.item(line.subject)
                assert item is not None  # a pending handover holds the item in transit
                self.effects.append(
                    PutItem(
                        replace(item, custodian=holder, status="held", updated_at_index=self.index)
                    )
                )
                self._custody("item", item.id, action, source=record.sender, to=holder)
        settled: Literal["accepted", "rejected"] = "accepted" if event.accepted else "rejected"
        self.effects.append(
            PutHandover(replace(record, status=settled, settled_at_index=self.index))
        )

    # -- lifecycle ------------------------------------------------------------------------

    def lifecycle(self, event: LifecycleEvent) -> None:
        item = self._item(event.item)
        if item.status == "in_transit":
            raise RuleViolation(
                "lifecycle.wrong_state", f"item {item.id} is in transit; wait for the receipt"
            )
        self._facility(event.facility)
        actor = event.actor
        kind = event.kind
        owner_actor = item.owner == actor
        holds = owner_actor and item.custodian == actor and item.status == "held"
        now = replace(item, updated_at_index=self.index)
        if kind == "sale":
            self._authorise(holds, item, "its owner, holding it")
            now = self._sell(now, event.to)
        elif kind == "resale":
            if item.owner is not None:
                self._authorise(owner_actor, item, "its owner")
            else:
                self._authorise(self._has_role(kind), item, "a resale platform (retailer)")
            now = replace(self._sell(now, event.to), resales=item.resales + 1)
        elif kind == "rental":
            self._authorise(holds, item, "its owner, holding it")
            now = replace(now, rentals=item.rentals + 1)
        elif kind == "repair":
            self._authorise(
                owner_actor or actor in (item.custodian, item.maker) or self._has_role(kind),
                item,
                "its owner, custodian or maker, or a repairer",
            )
            now = replace(now, repairs=item.repairs + 1)
        elif kind == "take-back":
            if item.status != "with_consumer":
                raise RuleViolation(
                    "lifecycle.wrong_state",
                    f"take-back is for items with a private person; {item.id} is held by "
                    f"{item.custodian}",
                )
            self._authorise(
                item.maker == actor or self._has_role(kind),
                item,
                "its maker, a brand, retailer, repairer or recycler",
            )
            now = replace(now, owner=actor, custodian=actor, status="held")
        else:  # recycling
            self._authorise(holds, item, "its owner, holding it (after take-back)")
            self._recycle(event, item)
            now = replace(now, status="recycled", custodian=None)
        self.effects.append(PutItem(now))
        if kind in ("sale", "resale"):  # ownership changes hands: the row names the owners
            source, target = item.owner, now.owner
        else:
            source, target = item.custodian, now.custodian
        self._custody("item", item.id, LIFECYCLE_CAUSES[kind], source=source, to=target)

    # -- directory profiles ----------------------------------------------------------------

    def profile(self, event: ProfileEvent) -> None:
        """A profile offers only what the catalogue knows; it has no effects of its own."""
        for process in event.processes:
            self._process_type(process)
        for material in event.materials:
            self._material(material)

    # -- passports ------------------------------------------------------------------------

    def passport(self, event: PassportEvent) -> None:
        actor, subject = event.actor, event.subject
        record = self.actors.actor(actor)
        if record is None or "brand" not in record.roles:
            raise RuleViolation(
                "passport.not_brand",
                f"{actor} is not registered as a brand; brands issue passports",
            )
        kind: Literal["lot", "item"] = "item" if event.link.granularity == "item" else "lot"
        if kind == "item":
            item = self.view.item(subject)
            if item is None:
                raise RuleViolation(
                    "passport.unknown_subject", f"item {subject} is not in the ledger"
                )
            entitled, who = (
                actor in (item.maker, item.owner),
                f"maker {item.maker}, owner {item.owner}",
            )
        else:
            lot = self.view.lot(subject)
            if lot is None:
                raise RuleViolation(
                    "passport.unknown_subject", f"lot {subject} is not in the ledger"
                )
            entitled = lot.origin == actor or self._balance(subject, actor) > 0
            who = f"maker {lot.origin}"
        issuer = self.view.passport_issuer(subject)
        if issuer is None and not entitled:
            raise RuleViolation(
                "passport.not_entitled",
                f"the first passport of {subject} is issued by a brand that made or owns it "
                f"({who}); {actor} does not",
            )
        if issuer is not None and issuer != actor:
            raise RuleViolation(
                "passport.not_issuer",
                f"the passport of {subject} was issued by {issuer}; only {issuer} re-issues it",
            )
        self._custody(kind, subject, "passport", source=None, to=actor)

    def _has_role(self, kind: str) -> bool:
        record = self.actors.actor(self.event.actor)
        roles = set() if record is None else set(record.roles)
        return bool(roles & AUTHORISED_ROLES[kind])

    def _authorise(self, allowed: bool, item: ItemRecord, who: str) -> None:
        if not allowed:
            assert isinstance(self.event, LifecycleEvent)
            raise RuleViolation(
                "lifecycle.not_authorised",
                f"{self.event.kind} of item {item.id} is signed by {who}; {self.event.actor} "
                f"is not (owner: {item.owner or 'a private person'})",
            )

    def _sell(self, item: ItemRecord, to: str | None) -> ItemRecord:
        if to is None:
            return replace(item, owner=None, custodian=None, status="with_consumer")
        if self.actors.actor(to) is None:
            raise RuleViolation("lifecycle.unknown_buyer", f"{to} is not registered")
        if item.status == "with_consumer":  # bought back from a private person
            return replace(item, owner=to, custodian=to, status="held")
        return replace(item, owner=to)

    def _recycle(self, event: LifecycleEvent, item: ItemRecord) -> None:
        for output in event.outputs:
            self._material(output.material)
            self._new_lot(output.lot)
        made = [(output_mass(o), o) for o in event.outputs]
        total = sum((m for m, _ in made), ZERO)
        if total > item.mass:
            raise RuleViolation(
                "mass.balance",
                f"recycled lots weigh {_kg(total)}, more than the {_kg(item.mass)} item",
            )
        self._provenance("input", "item", item.id, item.mass)
        feedstock = Feedstock(recycled=Decimal(1), renewable=item.feedstock.renewable)
        for mass, output in made:
            if output.claim is not None:
                raise RuleViolation(
                    "claim.no_certified_input",
                    "a recycled lot starts without a claim; certify it with a material event",
                )
            self._make_lot(output, "recycling", feedstock, event.facility)
            self._provenance("output", "lot", output.lot, mass)


def lot_amount(event: MaterialEvent) -> Decimal:
    return event.quantity.quantity.value


def output_mass(output: LotOutput) -> Decimal:
    per = None if output.mass_per_unit is None else output.mass_per_unit.quantity
    return output.quantity.quantity.as_mass(per)


def _untraced_mass(extra: Untraced) -> Decimal:
    per = None if extra.mass_per_unit is None else extra.mass_per_unit.quantity
    return extra.quantity.quantity.as_mass(per)


def _catalogue_feedstock(material: str) -> Feedstock:
    row = catalogue().material(material)
    assert row is not None  # checked by _material before
    return Feedstock(
        recycled=Decimal(1) if row.feedstock == "recycled" else ZERO,
        reused=Decimal(1) if row.feedstock == "reused" else ZERO,
        renewable=Decimal(1) if row.renewable else ZERO,
    )


def _mix(parts: list[tuple[Decimal, Feedstock]]) -> Feedstock:
    """The mass-weighted feedstock of what went into a process."""
    total = sum((m for m, _ in parts), ZERO)
    if total <= 0:
        return Feedstock()

    def share(pick: str) -> Decimal:
        weighted = sum((m * getattr(fs, pick) for m, fs in parts), ZERO) / total
        return weighted.quantize(FRACTION_PLACES, rounding=ROUND_HALF_EVEN).normalize()

    return Feedstock(share("recycled"), share("reused"), share("renewable"))


@lru_cache(maxsize=4096)
def _facilities(profile: bytes) -> tuple[str, ...]:
    """The facility ids of an actor's signed profile, parsed once per profile version."""
    event = parse_event(profile)
    return tuple(f.id for f in event.facilities) if isinstance(event, ActorEvent) else ()


@dataclass
class References:
    """The lots, items and handovers a group of events names: what a store may read ahead."""

    lots: set[str] = field(default_factory=set)
    items: set[str] = field(default_factory=set)
    handovers: set[tuple[str, str]] = field(default_factory=set)

    def add(self, event: Event) -> None:
        lines: list[Line] = []
        made: list[LotOutput] = []
        if isinstance(event, MaterialEvent):
            self.lots.add(event.lot)
        elif isinstance(event, ProcessEvent):
            lines, made = list(event.inputs), list(event.outputs)
            self.items.update(i.id for i in event.items)
        elif isinstance(event, HandoverEvent):
            lines = list(event.lines)
            self.handovers.add((event.actor, event.id))
        elif isinstance(event, ReceiptEvent):
            self.handovers.add((event.handover.sender, event.handover.id))
        elif isinstance(event, LifecycleEvent):
            self.items.add(event.item)
            made = list(event.outputs)
        elif isinstance(event, PassportEvent):
            is_item = event.link.granularity == "item"
            (self.items if is_item else self.lots).add(event.subject)
        self.lots.update(o.lot for o in made)
        for line in lines:
            if isinstance(line, LotLine):
                self.lots.add(line.lot)
            else:
                self.items.add(line.item)

    def add_handover(self, record: HandoverRecord) -> None:
        for line in record.lines:
            (self.lots if line.kind == "lot" else self.items).add(line.subject)


# -- the projections in memory: rebuild and verifier ------------------------------------------


@dataclass
class Projection:
    """All domain projections in memory, built by applying effects in log order.

    Without ``history``, custody and provenance rows (which no rule reads) are not kept.
    """

    lots: dict[str, LotRecord] = field(default_factory=dict)
    balances: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    items: dict[str, ItemRecord] = field(default_factory=dict)
    handovers: dict[tuple[str, str], HandoverRecord] = field(default_factory=dict)
    custody: list[CustodyRecord] = field(default_factory=list)
    provenance: list[ProvenanceRecord] = field(default_factory=list)
    passports: dict[str, str] = field(default_factory=dict)  # subject -> first issuer
    history: bool = True

    def lot(self, lot_id: str) -> LotRecord | None:
        return self.lots.get(lot_id)

    def balance(self, lot_id: str, holder: str) -> Decimal:
        return self.balances.get((lot_id, holder), ZERO)

    def item(self, item_id: str) -> ItemRecord | None:
        return self.items.get(item_id)

    def handover(self, sender: str, handover_id: str) -> HandoverRecord | None:
        return self.handovers.get((sender, handover_id))

    def passport_issuer(self, subject: str) -> str | None:
        return self.passports.get(subject)

    def apply(self, effects: Iterable[DomainEffect]) -> None:
        for effect in effects:
            if isinstance(effect, PutLot):
                self.lots[effect.record.id] = effect.record
            elif isinstance(effect, SetBalance):
                if effect.amount:
                    self.balances[(effect.lot, effect.holder)] = effect.amount
                else:
                    self.balances.pop((effect.lot, effect.holder), None)
            elif isinstance(effect, PutItem):
                self.items[effect.record.id] = effect.record
            elif isinstance(effect, PutHandover):
                record = effect.record
                self.handovers[(record.sender, record.id)] = record
            elif isinstance(effect, AddCustody):
                row = effect.record
                if self.history:
                    self.custody.append(row)
                if row.action == "passport" and row.target is not None:
                    self.passports.setdefault(row.subject, row.target)
            elif self.history:
                self.provenance.append(effect.record)

    def holdings(self, holder: str) -> Iterator[tuple[str, Decimal]]:
        for (lot_id, who), amount in sorted(self.balances.items()):
            if who == holder:
                yield lot_id, amount
