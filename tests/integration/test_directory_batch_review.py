"""A review of the directory's set-based reads (``histories``, ``_declared``, ``_profiles``).

They replaced one-by-one reads per actor and promise the same results. The one-by-one read is
kept here as the reference (the code before the change, over ``latest_of_types``): the
latest ``MAX_EVENTS`` entries of each own type, then of those, and the latest ``MAX_EVENTS``
handovers each way. Every case compares the two, with ``MAX_EVENTS`` small enough that the
cuts apply, per type and across types; plus refused entries, items as inputs, duplicate and
empty actor lists, batch edges, SQLite's parameter limit, and the plans of one profile's reads.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, event, select

from ledger.events import parse_event
from ledger.store import directory as directory_queries
from ledger.store import track_record
from ledger.store.ledger import LedgerStore
from ledger.store.reads import latest_of_types
from ledger.store.schema import handovers, log_entries, lots, provenance
from ledger.store.track_record import OWN_TYPES, SERVICES, Consumed, History, Received
from ledger.supply import HandoverEvent, LifecycleEvent, MaterialEvent, ProcessEvent
from tests.integration.test_directory_queries import add_actors
from tests.integration.test_store_indexes import sent
from tests.supply import (
    enrol_actor,
    handover,
    item,
    lifecycle,
    make,
    material,
    process,
    receipt,
    take,
)
from tests.terminal import Terminal

pytestmark = pytest.mark.integration


def _payload(entry: bytes) -> Any:
    return parse_event(base64.b64decode(json.loads(bytes(entry))["payload"]))


def _handover_rows(conn: Connection, column: Any, actor_id: str) -> dict[int, Any]:
    rows = conn.execute(
        select(handovers.c.logged_at_index, handovers.c.status, handovers.c.settled_at_index)
        .where(column == actor_id)
        .order_by(handovers.c.logged_at_index.desc())
        .limit(track_record.MAX_EVENTS)
    )
    return {r.logged_at_index: r for r in rows}


def one_by_one(conn: Connection, actor_id: str) -> History:
    """The history as the per-actor read (before 03bcabe) found it, with what each process and
    recycling consumed as ``_volumes`` read it then (a lot's material, None for an item)."""
    history = History()
    limit = track_record.MAX_EVENTS
    sent = _handover_rows(conn, handovers.c.sender, actor_id)
    for idx, entry in latest_of_types(conn, actor_id, OWN_TYPES, limit=limit):
        found = _payload(entry)
        if isinstance(found, MaterialEvent | ProcessEvent):
            history.making.append((idx, found))
        elif isinstance(found, LifecycleEvent) and found.kind in SERVICES:
            history.services.append((idx, found))
            if found.kind == "recycling":
                history.making.append((idx, found))
        elif isinstance(found, HandoverEvent) and idx in sent:
            history.sent.append((idx, found, sent[idx].status))
    received = _handover_rows(conn, handovers.c.receiver, actor_id)
    for idx in sorted(received, reverse=True):
        found = latest_entry(conn, idx)
        if found is not None and isinstance(found, HandoverEvent):
            row = received[idx]
            history.received.append(Received(idx, found, row.status, row.settled_at_index))
    for idx, made in history.making:
        if isinstance(made, MaterialEvent):
            continue
        rows = conn.execute(
            select(provenance.c.kind, provenance.c.subject, provenance.c.mass)
            .where(provenance.c.idx == idx, provenance.c.role == "input")
            .order_by(provenance.c.n)
        )
        for r in rows:
            lot = conn.execute(select(lots.c.material).where(lots.c.id == r.subject)).scalar()
            kind_material = lot if r.kind == "lot" else None
            history.consumed[idx].append(
                Consumed(r.kind, r.subject, Decimal(r.mass), kind_material)
            )
    return history


def latest_entry(conn: Connection, idx: int) -> Any:
    """Entry ``idx`` if it was applied (the old ``_events`` filter), else None."""
    row = conn.execute(
        select(log_entries.c.entry).where(log_entries.c.idx == idx, log_entries.c.applied.is_(True))
    ).first()
    return None if row is None else _payload(row.entry)


def batched(conn: Connection, actor_ids: list[str]) -> dict[str, History]:
    """``histories``, with ``consumed`` kept to the process and recycling events (the part
    ``_volumes`` reads, the only part the one-by-one read had)."""
    found = track_record.histories(conn, actor_ids)
    for history in found.values():
        making = {i for i, e in history.making if not isinstance(e, MaterialEvent)}
        kept = {i: v for i, v in history.consumed.items() if i in making}
        history.consumed.clear()
        history.consumed.update(kept)
    return found


def assert_same(store: LedgerStore, actor_ids: list[str]) -> dict[str, History]:
    with store.connect() as conn:
        together = batched(conn, actor_ids)
        alone = {a: one_by_one(conn, a) for a in actor_ids}
    assert together == alone
    return together


def slug(terminal: Terminal) -> str:
    return terminal.actor.rsplit(":", 1)[1]


def busy_actors(store: LedgerStore, operator: Terminal) -> tuple[Terminal, Terminal, Terminal]:
    """Three actors whose histories interleave: each signs materials, processes (one of an
    item), services, handovers sent and received, some refused; ``a`` also hands over to
    itself (refused or not, the reads must agree)."""
    a, b, c = (enrol_actor(store, operator, s, ("supplier", "brand")) for s in ("ra", "rb", "rc"))
    for rnd in range(4):
        batch = []
        for t in (a, b, c):
            s = slug(t)
            raw, dyed = f"urn:spola:lot:{s}:raw{rnd}", f"urn:spola:lot:{s}:dyed{rnd}"
            piece = f"urn:spola:item:{s}:p{rnd}"
            batch += [
                t.sign(material(raw)),
                t.sign(process([take(raw, "40")], [make(dyed, "38")], items=[item(piece)])),
                t.sign(process([{"item": piece}], [make(f"{dyed}x", "0.1")], process="cutting")),
                t.sign(lifecycle("repair", piece)),  # refused: the piece was consumed
                t.sign(
                    process([take(f"urn:spola:lot:{s}:none", "1")], [make(f"{dyed}z", "1")])
                ),  # refused: no lot
            ]
        store.append(batch)
        sent = []
        for t, to in ((a, b), (b, c), (c, a)):
            lines = [
                {
                    "lot": f"urn:spola:lot:{slug(t)}:dyed{rnd}",
                    "quantity": {"value": "1", "unit": "KGM"},
                }
            ]
            sent.append(t.sign(handover(f"h{rnd}-{slug(to)}", to.actor, lines)))
        sent.append(
            b.sign(
                handover(
                    f"bad{rnd}",
                    a.actor,
                    [{"lot": "urn:spola:lot:rb:nope", "quantity": {"value": "1", "unit": "KGM"}}],
                )
            )
        )
        store.append(sent)
        store.append(
            [
                b.sign(receipt(a.actor, f"h{rnd}-rb")),
                c.sign(receipt(b.actor, f"h{rnd}-rc", accepted=rnd % 2 == 0)),
            ]
        )
    return a, b, c


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 7, 5000])
def test_batched_histories_equal_one_by_one_reads_at_every_cut(
    store: LedgerStore, operator: Terminal, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """With ``MAX_EVENTS`` from 1 to past every actor's history, the per-type cut, the
    overall cut and the handover cuts each way give the same histories, read together or
    alone; refused entries count in neither."""
    a, b, c = busy_actors(store, operator)
    monkeypatch.setattr(track_record, "MAX_EVENTS", limit)
    found = assert_same(store, [a.actor, b.actor, c.actor])
    if limit == 5000:
        history = found[a.actor]
        assert len(history.making) == 12  # 4 materials and 8 processes; the refused one not
        assert not history.services  # every repair was refused
        assert len(history.sent) == 4 and len(found[b.actor].received) == 4
        with store.connect() as conn:
            refused = conn.execute(
                select(log_entries.c.event_type).where(
                    log_entries.c.actor.in_([a.actor, b.actor]), log_entries.c.applied.is_(False)
                )
            ).scalars()
            assert sorted(refused) == ["handover"] * 4 + ["lifecycle"] * 8 + ["process"] * 8
        kinds = {c.kind for v in history.consumed.values() for c in v}
        assert kinds == {"lot", "item"}
    else:
        for history in found.values():
            assert len(history.making) + len(history.services) <= limit
            assert len(history.received) <= limit


def test_any_order_duplicates_and_an_empty_list_change_nothing(
    store: LedgerStore, operator: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = busy_actors(store, operator)
    monkeypatch.setattr(track_record, "MAX_EVENTS", 3)
    with store.connect() as conn:
        assert track_record.histories(conn, []) == {}
        once = batched(conn, [a.actor, b.actor, c.actor])
        twice = batched(conn, [c.actor, a.actor, c.actor, b.actor, a.actor])
        unknown = batched(conn, ["urn:spola:actor:nobody", a.actor])
    assert twice == once
    assert unknown == {"urn:spola:actor:nobody": History(), a.actor: once[a.actor]}


def today() -> date:
    return datetime.now(UTC).date()


@pytest.mark.parametrize("batch", [1, 2, 3, 4])
def test_a_search_at_every_batch_edge_equals_profiles_read_alone(
    store: LedgerStore, operator: Terminal, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    """Three actors whose handovers cross: batches of 1, 2 (an actor in the next batch is a
    counterpart), exactly 3 and more than 3 give the profiles ``directory_profile`` reads."""
    busy_actors(store, operator)
    monkeypatch.setattr(track_record, "MAX_EVENTS", 4)
    monkeypatch.setattr(directory_queries, "BATCH", batch)
    found = store.directory_profiles(today())
    assert len(found) == 3
    alone = [store.directory_profile(p.actor.id, today()) for p in found]
    assert list(found) == alone
    volumes = [p.figures["volumes"] for p in found]
    assert all(v is not None and v.value["by_process"] for v in volumes), volumes


@contextmanager
def parameters(store: LedgerStore) -> Iterator[list[int]]:
    """How many parameters each statement on the store's engine was sent with."""
    counts: list[int] = []

    def count(conn: Any, cursor: Any, text: str, params: Any, *rest: Any) -> None:
        counts.append(len(params) if params else 0)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def test_a_full_batch_binds_fewer_than_sqlite_s_999_parameters(
    store: LedgerStore, operator: Terminal
) -> None:
    """Older SQLite builds refuse a statement with more than 999 parameters: a batch of
    ``BATCH`` actors names each once a type, in the entries and the provenance statements."""
    ids = [f"urn:spola:actor:p{n:04d}" for n in range(directory_queries.BATCH)]
    with parameters(store) as counts, store.connect() as conn:
        assert len(track_record.histories(conn, ids)) == directory_queries.BATCH
        directory_queries._declared(conn, ids)
    print(f"\nlargest statement of a batch of {directory_queries.BATCH}: {max(counts)} parameters")
    assert counts and max(counts) <= 999, counts
    assert max(counts) >= len(OWN_TYPES) * directory_queries.BATCH  # the statements were seen


def test_one_profile_among_hundreds_of_actors_never_scans_the_log(
    store: LedgerStore, operator: Terminal
) -> None:
    """With 200 actors and fresh statistics, each statement of one actor's profile finds its
    rows of ``log_entries`` by an index (the planner left free to choose a scan)."""
    for first in range(0, 200, 100):
        add_actors(store, operator, first, 100)
    with store.engine.connect() as conn, conn.begin():
        conn.exec_driver_sql("ANALYZE")
    with sent(store.engine) as statements, sent(store.read_engine) as replica:
        store.directory_profile("urn:spola:actor:w150", today())
    reads = [s for s in statements + replica if "log_entries" in s[0]]
    assert len(reads) >= 4, reads
    scans = []
    for sql, params in reads:
        with store.engine.connect() as conn:
            if store.engine.dialect.name == "sqlite":
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
                found = "\n".join(str(row[-1]) for row in rows)
                walks = re.search(r"^SCAN log_entries\b", found, re.M)
            else:
                found = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}", params))
                walks = re.search(r"Seq Scan on log_entries", found)
        if walks:
            scans.append((sql, found))
    assert not scans, scans
