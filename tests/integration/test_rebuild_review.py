"""``spola rebuild`` on a damaged database: what it may rewrite, what it must refuse to.

Rebuild rewrites projections (and the sequencer's head row) from the log; it never rewrites the
log. A log that lost an entry, whose bytes were altered, or that is shorter than a checkpoint
the operator signed is not something a replay can repair: a repaired head would make the next
append sign a second, different tree at a size already signed. A verdict the log keeps that the
replay disagrees with is not rewritten either, and ``--repair`` must not claim it was. Missing
Merkle nodes are the one damage it repairs, by inserting them again: the log's entries give them.

The append-only triggers are bypassed here the way a damaged restore would: outside spola.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, delete, func, insert, select, update

from ledger.errors import LedgerError
from ledger.proofs import verify_inclusion
from ledger.store import rebuild as rebuild_module
from ledger.store.ledger import LedgerStore
from ledger.store.rebuild import DamagedLogError
from ledger.store.schema import (
    actors,
    balances,
    checkpoints,
    handovers,
    log_entries,
    log_head,
    merkle_nodes,
)
from tests.integration import test_cli_rebuild
from tests.integration.api_support import operator_at_head
from tests.integration.test_cli import Operator
from tests.integration.test_cli_rebuild import LOT, operator_store

# The log of test_cli_rebuild's fixture: 0 genesis, 1-2 seteria's actor and key, 3-4 tintoria's,
# 5 the material event, 6 handover H-1 (applied), 7 handover H-2 (refused: more than the balance).
op_db = test_cli_rebuild.op_db
OPERATOR_LAST = 4  # the operator's last entry: the log replays without it, shifted by one
APPLIED_HANDOVER = 6
SIZE = 8


def _store(database_url: str, home: Path) -> LedgerStore:
    return operator_store(database_url, home)


def test_the_log_is_the_one_these_tests_describe(op_db: Operator) -> None:
    store = _store(op_db.database_url, op_db.home)
    try:
        assert store.tree_size() == SIZE
        assert store.verdict(APPLIED_HANDOVER).applied
        assert not store.verdict(SIZE - 1).applied
    finally:
        store.close()


@contextmanager
def _outside_spola(store: LedgerStore, table: str = "log_entries") -> Iterator[Connection]:
    """A transaction in which the append-only triggers of ``table`` (every table's, on
    PostgreSQL) do not fire."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            for action in ("update", "delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
        yield conn


def _head(store: LedgerStore) -> tuple[int, bytes, bytes]:
    with store.connect() as conn:
        row = conn.execute(select(log_head)).one()
    return row.size, bytes(row.chain_hash), bytes(row.compact_range)


def _refused(store: LedgerStore, match: str, *, repair: bool = True) -> DamagedLogError:
    """Rebuild (with ``repair``) refuses the log as damaged, matching ``match``, and leaves the
    head row as it was; the refusal."""
    before = _head(store)
    with pytest.raises(DamagedLogError, match=match) as refused:
        store.rebuild(repair=repair)
    assert _head(store) == before
    return refused.value


def _damage(op_db: Operator, index: int) -> None:
    store = _store(op_db.database_url, op_db.home)
    try:
        with _outside_spola(store) as conn:
            conn.execute(delete(log_entries).where(log_entries.c.idx == index))
    finally:
        store.close()


@pytest.mark.parametrize("repair", [False, True], ids=["compare", "repair"])
def test_rebuild_refuses_a_log_with_a_missing_entry(op_db: Operator, repair: bool) -> None:
    # Entry 4 gone: the rest replays, shifted by one index. Rebuild died with an IndexError
    # when it came to compare verdicts; no projection of a shifted replay is the log's.
    _damage(op_db, OPERATOR_LAST)
    store = _store(op_db.database_url, op_db.home)
    try:
        _refused(store, f"entry {OPERATOR_LAST} is missing", repair=repair)
    finally:
        store.close()


def test_repair_refuses_a_log_shorter_than_its_signed_checkpoint(op_db: Operator) -> None:
    # The last entry gone: the log replays, and "repair" rewrote the head to 7 entries. The
    # next append would then place a new entry at index 7, under a checkpoint of size 8 the
    # operator already signed over the lost one: two trees of one size, both signed.
    _damage(op_db, SIZE - 1)
    store = _store(op_db.database_url, op_db.home)
    try:
        refused = _refused(store, "checkpoint")
        assert f"signs {SIZE} entries" in str(refused)
        assert f"holds {SIZE - 1}" in str(refused)
    finally:
        store.close()


