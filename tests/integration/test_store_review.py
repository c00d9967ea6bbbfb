"""Store attacks found in review: inputs one engine stored and the other could not, and the
store's own edges (rebuild, export, engines).

Each test drives the real store (through the real ASGI app where a client would) on SQLite and
PostgreSQL and expects the same outcome on both: never a 500 on one engine and an entry on the
other, and never stored projections that a replay of the log contradicts.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from ledger.errors import CheckpointError
from ledger.keys import PrivateKey
from ledger.store.bundle import export_bundle
from ledger.store.engine import make_engine, upgrade
from ledger.store.ledger import LedgerStore, StoreUnavailableError
from ledger.store.schema import balances, custody, provenance
from tests.conftest import ORIGIN, enrol, operator_after_genesis
from tests.integration.api_support import Api, store_of
from tests.integration.test_cli import Operator, _one_line_error
from tests.supply import (
    enrol_actor,
    facility,
    handover,
    make,
    material,
    process,
    q,
    receipt,
    take,
)
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

HIDE = "urn:spola:lot:conceria:H26-0007"
STRAP = "urn:spola:lot:conceria:S26-0001"
LOT = "urn:spola:lot:seteria:S26-0142"
TINY = "0.000000000001"  # the smallest amount an event may carry: 12 digits after the point


@pytest.fixture
def tannery(app: Api) -> Terminal:
    return app.enrol("conceria", facilities=[facility()])


@pytest.fixture
def atelier(app: Api) -> Terminal:
    return app.enrol("atelier", facilities=[facility()])


def _hide_in_square_feet(app: Api, tannery: Terminal, per: str = "0.5") -> None:
    (made,) = app.accept(tannery.sign(material(HIDE, "10", "FTK", mass_per_unit=q(per))))
    assert made["applied"], made


def test_tiny_handover_into_square_feet_is_stored_exactly_on_both_engines(
    app: Api, tannery: Terminal, atelier: Terminal
) -> None:
    # 10^-12 cm² is 1.0763…·10^-15 ft² to 28 significant digits: a 44-character decimal, over
    # the 40 characters the amount columns held — a 500 on PostgreSQL, an entry on SQLite.
    _hide_in_square_feet(app, tannery)
    lines = [{"lot": HIDE, "quantity": q(TINY, "CMK")}]
    (sent,) = app.accept(tannery.sign(handover("H-1", atelier.actor, lines)))
    (got,) = app.accept(atelier.sign(receipt(tannery.actor, "H-1")))
    assert sent["applied"] and got["applied"], (sent, got)

    store = store_of(app)
    with store.connect() as conn:
        held = dict(conn.execute(select(balances.c.holder, balances.c.amount)).all())
        moved = conn.execute(select(custody.c.amount).where(custody.c.subject == HIDE)).all()
    expected = Decimal(TINY) * Decimal("0.0001") / Decimal("0.09290304")
    assert len(held[atelier.actor]) > 40
    assert Decimal(held[atelier.actor]) == expected
    assert Decimal(held[tannery.actor]) == Decimal(10) - expected
    assert {row.amount for row in moved if row.amount and len(row.amount) > 40}
    report = store.rebuild()
    assert report.equal, report.differences


def test_tiny_amount_of_a_light_lot_is_stored_as_mass_exactly_on_both_engines(
    app: Api, tannery: Terminal
) -> None:
    # 1 cm² of a hide weighing 10^-12 mg per ft² is ~10^-21 kg to 28 significant digits: a
    # 50-character provenance mass.
    (made,) = app.accept(tannery.sign(material(HIDE, "10", "FTK", mass_per_unit=q(TINY, "MGM"))))
    assert made["applied"], made
    strap = make(STRAP, TINY, quantity=q(TINY, "FTK"), mass_per_unit=q(TINY, "MGM"))
    (cut,) = app.accept(tannery.sign(process([take(HIDE, "1", "CMK")], [strap])))
    assert cut["applied"], cut

    store = store_of(app)
    with store.connect() as conn:
        (mass,) = conn.execute(
            select(provenance.c.mass).where(
                provenance.c.subject == HIDE, provenance.c.role == "input"
            )
        ).one()
    in_feet = Decimal("0.0001") / Decimal("0.09290304")
    assert len(mass) > 40
    assert Decimal(mass) == in_feet * Decimal(TINY) / Decimal(10**6)
    report = store.rebuild()
    assert report.equal, report.differences


def test_rebuild_racing_with_appends_compares_one_snapshot(
    store: LedgerStore, operator: Terminal
) -> None:
    # Appends go on while a rebuild (without --repair, which takes no lock) compares: it must
    # compare the log and the projections as of one moment. On PostgreSQL each statement saw
    # the newest commits, so an entry appended after the replay had no verdict to compare.
    mill = enrol_actor(store, operator, "seteria")
    store.append([mill.sign(material(LOT, "100"))])

    def append_meanwhile(done: int, size: int) -> None:
        store.append([mill.sign(handover("H-1", operator.actor, [take(LOT, "30")]))])

    report = store.rebuild(progress=append_meanwhile)

    assert report.equal, report.differences
    assert report.entries == store.tree_size() - 1
    assert store.rebuild().equal


def test_bundle_since_a_checkpoint_of_another_log_is_refused(
    store: LedgerStore, operator: Terminal, operator_key: PrivateKey, tmp_path: Path
) -> None:
    # Two databases initialised with one operator home (staging beside production) sign with
    # one key and one origin: a checkpoint of the other log verifies, but its root is not this
    # log's at that size. The export wrote a consistency "proof" no verifier accepts.
    enrol(store, operator, "seteria")
    other = LedgerStore.open(
        f"sqlite:///{tmp_path / 'other.db'}", operator=operator_key, origin=ORIGIN
    )
    try:
        # Its genesis may be byte for byte this log's (same key, same second): what follows
        # is not.
        staging = operator_after_genesis(other, operator_key)
        other.append([staging.register("urn:spola:actor:staging")])
        foreign = other.latest_checkpoint()
    finally:
        other.close()
    exports = tmp_path / "exports"
    exports.mkdir()
    out = exports / "ledger.bundle"
    out.write_bytes(b"the previous export\n")

    with pytest.raises(CheckpointError, match="not this log's"):
        export_bundle(store, out, since_checkpoint=foreign)

    assert out.read_bytes() == b"the previous export\n"
    assert [p.name for p in exports.iterdir()] == ["ledger.bundle"]


def test_database_migrated_by_a_newer_spola_is_refused_in_one_line(
    database_url: str, tmp_path: Path
) -> None:
    # A rollback of the code after a newer release migrated the database: alembic's
    # CommandError ("Can't locate revision") came out of every command as a traceback.
    cli = Operator(tmp_path / "home", database_url, tmp_path, [])
    assert cli.spola("init").code == 0
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    finally:
        engine.dispose()

    run = cli.spola("rebuild")

    _one_line_error(run, "0099_future", "newer")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused_before_it_loses_the_log(url: str) -> None:
    # Each thread got its own empty in-memory database: the genesis on the opening thread,
    # "no such table: log_head" (a 500) on every API worker thread, the log gone at exit.
    with pytest.raises(StoreUnavailableError, match="in-memory"):
        LedgerStore.open(url, operator=PrivateKey.generate(), origin=ORIGIN)


def test_attest_says_not_verified_when_a_proof_node_is_gone(
    store: LedgerStore, operator: Terminal, database_url: str
) -> None:
    # "Nothing here raises on bad data": a Merkle node deleted behind the service's back (its
    # append-only trigger dropped) made attest raise ProofError, and the page fail, instead
    # of answering "not verified" with the reason.
    enrol(store, operator, "seteria")
    assert store.attest([1]).verified
    with store.engine.begin() as conn:
        if database_url.startswith("sqlite"):
            conn.execute(text("DROP TRIGGER merkle_nodes_no_delete"))
        else:
            conn.execute(text("ALTER TABLE merkle_nodes DISABLE TRIGGER merkle_nodes_append_only"))
        conn.execute(text("DELETE FROM merkle_nodes WHERE level = 0 AND idx = 0"))

    attestation = store.attest([1])

    assert not attestation.verified
    assert attestation.problems == (
        "entry 1: no inclusion proof (Merkle node (level 0, index 0) is missing)",
    )


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_a_plain_postgres_url_gets_the_psycopg_driver(scheme: str) -> None:
    # Hosting providers hand out postgres://…, which libpq takes; SQLAlchemy knows no
    # "postgres" dialect and the store refused it as a missing plugin.
    engine = make_engine(f"{scheme}://spola@db.example:5432/spola")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
        assert engine.url.render_as_string() == "postgresql+psycopg://spola@db.example:5432/spola"
    finally:
        engine.dispose()
