"""What a group of events names (lots, items, handovers): what a store may read ahead of
judging them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.events import Event
from ledger.passport import PassportEvent
from ledger.rules.records import HandoverRecord
from ledger.supply import (
    HandoverEvent,
    LifecycleEvent,
    Line,
    LotLine,
    LotOutput,
    MaterialEvent,
    ProcessEvent,
    ReceiptEvent,
)


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