def test_rebuild_refuses_a_log_whose_entry_bytes_differ_from_the_signed_tree(
    op_db: Operator,
) -> None:
    # Entry 5's bytes with one more leading space: whether or not the replay still reads them,
    # they are not the bytes the operator's checkpoints signed, and no head may be rebuilt
    # from them.
    store = _store(op_db.database_url, op_db.home)
    try:
        with store.connect() as conn:
            entry = bytes(
                conn.execute(select(log_entries.c.entry).where(log_entries.c.idx == 5)).scalar_one()
            )
        assert entry.startswith(b"{")
        with _outside_spola(store) as conn:
            conn.execute(update(log_entries).where(log_entries.c.idx == 5), {"entry": b" " + entry})
        _refused(store, "do not give the root hash the checkpoint")
    finally:
        store.close()


def test_rebuild_refuses_a_log_no_ledger_could_have_admitted(op_db: Operator) -> None:
    # Entry 5 overwritten with entry 6: the mill's feed then starts at its second event. The
    # replay's own refusal said only "entry 5: ..."; it now says the log is damaged.
    store = _store(op_db.database_url, op_db.home)
    try:
        with store.connect() as conn:
            sixth = conn.execute(
                select(log_entries.c.entry).where(log_entries.c.idx == 6)
            ).scalar_one()
        with _outside_spola(store) as conn:
            conn.execute(update(log_entries).where(log_entries.c.idx == 5), {"entry": sixth})
        _refused(store, r"^the log itself is damaged: entry 5: ")
    finally:
        store.close()


def test_cli_rebuild_says_the_log_is_damaged_in_one_line(op_db: Operator) -> None:
    _damage(op_db, OPERATOR_LAST)
    for args in (("rebuild",), ("rebuild", "--repair")):
        run = op_db.spola(*args)
        assert run.code == 1, run
        assert "Traceback" not in run.stderr, run.stderr
        last = run.stderr.strip().splitlines()[-1]
        assert last.startswith("spola: the log itself is damaged"), run.stderr
        assert f"entry {OPERATOR_LAST} is missing" in last
        assert "restore" in last


def _refuse_the_applied_handover(conn: Connection) -> None:
    """The log's verdict of H-1 edited to refused: the replay applies it."""
    conn.execute(
        update(log_entries).where(log_entries.c.idx == APPLIED_HANDOVER),
        {"applied": False, "violation_rule": "balance", "violation_detail": "edited"},
    )


def test_repair_does_not_claim_to_have_rewritten_a_verdict(op_db: Operator) -> None:
    # The log keeps H-1 as refused, the replay applies it. Verdicts are never rewritten, yet
    # "--repair" answered "repaired: 1 differences rewritten from the log" and exit 0, and the
    # next rebuild found the same difference. It now rewrites nothing and says why: projections
    # rebuilt by rules that judge the log's entries otherwise would disagree with the log.
    store = _store(op_db.database_url, op_db.home)
    try:
        with _outside_spola(store) as conn:
            _refuse_the_applied_handover(conn)
        before = _head(store)
    finally:
        store.close()

    run = op_db.spola("rebuild", "--repair")
    assert run.code == 1, run
    assert "repaired" not in run.stdout, run.stdout
    assert f"verdict of entry {APPLIED_HANDOVER}: stored (False, " in run.stdout, run.stdout
    last = run.stderr.strip().splitlines()[-1]
    assert "1 verdict" in last and "never rewritten" in last, run.stderr

    store = _store(op_db.database_url, op_db.home)
    try:
        assert _head(store) == before
        report = store.rebuild()
        assert report.difference_count == 1 and not report.repaired
    finally:
        store.close()


def test_repair_with_a_verdict_difference_leaves_the_projections_alone(op_db: Operator) -> None:
    # The same edit, and a balance edited too: the repair would rebuild the balances from a
    # replay that disagrees with the log's verdicts; it rewrites nothing instead.
    store = _store(op_db.database_url, op_db.home)
    try:
        with _outside_spola(store) as conn:
            _refuse_the_applied_handover(conn)
            conn.execute(update(balances).where(balances.c.lot == LOT), {"amount": "700"})
        report = store.rebuild(repair=True)
        assert not report.repaired
        assert report.verdict_differences == 1
        assert report.difference_count == 2
        with store.connect() as conn:
            amounts = set(conn.execute(select(balances.c.amount)).scalars())
        assert "700" in amounts
    finally:
        store.close()


