"""Properties of the domain rules over random event sequences, replayed in memory.

hypothesis drives three workshops through random materials, processes, handovers, receipts and
sales — some valid, many not (over-spending, wrong receiver, mass from nowhere). Whatever the
sequence, no balance goes negative, every lot's quantity is conserved (made = held + in transit
+ consumed), and a second replay of the same entries reproduces every verdict and projection.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.events import OPERATOR_ACTOR
from ledger.keys import PrivateKey
from ledger.registry import KeyRecord
from ledger.replay import Replay
from ledger.rules import Projection
from tests.supply import facility, handover, item, lifecycle, make, material, process, receipt, take
from tests.terminal import Terminal

SLUGS = ("seteria", "tintoria", "maison")
T = TypeVar("T")
AMOUNTS = st.integers(min_value=1, max_value=120).map(str)


class World:
    """A replayed log with three registered workshops."""

    def __init__(self, operator: Terminal | None = None, genesis: bytes | None = None) -> None:
        self.operator = operator or Terminal(actor=OPERATOR_ACTOR)
        log_key = KeyRecord(
            key_id=self.operator.key_id,
            public_key=self.operator.key.public_key.raw,
            actor=OPERATOR_ACTOR,
            valid_from_index=0,
        )
        self.replay = Replay(log_key)
        self.entries: list[bytes] = []
        if genesis is not None:  # the log already holds its genesis entry
            self.replay.feed(genesis)
        else:
            self.feed(
                self.operator,
                {
                    "type": "actor",
                    "op": "register",
                    "id": OPERATOR_ACTOR,
                    "name": "op",
                    "roles": ["operator"],
                    "country": "IT",
                },
            )
        self.workshops: list[Terminal] = []
        for slug in SLUGS:
            actor = f"urn:spola:actor:{slug}"
            terminal = Terminal(actor=actor, key=PrivateKey.generate())
            roles = ["brand"] if slug == "maison" else ["supplier"]
            self.feed(
                self.operator,
                {
                    "type": "actor",
                    "op": "register",
                    "id": actor,
                    "name": slug,
                    "roles": roles,
                    "country": "IT",
                    "facilities": [facility()],
                },
            )
            self.feed(
                self.operator,
                {
                    "type": "key",
                    "op": "add",
                    "subject": actor,
                    "key_id": terminal.key_id,
                    "public_key": terminal.key.public_key.to_base64(),
                },
            )
            self.workshops.append(terminal)
        self.lots: list[str] = []
        self.items: list[str] = []
        self.handovers: list[tuple[str, str]] = []

    def feed(self, terminal: Terminal, fields: dict[str, Any]) -> None:
        entry = terminal.sign(fields).to_bytes()
        self.entries.append(entry)
        self.replay.feed(entry)

    @property
    def projection(self) -> Projection:
        return self.replay.projection


class Chooser(Protocol):
    def pick(self, options: Sequence[T]) -> T: ...

    def amount(self) -> str: ...

    def coin(self) -> bool: ...


@dataclass
class Drawn:
    """Choices drawn by hypothesis (shrinkable)."""

    data: st.DataObject

    def pick(self, options: Sequence[T]) -> T:
        return self.data.draw(st.sampled_from(options))

    def amount(self) -> str:
        return self.data.draw(AMOUNTS)

    def coin(self) -> bool:
        return self.data.draw(st.booleans())


@dataclass
class Seeded:
    """Choices from a seeded generator, for long sequences on a real database."""

    rng: random.Random

    def pick(self, options: Sequence[T]) -> T:
        return self.rng.choice(list(options))

    def amount(self) -> str:
        return str(self.rng.randint(1, 120))

    def coin(self) -> bool:
        return self.rng.random() < 0.5


def step(world: World, choose: Chooser, n: int) -> None:
    """One random event: often valid, often breaking a rule."""
    who = choose.pick(world.workshops)
    other = choose.pick([w for w in world.workshops if w is not who])
    kind = choose.pick(["material", "process", "handover", "receipt", "sale"])
    if kind == "material" or not world.lots:
        lot = f"urn:spola:lot:{who.actor.rsplit(':', 1)[1]}:L{n}"
        world.lots.append(lot)
        world.feed(who, material(lot, choose.amount()))
    elif kind == "process":
        source = choose.pick(world.lots)
        used = choose.amount()
        out = f"urn:spola:lot:p:L{n}"
        world.lots.append(out)
        made = choose.pick([[make(out, used)], [make(out, str(int(used) + 1))]])
        items = []
        if choose.coin():
            items = [item(f"urn:spola:item:p:I{n}", "0.5")]
            world.items.append(items[0]["id"])
        world.feed(who, process([take(source, used)], made, items))
    elif kind == "handover":
        lot = choose.pick(world.lots)
        hid = f"H{n}"
        world.handovers.append((who.actor, hid))
        world.feed(who, handover(hid, other.actor, [take(lot, choose.amount())]))
    elif kind == "receipt" and world.handovers:
        sender, hid = choose.pick(world.handovers)
        world.feed(who, receipt(sender, hid, accepted=choose.coin()))
    elif world.items:
        world.feed(who, lifecycle("sale", choose.pick(world.items)))


def check_conservation(p: Projection) -> None:
    moved: dict[str, Decimal] = {}
    for row in p.custody:
        if row.kind == "lot" and row.amount is not None:
            sign = {"made": 1, "consumed": -1}.get(row.action, 0)
            moved[row.subject] = moved.get(row.subject, Decimal(0)) + sign * row.amount
    held: dict[str, Decimal] = {}
    for (lot, _), amount in p.balances.items():
        assert amount > 0
        held[lot] = held.get(lot, Decimal(0)) + amount
    for record in p.handovers.values():
        if record.status == "pending":
            for line in record.lines:
                if line.amount is not None:
                    held[line.subject] = held.get(line.subject, Decimal(0)) + line.amount
    for lot in p.lots:
        assert moved.get(lot, Decimal(0)) == held.get(lot, Decimal(0)), lot


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), steps=st.integers(min_value=1, max_value=40))
def test_random_sequences_keep_balances_and_replay_identically(
    data: st.DataObject, steps: int
) -> None:
    world = World()
    for n in range(steps):
        step(world, Drawn(data), n)
        check_conservation(world.projection)

    again = Replay(world.replay.log_key)
    for entry in world.entries:
        again.feed(entry)
    assert again.verdicts == world.replay.verdicts
    assert again.projection == world.projection
    assert again.registry == world.replay.registry
    assert again.feeds == world.replay.feeds


def test_a_double_spend_is_a_named_verdict_in_replay() -> None:
    world = World()
    mill, dyer, brand = world.workshops
    lot = "urn:spola:lot:seteria:L1"
    world.feed(mill, material(lot, "10"))
    world.feed(mill, handover("H1", dyer.actor, [take(lot, "8")]))
    world.feed(mill, handover("H2", brand.actor, [take(lot, "8")]))
    verdict = world.replay.verdicts[-1]
    assert verdict is not None and verdict.rule == "balance.insufficient"
    assert world.projection.balance(lot, mill.actor) == 2
