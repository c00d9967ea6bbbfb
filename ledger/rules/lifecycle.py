"""An item's life after it is made: sale, resale, rental, repair, take-back and recycling,
each signed by the owner or an actor authorised for it; recycling turns the item into lots.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Final

from ledger.errors import RuleViolation
from ledger.passport import LIFECYCLE_CAUSES
from ledger.rules.judge import Judge, _kg
from ledger.rules.mass import output_mass
from ledger.rules.records import ZERO, Feedstock, ItemRecord, PutItem
from ledger.supply import LifecycleEvent

# Who may sign a lifecycle event besides the item's owner (DESIGN.md: "an authorised actor").
AUTHORISED_ROLES: Final[dict[str, frozenset[str]]] = {
    "repair": frozenset({"repairer", "brand"}),
    "take-back": frozenset({"brand", "retailer", "recycler", "repairer"}),
    "resale": frozenset({"retailer"}),
}


class LifecycleRules(Judge):
    """The rules of lifecycle events."""

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