def test_cli_rebuild_lists_fifty_differences_and_counts_the_rest(op_db: Operator) -> None:
    # Sixty balances the log never made: the listing stops at fifty, the count stays exact.
    store = _store(op_db.database_url, op_db.home)
    try:
        with store.engine.begin() as conn:
            conn.execute(
                insert(balances),
                [
                    {"lot": f"urn:spola:lot:seteria:X-{n:02}", "holder": "h", "amount": "1"}
                    for n in range(60)
                ],
            )
    finally:
        store.close()

    run = op_db.spola("rebuild")
    assert run.code == 1, run
    listed = [line for line in run.stdout.splitlines() if line.startswith("  balances ")]
    assert len(listed) == 50, run.stdout
    assert "  … and 10 more" in run.stdout.splitlines(), run.stdout
    assert run.stderr.strip().splitlines()[-1].startswith("spola: 60 differences "), run.stderr


def test_cli_rebuild_reports_its_progress_within_the_log(op_db: Operator) -> None:
    run = op_db.spola("rebuild")
    assert run.code == 0, run
    assert run.stderr.splitlines() == [f"replayed {SIZE} of {SIZE} entries (100%)"], run.stderr


NEWCOMER = "urn:spola:actor:arrived-during-the-rebuild"


def test_rebuild_compares_one_snapshot_while_the_log_grows(op_db: Operator) -> None:
    # An entry appended after the replay, before the comparisons: they must read the state the
    # replay read. Each query on its own snapshot (PostgreSQL's READ COMMITTED) sees a log head
    # and a verdict the replay never met, and an actor it never made.
    store = _store(op_db.database_url, op_db.home)
    try:
        op = operator_at_head(store, op_db.home)
        appended: list[int] = []

        def append_meanwhile(done: int, size: int) -> None:
            if not appended:
                appended.append(store.append([op.register(NEWCOMER)])[0].index)

        report = store.rebuild(progress=append_meanwhile)
        assert appended == [SIZE]
        assert report.equal, report.differences
        assert report.entries == SIZE
        assert store.rebuild().entries == SIZE + 1
    finally:
        store.close()


def test_repair_keeps_out_an_append_until_it_has_committed(op_db: Operator) -> None:
    # A repair rewrites every projection from its replay: an entry appended meanwhile would
    # lose its projection rows (its actor here) to the rewrite. The repair holds the
    # sequencer's lock, so the append waits for it and lands after.
    store = _store(op_db.database_url, op_db.home)
    try:
        with store.engine.begin() as conn:
            conn.execute(update(balances).where(balances.c.lot == LOT), {"amount": "700"})
        op = operator_at_head(store, op_db.home)
        appending: list[threading.Thread] = []
        failed: list[BaseException] = []

        def append() -> None:
            try:
                store.append([op.register(NEWCOMER)])
            except BaseException as exc:  # reported by the test, not lost in the thread
                failed.append(exc)

        def append_meanwhile(done: int, size: int) -> None:
            if not appending:
                appending.append(threading.Thread(target=append))
                appending[0].start()
                appending[0].join(timeout=2)  # long enough to land, had it not been kept out

        report = store.rebuild(repair=True, progress=append_meanwhile)
        appending[0].join()
        assert not failed, failed
        assert report.repaired and report.entries == SIZE
        again = store.rebuild()
        assert again.equal, again.differences
        assert again.entries == SIZE + 1
        assert store.actor(NEWCOMER)[0].id == NEWCOMER
    finally:
        store.close()


def test_repair_restores_projection_rows_the_store_lost(op_db: Operator) -> None:
    # Rows gone from a projection (a partial restore): each is reported by its key, and the
    # repair puts it back as the log makes it.
    dyer = "urn:spola:actor:tintoria"
    store = _store(op_db.database_url, op_db.home)
    try:
        with store.engine.begin() as conn:
            conn.execute(delete(actors).where(actors.c.id == dyer))
            conn.execute(delete(handovers))
        found = store.rebuild()
        assert found.difference_count == 2, found.differences
        assert f"actors {dyer}: missing from the store" in found.differences
        assert "handovers ('urn:spola:actor:seteria', 'H-1'): missing from the store" in (
            found.differences
        )
        repaired = store.rebuild(repair=True)
        assert repaired.repaired and repaired.difference_count == 2
        assert store.rebuild().equal
        assert store.actor(dyer)[0].id == dyer
    finally:
        store.close()


