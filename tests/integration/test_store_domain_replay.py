"""A long random supply-chain history on a real database: stored verdicts and projections equal
an independent in-memory replay of the same entries, and ``rebuild`` proves it on both engines.
"""

from __future__ import annotations

import random

from ledger.envelope import Envelope
from ledger.store.ledger import LedgerStore
from tests.terminal import Terminal
from tests.unit.test_rules_properties import Seeded, World, check_conservation, step

STEPS = 400


def test_stored_projections_equal_an_independent_replay(
    store: LedgerStore, operator: Terminal
) -> None:
    genesis = store.entries(0, 1)[0].entry
    world = World(operator, genesis)
    choose = Seeded(random.Random(20261126))
    for n in range(STEPS):
        step(world, choose, n)
    check_conservation(world.projection)

    envelopes = [Envelope.from_bytes(entry) for entry in world.entries]
    for start in range(0, len(envelopes), 37):  # batches of odd sizes
        store.append(envelopes[start : start + 37])

    stored = [e.violation for e in store.entries(1, store.tree_size())]
    assert stored == world.replay.verdicts[1:]
    rules = {v.rule for v in stored if v is not None}
    assert {"balance.insufficient", "custody.not_holder", "mass.balance"} <= rules
    assert sum(v is None for v in stored) > STEPS // 10, "a good share of the history applies"
    report = store.rebuild()
    assert report.equal, report.differences
    assert report.compared["lots"] == len(world.projection.lots)
    assert report.compared["custody"] == len(world.projection.custody)
