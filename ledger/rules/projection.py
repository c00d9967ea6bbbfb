"""The projections in memory, for the rebuild and the verifier: ``Projection`` is a
``DomainView`` that applies effects in log order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from ledger.rules.records import (
    ZERO,
    AddCustody,
    CustodyRecord,
    DomainEffect,
    HandoverRecord,
    ItemRecord,
    LotRecord,
    ProvenanceRecord,
    PutHandover,
    PutItem,
    PutLot,
    SetBalance,
)


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