def test_repair_of_equal_projections_rewrites_nothing(op_db: Operator) -> None:
    store = _store(op_db.database_url, op_db.home)
    try:
        report = store.rebuild(repair=True)
        assert report.equal and not report.repaired
    finally:
        store.close()


def test_rebuild_reads_the_log_page_by_page(
    op_db: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of three entries: each is read once, in order, and said as it is replayed.
    monkeypatch.setattr(rebuild_module, "PAGE", 3)
    store = _store(op_db.database_url, op_db.home)
    try:
        said: list[tuple[int, int]] = []
        report = store.rebuild(progress=lambda done, size: said.append((done, size)))
        assert report.equal and report.entries == SIZE, report.differences
        assert said == [(3, SIZE), (6, SIZE), (SIZE, SIZE)]
    finally:
        store.close()


# The Merkle nodes the sequencer stored: every complete subtree of the log's tree, the leaves
# (level 0) included: 8 + 4 + 2 + 1 for the fixture's 8 entries. Proofs are read from them, so
# a node the log does not give makes the ledger serve proofs that fail.
NODES = 15


@contextmanager
def _nodes_outside_spola(op_db: Operator) -> Iterator[Connection]:
    """A transaction in which the Merkle nodes' append-only triggers do not fire."""
    store = _store(op_db.database_url, op_db.home)
    try:
        with _outside_spola(store, "merkle_nodes") as conn:
            yield conn
    finally:
        store.close()


def _node(level: int, index: int) -> Any:
    return (merkle_nodes.c.level == level) & (merkle_nodes.c.idx == index)


def _refused_nodes(op_db: Operator, first: str, count: int) -> None:
    store = _store(op_db.database_url, op_db.home)
    try:
        before = _head(store)
        for repair in (False, True):
            with pytest.raises(DamagedLogError) as refused:
                store.rebuild(repair=repair)
            said = str(refused.value)
            assert f"{count} Merkle node(s) differ from the tree of its" in said, said
            assert f"the first: node (level {first}" in said, said
            assert "an altered or extra node is never rewritten" in said, said
            assert "restore the database from a backup" in said, said
        assert _head(store) == before
    finally:
        store.close()


def test_rebuild_refuses_a_merkle_node_whose_hash_differs(op_db: Operator) -> None:
    # Node (1, 2) covers entries 4 and 5: inclusion proofs of entries 6 and 7 (and consistency
    # proofs) were served from it, and failed, while rebuild said all was equal.
    with _nodes_outside_spola(op_db) as conn:
        conn.execute(update(merkle_nodes).where(_node(1, 2)), {"hash": bytes(32)})
        conn.execute(update(merkle_nodes).where(_node(0, 6)), {"hash": bytes(32)})
    _refused_nodes(op_db, "1, index 2) has another hash", 2)


def test_repair_refuses_missing_merkle_nodes_beside_an_altered_one(op_db: Operator) -> None:
    # Missing nodes the log gives again, but an altered one beside them: a tree that was
    # served otherwise; nothing is restored, and the refusal sends the operator to a backup.
    with _nodes_outside_spola(op_db) as conn:
        conn.execute(delete(merkle_nodes).where(_node(0, 3)))
        conn.execute(delete(merkle_nodes).where(_node(3, 0)))
        conn.execute(update(merkle_nodes).where(_node(1, 2)), {"hash": bytes(32)})
    _refused_nodes(op_db, "0, index 3) is missing", 3)
    assert _stored_nodes(op_db) == NODES - 2


@pytest.mark.parametrize("node", [(0, SIZE), (2, 2), (3, 1), (4, 0)])
def test_rebuild_refuses_a_merkle_node_beyond_the_log(
    op_db: Operator, node: tuple[int, int]
) -> None:
    # A node for leaves the log does not hold yet: the next append would find its row taken.
    with _nodes_outside_spola(op_db) as conn:
        conn.execute(insert(merkle_nodes), {"level": node[0], "idx": node[1], "hash": bytes(32)})
    _refused_nodes(
        op_db, f"{node[0]}, index {node[1]}) is stored, but the log's {SIZE} entries do not", 1
    )


def test_cli_rebuild_says_a_merkle_node_is_damaged_in_one_line(op_db: Operator) -> None:
    with _nodes_outside_spola(op_db) as conn:
        conn.execute(update(merkle_nodes).where(_node(2, 1)), {"hash": bytes(32)})
    for args in (("rebuild",), ("rebuild", "--repair")):
        run = op_db.spola(*args)
        assert run.code == 1, run
        assert "Traceback" not in run.stderr, run.stderr
        last = run.stderr.strip().splitlines()[-1]
        assert last.startswith("spola: the log itself is damaged: 1 Merkle node(s) differ"), last
        assert "node (level 2, index 1) has another hash" in last, last
        assert last.endswith(
            "(--repair restores only missing ones): restore the database from a backup"
        ), last


def _stored_nodes(op_db: Operator) -> int:
    store = _store(op_db.database_url, op_db.home)
    try:
        with store.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(merkle_nodes)).scalar_one())
    finally:
        store.close()


