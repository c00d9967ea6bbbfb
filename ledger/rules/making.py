"""Making: a material event makes a lot; a process consumes lots and items the signer holds
and makes lots and items, within the mass balance, its claims passed on (``claims``) and its
feedstock mixed (``mass``).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from ledger.errors import RuleViolation
from ledger.rules.claims import ClaimRules
from ledger.rules.judge import _kg
from ledger.rules.mass import _catalogue_feedstock, _mix, _untraced_mass, lot_amount, output_mass
from ledger.rules.records import ZERO, Feedstock, ItemRecord, PutItem
from ledger.supply import Claim, ItemOutput, Line, LotLine, MaterialEvent, ProcessEvent


class MakingRules(ClaimRules):
    """The rules of material and process events."""

    def material(self, event: MaterialEvent) -> None:
        self._material(event.material)
        self._facility(event.facility)
        self._new_lot(event.lot)
        self._certified(event.claim, event.certificates)
        f = event.feedstock
        feedstock = Feedstock(Decimal(f.recycled), Decimal(f.reused), Decimal(f.renewable))
        lot = self._make_lot(event, "material", feedstock, event.facility)
        self._provenance("output", "lot", lot.id, lot.mass(lot_amount(event)))

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
