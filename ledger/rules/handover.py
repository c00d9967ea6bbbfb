"""Handovers and receipts: a handover takes lots and items from the sender, who must hold
them, into transit; the receiver's receipt accepts them, or rejects them back to the sender.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from ledger.errors import RuleViolation
from ledger.rules.judge import Judge
from ledger.rules.records import HandoverLine, HandoverRecord, PutHandover, PutItem
from ledger.supply import HandoverEvent, LotLine, ReceiptEvent


class HandoverRules(Judge):
    """The rules of handover and receipt events."""

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
