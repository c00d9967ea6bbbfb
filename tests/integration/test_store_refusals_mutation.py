"""Refusals of the store's append and export paths that no other test told apart.

Each test pins one refusal exactly (its exception type and message): with the check removed the
store would answer differently — append a forged or doubly signed event, write an empty bundle,
sign verdicts for another origin, fail with a bare AttributeError — and the test fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from api.demo_story import JACKETS
from ledger.bundle import SCOPE_ACTOR, SCOPE_ITEM
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.envelope import Envelope, Signature, sign_envelope
from ledger.errors import (
    CheckpointError,
    FormatError,
    NotFoundError,
    RefusedEnvelope,
    SignatureError,
)
from ledger.events import OPERATOR_ACTOR
from ledger.keys import PrivateKey
from ledger.store import passports
from ledger.store.bundle import export_bundle, export_partial_bundle, partial_bundle_bytes
from ledger.store.bundle_scope import passport_scope
from ledger.store.ledger import LedgerStore
from tests.conftest import ORIGIN, Databases, enrol
from tests.integration.api_support import Api, store_of
from tests.terminal import Terminal

ONE_SIGNATURE = "an event envelope carries exactly one signature, with its keyid"


def _forged(envelope: Envelope, keyid: str) -> Envelope:
    """``envelope`` with its signature made by another key yet naming ``keyid``."""
    other = sign_envelope(envelope.payload, PrivateKey.generate()).signatures[0]
    return replace(envelope, signatures=(Signature(keyid=keyid, sig=other.sig),))


def test_a_forged_signature_by_a_key_added_earlier_in_the_batch_refuses_the_batch(
    store: LedgerStore, operator: Terminal
) -> None:
    """A key registered in the same batch is unknown before the lock: its events' signatures
    are checked inside it, and a forged one refuses the batch as one checked before would."""
    actor = "urn:spola:actor:tessitura-comasca"
    terminal = Terminal(actor=actor)
    forged = _forged(terminal.update_self("Tessitura"), terminal.key_id)
    before = store.tree_size()
    batch = [operator.register(actor), operator.add_key(actor, terminal.key), forged]
    with pytest.raises(RefusedEnvelope) as refused:
        store.append(batch)
    assert refused.value.position == 2
    assert type(refused.value.cause) is SignatureError
    assert str(refused.value) == (
        f"envelopes[2]: no signature by key {terminal.key_id} verifies over the envelope"
    )
    assert store.tree_size() == before


def test_an_envelope_with_two_signatures_is_refused_before_anything_else(
    store: LedgerStore, operator: Terminal
) -> None:
    """DSSE allows several signatures; a log entry has one, by the key whose feed it extends.
    A second signature, even a copy of the first, is refused as a format error, naming the
    envelope, and nothing is appended."""
    terminal = enrol(store, operator, "filatura-biellese")
    envelope = terminal.update_self("Filatura")
    (signature,) = envelope.signatures
    doubled = replace(envelope, signatures=(signature, signature))
    before = store.tree_size()
    with pytest.raises(RefusedEnvelope) as refused:
        store.append([doubled])
    assert refused.value.position == 0
    assert type(refused.value.cause) is FormatError
    assert str(refused.value) == f"envelopes[0]: {ONE_SIGNATURE}"
    assert store.tree_size() == before


def test_a_since_checkpoint_larger_than_the_log_is_refused_by_name(
    store: LedgerStore, operator_key: PrivateKey, tmp_path: Path
) -> None:
    """A checkpoint this log key signed for a larger tree (the database restored from an older
    backup) cannot start a consistency proof here: the export says so, and writes nothing."""
    size = store.tree_size()
    later = sign_checkpoint(Checkpoint(ORIGIN, size + 3, bytes(32)), operator_key)
    out = tmp_path / "ledger.bundle"
    with pytest.raises(CheckpointError) as refused:
        export_bundle(store, out, since_checkpoint=later)
    assert str(refused.value) == (
        f"the earlier checkpoint (size {size + 3}) is newer than the log's latest (size {size})"
    )
    assert not out.exists()


def test_a_partial_bundle_under_another_origin_is_refused_not_signed(
    store: LedgerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's origin differs from the head checkpoint's (a store opened under another
    origin is refused since, so this is the last guard): the log key does not sign a verdict
    statement for an origin it is not serving."""
    monkeypatch.setattr(store, "origin", "renamed.example/log")
    with pytest.raises(FormatError) as refused:
        partial_bundle_bytes(store, scope=SCOPE_ACTOR, subject=OPERATOR_ACTOR)
    assert str(refused.value) == f"verdicts of origin {ORIGIN!r}, not this log's"


@pytest.fixture
def empty_replica_url(database_url: str, databases: Databases, tmp_path: Path) -> Iterator[str]:
    """A second database on the same engine, migrated but holding no entry yet: a read replica
    that has not replayed the genesis."""
    if make_url(database_url).get_backend_name() == "sqlite":
        yield databases.sqlite(tmp_path / "replica.db")
        return
    url = databases.postgresql()
    try:
        yield url
    finally:
        databases.drop(url)


def test_a_replica_without_a_checkpoint_answers_not_found(
    database_url: str, empty_replica_url: str, operator_key: PrivateKey
) -> None:
    store = LedgerStore.open(
        database_url, operator=operator_key, origin=ORIGIN, read_url=empty_replica_url
    )
    try:
        with pytest.raises(NotFoundError) as missing:
            store.latest_checkpoint()
    finally:
        store.close()
    assert str(missing.value) == (
        "the log has no checkpoint yet: run spola init and start the service"
    )


def test_an_item_bundle_of_a_subject_no_entry_names_is_refused_and_not_written(
    store: LedgerStore, tmp_path: Path
) -> None:
    """``spola export bundle --item`` of a subject the log never names (a typo): an empty
    bundle would verify and prove nothing; the export refuses it and leaves no file."""
    subject = "/01/08000000001016/21/AAAAAAAAAAAAAAAAAAAA"
    out = tmp_path / "item.bundle"
    with pytest.raises(NotFoundError) as missing:
        export_partial_bundle(store, out, scope=SCOPE_ITEM, subject=subject)
    assert str(missing.value) == f"no entry makes, moves or concerns {subject}"
    assert not out.exists()


def test_a_passport_issued_after_the_head_checkpoint_is_not_in_its_bundle(demo: Api) -> None:
    """A bundle is cut at the head checkpoint read first; a passport whose first version was
    appended after it (a concurrent append, seen by a later statement under PostgreSQL's read
    committed) has no version up to that head, and is not found rather than half-built."""
    jacket = JACKETS[0]
    with store_of(demo).connect() as conn:
        issued = passports.versions(conn, jacket)[0].index
        with pytest.raises(NotFoundError) as missing:
            passport_scope(conn, jacket, issued - 1, None)
    assert str(missing.value) == f"no passport for {jacket} in the latest checkpoint"
