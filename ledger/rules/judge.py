"""What every rule stands on: the views it reads and ``Judge``, one event's judgement.

``Judge`` holds the event, its log index and the views, collects the effects (nothing is applied
here), and offers the checks and the bookkeeping that several kinds of event share: catalogue
ids, facilities, lots and items that must (or must not) exist, taking from the signer's
balance, custody and provenance rows, a lot made. The rules of each kind of event extend it in
their own module (``making``, ``claims``, ``handover``, ``lifecycle``, ``passports``,
``directory``); ``ledger.rules.apply`` puts them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Literal, Protocol

from ledger.catalogue import catalogue
from ledger.errors import FormatError, RuleViolation
from ledger.events import ActorEvent, Event, parse_event
from ledger.quantities import format_decimal
from ledger.registry import ActorRecord
from ledger.rules.records import (
    ENDED,
    AddCustody,
    AddProvenance,
    CustodyRecord,
    DomainEffect,
    Feedstock,
    HandoverRecord,
    ItemRecord,
    LotRecord,
    ProvenanceRecord,
    PutLot,
    SetBalance,
)
from ledger.supply import ItemLine, LotLine, LotOutput, MaterialEvent


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


def _amount(value: Decimal) -> str:
    return format_decimal(value)


def _kg(value: Decimal) -> str:
    return f"{format_decimal(value)} kg"


@dataclass
class Judge:
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

    @staticmethod
    def _process_type(process: str) -> None:
        if catalogue().process(process) is None:
            raise RuleViolation(
                "catalogue.unknown_process", f"process {process!r} is not in the catalogue"
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


@lru_cache(maxsize=4096)
def _facilities(profile: bytes) -> tuple[str, ...]:
    """The facility ids of an actor's signed profile, parsed once per profile version."""
    event = parse_event(profile)
    return tuple(f.id for f in event.facilities) if isinstance(event, ActorEvent) else ()