def _append_only_triggers(conn: Connection) -> int:
    """The append-only triggers ``merkle_nodes`` has (2 on either engine)."""
    if conn.dialect.name == "postgresql":
        query = (
            "SELECT count(*) FROM pg_trigger "
            "WHERE tgrelid = 'merkle_nodes'::regclass AND NOT tgisinternal"
        )
    else:
        query = (
            "SELECT count(*) FROM sqlite_master "
            "WHERE type = 'trigger' AND tbl_name = 'merkle_nodes'"
        )
    return int(conn.exec_driver_sql(query).scalar_one())


def _lose_nodes(op_db: Operator, *nodes: tuple[int, int]) -> None:
    """Delete ``nodes`` as a damaged restore would, the append-only triggers back in place."""
    store = _store(op_db.database_url, op_db.home)
    try:
        with store.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            triggers = (
                conn.exec_driver_sql(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name = 'merkle_nodes'"
                ).all()
                if conn.dialect.name == "sqlite"
                else []
            )
            for name, _ in triggers:  # dropped and made again in one transaction
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
            for level, index in nodes:
                conn.execute(delete(merkle_nodes).where(_node(level, index)))
            for _, sql in triggers:
                conn.exec_driver_sql(sql)
        with store.connect() as conn:
            assert _append_only_triggers(conn) == 2
    finally:
        store.close()


def _failing_proofs(op_db: Operator) -> list[int]:
    """The entries whose served inclusion proof (at the latest checkpoint) fails to verify."""
    store = _store(op_db.database_url, op_db.home)
    failed = []
    try:
        with store.connect() as conn:
            signed = conn.execute(select(checkpoints.c.root_hash).where(checkpoints.c.size == SIZE))
            root = bytes(signed.scalar_one())
        for index in range(SIZE):
            leaf = store.verdict(index).leaf_hash
            try:
                verify_inclusion(leaf, index, SIZE, store.inclusion_proof(index, SIZE), root)
            except (LedgerError, LookupError):
                failed.append(index)
    finally:
        store.close()
    return failed


LOST = ((0, 3), (1, 2), (3, 0))  # a leaf, an inner node, the root of the first 8 entries


def test_repair_restores_missing_merkle_nodes_from_the_log(op_db: Operator) -> None:
    # A restore that lost rows of merkle_nodes: inclusion proofs read from them fail (or
    # cannot be read). Each lost node is a hash the log's entries give again; with every node
    # left equal to the log's and the log giving the root the operator signed, --repair
    # inserts them (an INSERT, which the append-only triggers allow).
    _lose_nodes(op_db, *LOST)
    assert _failing_proofs(op_db) != []

    found = op_db.spola("rebuild")
    assert found.code == 1, found
    last = found.stderr.strip().splitlines()[-1]
    assert last.startswith("spola: the log itself is damaged: 3 Merkle node(s) differ"), last
    assert "the first: node (level 0, index 3) is missing" in last, last
    assert last.endswith(
        "none is altered or extra: run with --repair to restore the missing nodes from the "
        "log's entries"
    ), last
    assert _stored_nodes(op_db) == NODES - len(LOST)

    repaired = op_db.spola("rebuild", "--repair")
    assert repaired.code == 0, repaired
    assert "restored 3 missing Merkle node(s) from the log's entries\n" in repaired.stdout
    assert repaired.stdout.endswith("stored projections equal the replay of the log\n")
    assert _stored_nodes(op_db) == NODES
    assert _failing_proofs(op_db) == []

    again = op_db.spola("rebuild")
    assert again.code == 0, again
    assert "restored" not in again.stdout
    assert again.stdout.endswith("stored projections equal the replay of the log\n")


