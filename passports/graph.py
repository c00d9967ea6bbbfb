"""The provenance graph behind a passport, rebuilt from its facts alone.

Starting from the subject, ``walk`` follows each making event upstream to its inputs and
attributes mass: an output that weighs *a* kg of a process whose outputs weigh *O* kg in all
draws ``a * in_k / O`` kg of each input *k* (process losses are shared in proportion). The walk
stops at origins — material events, recycling (a recycled lot is an origin: its past life is a
different product's) and declared untraced additions — and records, for every lot or item on the
way, how much of it this product accounts for. Those figures give the composition, the journey's
transported masses and the short-chain shares.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from ledger.errors import LimitError
from ledger.passport import Fact
from ledger.quantities import Quantity, unit
from ledger.supply import (
    Certificate,
    Claim,
    ItemLine,
    LifecycleEvent,
    LotLine,
    MaterialEvent,
    ProcessEvent,
)
from ledger.supply_fields import QuantityField

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)
MAX_DEPTH: Final = 256  # a making chain deeper than this is refused, not followed


@dataclass(frozen=True)
class Origin:
    """Where a share of the product's mass starts: a material lot, a recycled lot, or an
    addition declared without a lot (untraced)."""

    material: str
    index: int  # the entry that made the lot, or the process that declared the addition
    actor: str
    facility: str | None
    lot: str | None  # None: untraced
    recycled: Decimal
    reused: Decimal
    renewable: Decimal
    claim: Claim | None
    certificates: tuple[Certificate, ...]


@dataclass
class Walk:
    """The result of walking upstream from one subject."""

    origins: dict[Origin, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # kg
    nodes: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # kg
    making: set[int] = field(default_factory=set)  # indexes of the making events passed

    @property
    def origin_mass(self) -> Decimal:
        return sum(self.origins.values(), ZERO)


class Graph:
    """Making events by what they made, and how each lot's unit converts to kilograms."""

    def __init__(self, facts: Iterable[Fact]) -> None:
        self.made: dict[str, Fact] = {}
        self._units: dict[str, tuple[str, QuantityField | None]] = {}
        self._made_quantity: dict[str, QuantityField] = {}
        self.item_mass: dict[str, Decimal] = {}
        self.item_claim: dict[str, Claim | None] = {}
        for fact in facts:
            self._add(fact)

    def _add(self, fact: Fact) -> None:
        event = fact.event
        if isinstance(event, MaterialEvent):
            self.made[event.lot] = fact
            self._lot(event.lot, event.quantity, event.mass_per_unit)
        elif isinstance(event, ProcessEvent):
            for out in event.outputs:
                self.made[out.lot] = fact
                self._lot(out.lot, out.quantity, out.mass_per_unit)
            for item in event.items:
                self.made[item.id] = fact
                self.item_mass[item.id] = item.mass.quantity.as_mass()
                self.item_claim[item.id] = item.claim
        elif isinstance(event, LifecycleEvent) and event.kind == "recycling":
            for out in event.outputs:
                self.made[out.lot] = fact
                self._lot(out.lot, out.quantity, out.mass_per_unit)

    def _lot(self, lot_id: str, quantity: QuantityField, per: QuantityField | None) -> None:
        self._units[lot_id] = (quantity.unit, per)
        self._made_quantity[lot_id] = quantity

    def lot_kg(self, lot_id: str, quantity: QuantityField) -> Decimal:
        """Kilograms in ``quantity`` of ``lot_id``, through the lot's declared mass per unit."""
        code, per = self._units[lot_id]
        amount = quantity.quantity.to(code)
        mass_per_unit = None if per is None else Quantity(per.quantity.as_mass(), unit("KGM"))
        return amount.as_mass(mass_per_unit)

    def output_kg(self, event: ProcessEvent | LifecycleEvent) -> Decimal:
        total = sum((self.lot_kg(o.lot, o.quantity) for o in event.outputs), ZERO)
        if isinstance(event, ProcessEvent):
            total += sum((i.mass.quantity.as_mass() for i in event.items), ZERO)
        return total

    def node_kg(self, subject: str) -> Decimal:
        """The whole mass of an item or a lot as made."""
        if subject in self.item_mass:
            return self.item_mass[subject]
        return self.lot_kg(subject, self._made_quantity[subject])

    def walk(self, subject: str, kg: Decimal) -> Walk:
        """Attribute ``kg`` of ``subject`` to everything upstream of it.

        Each lot or item is expanded once, with the sum of what every path through it draws:
        splits and merges form a lattice whose paths grow as 2 ** layers, but its lots do not.
        Nodes are taken latest-made first, so every consumer of a lot has added its share to
        the lot before the lot is expanded (an input is always made before it is consumed).

        Raises LimitError when something lies more than ``MAX_DEPTH`` making steps upstream
        (the ledger admits a chain of any length; the walk does not follow one that deep), and
        ValueError when a lot or item is an input of what it made (facts the ledger never
        admits: a lot is made once and only a lot already made is consumed).
        """
        result = Walk()
        pending: dict[str, Decimal] = {subject: kg}
        depth: dict[str, int] = {subject: 0}
        queue = [(self._order(subject), subject)]
        while queue:
            _, node = heapq.heappop(queue)
            for child, share in self._expand(node, pending.pop(node), result):
                if child not in pending:
                    if child in result.nodes:
                        raise ValueError(f"{child} is an input of what it made")
                    pending[child] = ZERO
                    heapq.heappush(queue, (self._order(child), child))
                pending[child] += share
                depth[child] = max(depth.get(child, 0), depth[node] + 1)
                if depth[child] > MAX_DEPTH:
                    raise LimitError(f"the making chain of {subject} is deeper than {MAX_DEPTH}")
        return result

    def _order(self, subject: str) -> int:
        # Latest-made first; a node made outside the facts (never expanded) last.
        fact = self.made.get(subject)
        return 1 if fact is None else -fact.index

    def _expand(self, subject: str, kg: Decimal, result: Walk) -> Iterator[tuple[str, Decimal]]:
        """Record ``kg`` of ``subject``; yield the inputs it draws on, with their kg."""
        result.nodes[subject] += kg
        fact = self.made.get(subject)
        if fact is None:
            return  # made outside the facts: not a passport built from this log
        result.making.add(fact.index)
        event = fact.event
        if isinstance(event, MaterialEvent):
            result.origins[_material_origin(fact, event)] += kg
        elif isinstance(event, LifecycleEvent):
            result.origins[_recycled_origin(fact, event, subject)] += kg
        elif isinstance(event, ProcessEvent):
            yield from self._inputs(fact, event, kg, result)

    def _inputs(
        self, fact: Fact, event: ProcessEvent, kg: Decimal, result: Walk
    ) -> Iterator[tuple[str, Decimal]]:
        share = kg / self.output_kg(event)
        for line in event.inputs:
            if isinstance(line, LotLine):
                yield line.lot, share * self.lot_kg(line.lot, line.quantity)
            elif isinstance(line, ItemLine):
                yield line.item, share * self.item_mass.get(line.item, ZERO)
        for extra in event.untraced:
            per = extra.mass_per_unit
            mass = extra.quantity.quantity.as_mass(
                None if per is None else Quantity(per.quantity.as_mass(), unit("KGM"))
            )
            origin = Origin(
                extra.material, fact.index, event.actor, event.facility, None,
                ZERO, ZERO, ZERO, None, (),
            )  # fmt: skip
            result.origins[origin] += share * mass


def _material_origin(fact: Fact, event: MaterialEvent) -> Origin:
    f = event.feedstock
    return Origin(
        event.material,
        fact.index,
        event.actor,
        event.facility,
        event.lot,
        Decimal(f.recycled),
        Decimal(f.reused),
        Decimal(f.renewable),
        event.claim,
        tuple(event.certificates),
    )


def _recycled_origin(fact: Fact, event: LifecycleEvent, lot_id: str) -> Origin:
    out = next(o for o in event.outputs if o.lot == lot_id)
    return Origin(
        out.material, fact.index, event.actor, event.facility, lot_id,
        ONE, ZERO, ZERO, None, (),
    )  # fmt: skip
