"""The directory reads an actor's handovers up to the cut, not its whole handover history.

``track_record.histories`` keeps the latest ``MAX_EVENTS`` handovers each actor sent and the
latest ``MAX_EVENTS`` it received. A ``row_number()`` window alone gives the right rows, but
the database reads every handover of the actor before the window cuts it: a public search over
a mill that shipped a million times would read a million handovers, of which the twelve-month
window uses a few. Here ``MAX_EVENTS`` is 3 and one actor hands 30, then 300 lots' worth to
another; the statements that read the handovers sent and received must cost the same for both,
and find what the plain per-actor read (``ORDER BY ... LIMIT``) finds. On PostgreSQL the cost is
the rows its scans of ``handovers`` and ``log_entries`` return (``EXPLAIN ANALYZE``, the tables
analyzed and a sequential scan ruled out, as on a log too large to scan); on SQLite, the
virtual-machine instructions the statement runs (a progress handler called at each one).
"""

from __future__ import annotations

import pytest

from ledger.store import track_record
from ledger.store.ledger import LedgerStore
from ledger.store.track_record import History
from tests.integration.test_directory_batch_review import one_by_one
from tests.integration.test_directory_read_bound import cost
from tests.integration.test_store_indexes import Statement, sent
from tests.supply import enrol_actor, handover, material, receipt
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

LIMIT = 3
TABLES = ("handovers", "log_entries")


def hand_over(store: LedgerStore, mill: Terminal, brand: Terminal, first: int, count: int) -> None:
    """``count`` handovers of 1 kg from the mill's lot to the brand, every third accepted."""
    lot = "urn:spola:lot:mill:bale"
    lines = [{"lot": lot, "quantity": {"value": "1", "unit": "KGM"}}]
    names = [f"h{n:04d}" for n in range(first, first + count)]
    store.append([mill.sign(handover(name, brand.actor, lines)) for name in names])
    store.append([brand.sign(receipt(mill.actor, name)) for name in names[::3]])


def handover_reads(
    store: LedgerStore, actor_ids: list[str]
) -> tuple[list[Statement], dict[str, History]]:
    """The statements of ``histories`` that read ``handovers``, and the histories."""
    with sent(store.engine) as statements, store.engine.connect() as conn:
        found = track_record.histories(conn, actor_ids)
    return [s for s in statements if "handovers" in s[0]], found


def assert_as_read_alone(store: LedgerStore, found: dict[str, History]) -> None:
    """The handovers each way are those the per-actor read (no window) finds."""
    with store.connect() as conn:
        for actor_id, history in found.items():
            alone = one_by_one(conn, actor_id)
            assert (history.sent, history.received) == (alone.sent, alone.received)


def test_an_actors_handovers_are_read_up_to_the_cut_not_its_whole_history(
    store: LedgerStore, operator: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(track_record, "MAX_EVENTS", LIMIT)
    mill = enrol_actor(store, operator, "mill")
    brand = enrol_actor(store, operator, "brand", ("brand",))
    store.append([mill.sign(material("urn:spola:lot:mill:bale", "1000"))])
    actors = [mill.actor, brand.actor]
    hand_over(store, mill, brand, 0, 30)
    few, found = handover_reads(store, actors)
    # Sent, received; then the newest handover each cut left out: the mill's sent, the
    # brand's received (``track_record._cut``), as bounded as the rest.
    assert len(few) == 4
    assert len(found[mill.actor].sent) == len(found[brand.actor].received) == LIMIT
    assert_as_read_alone(store, found)
    at_30 = [cost(store.engine, s, TABLES) for s in few]
    hand_over(store, mill, brand, 30, 270)
    many, latest = handover_reads(store, actors)
    newest = [i for i, _, _ in latest[mill.actor].sent]
    assert len(newest) == LIMIT and min(newest) > max(i for i, _, _ in found[mill.actor].sent)
    assert [r.index for r in latest[brand.actor].received] == newest
    assert_as_read_alone(store, latest)
    at_300 = [cost(store.engine, s, TABLES) for s in many]
    # Reading every handover would cost about ten times as much at 300 as at 30.
    assert all(b <= a * 1.2 + 3 * LIMIT for a, b in zip(at_30, at_300, strict=True)), (
        at_30,
        at_300,
    )
    if store.engine.dialect.name != "sqlite":
        # Per actor and way: its cutoff, the three handovers from it, their three entries.
        assert all(b <= 10 * LIMIT for b in at_300), at_300