def test_repair_restores_missing_nodes_and_rewrites_projections_together(
    op_db: Operator,
) -> None:
    _lose_nodes(op_db, (0, 7))
    test_cli_rebuild._tamper(op_db.database_url, op_db.home)
    repaired = op_db.spola("rebuild", "--repair")
    assert repaired.code == 0, repaired
    assert "restored 1 missing Merkle node(s)" in repaired.stdout
    assert "repaired: 1 differences rewritten from the log" in repaired.stdout
    assert _failing_proofs(op_db) == []
    assert op_db.spola("rebuild").code == 0


def test_repair_with_a_verdict_difference_restores_no_merkle_node(op_db: Operator) -> None:
    # A verdict difference stops the repair: nothing is rewritten, and no node inserted.
    _lose_nodes(op_db, (0, 5))
    store = _store(op_db.database_url, op_db.home)
    try:
        with _outside_spola(store) as conn:
            _refuse_the_applied_handover(conn)
        report = store.rebuild(repair=True)
        assert (report.verdict_differences, report.restored_nodes) == (1, 0)
    finally:
        store.close()
    assert _stored_nodes(op_db) == NODES - 1


@pytest.mark.parametrize("edit", ["root", "gone"], ids=["other-root", "no-checkpoint"])
def test_repair_restores_no_node_of_a_log_no_checkpoint_signs(op_db: Operator, edit: str) -> None:
    # The latest checkpoint's root edited, or every checkpoint gone: nothing says the nodes
    # the entries give are the tree that was served and signed; nothing is inserted.
    _lose_nodes(op_db, (1, 2))
    store = _store(op_db.database_url, op_db.home)
    try:
        with _outside_spola(store, "checkpoints") as conn:
            if edit == "root":
                latest = checkpoints.c.size == SIZE
                conn.execute(update(checkpoints).where(latest), {"root_hash": bytes(32)})
            else:
                conn.execute(delete(checkpoints))
        if edit == "root":
            _refused(store, "do not give the root hash the checkpoint")
        else:
            refused = _refused(store, "no signed checkpoint vouches for the log's root")
            assert str(refused).endswith("restore the database from a backup")
    finally:
        store.close()
    assert _stored_nodes(op_db) == NODES - 1


GROWN = 300  # entries: a tree nine levels high


def test_rebuild_checks_the_merkle_nodes_of_a_larger_log_page_by_page(
    op_db: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of seven entries: most nodes above level 2 complete in a later page than the one
    # holding their first leaf; every one is compared, none is said to be missing.
    store = _store(op_db.database_url, op_db.home)
    try:
        op = operator_at_head(store, op_db.home)
        for start in range(SIZE, GROWN, 50):
            store.append(
                [
                    op.register(f"urn:spola:actor:w-{n}")
                    for n in range(start, min(start + 50, GROWN))
                ]
            )
        assert store.tree_size() == GROWN
        monkeypatch.setattr(rebuild_module, "PAGE", 7)
        report = store.rebuild()
        assert report.equal, report.differences
        wanted = sum(GROWN >> level for level in range(GROWN.bit_length()))
        assert report.compared["merkle nodes"] == wanted
        with store.connect() as conn:
            assert conn.execute(select(func.count()).select_from(merkle_nodes)).scalar() == wanted
    finally:
        store.close()

    with _nodes_outside_spola(op_db) as conn:
        conn.execute(update(merkle_nodes).where(_node(7, 1)), {"hash": bytes(32)})
    _refused_nodes(op_db, "7, index 1) has another hash", 1)


def test_rebuild_counts_every_damaged_merkle_node_and_names_the_first_in_log_order(
    op_db: Operator,
) -> None:
    # Nodes beyond the log are found once the replay is done: the first named is the wrong
    # node the replay met, and the count holds them all.
    with _nodes_outside_spola(op_db) as conn:
        conn.execute(update(merkle_nodes).where(_node(2, 1)), {"hash": bytes(32)})
        conn.execute(
            insert(merkle_nodes),
            [{"level": 0, "idx": n, "hash": bytes(32)} for n in range(SIZE, SIZE + 3)],
        )
    _refused_nodes(op_db, "2, index 1) has another hash", 4)
