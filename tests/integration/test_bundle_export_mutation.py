"""Partial and whole-ledger bundle exports, pinned: the exact entries each scope carries.

On SQLite and PostgreSQL, over a small log whose indexes are known: a scarf made of two lots
split from one and merged again, handed over twice, its maker's key rotated, its passport
issued, sold, repaired by another workshop (whose first key is then revoked), re-issued and
repaired again; beside it, entries no bundle of the scarf needs (another lot, another actor's
key revoked). Each bundle is exported over the store (the passport's also over HTTP), verified
with the offline verifier (VALID), and its entry set compared with the one docs/bundle.md
("Partial bundles") names.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from api.demo_story import JACKETS, NEW_CLOTH
from ledger.bundle import Manifest, parse_record
from ledger.bundle_records import ConsistencyRecord, EntryRecord, PassportRecord
from ledger.checkpoint import Checkpoint
from ledger.envelope import Envelope
from ledger.errors import CheckpointError, FormatError, LedgerError, NotFoundError
from ledger.events import parse_event
from ledger.keys import PrivateKey
from ledger.note import SignedNote, sign_note
from ledger.passport import PassportEvent
from ledger.proofs import verify_consistency
from ledger.store.bundle import export_bundle, export_partial_bundle
from ledger.store.ledger import LedgerStore
from ledger.supply import LifecycleEvent
from tests.conftest import ORIGIN, Databases, operator_after_genesis
from tests.integration.api_support import Api, running_api, store_of
from tests.supply import (
    enrol_actor,
    handover,
    item,
    lifecycle,
    make,
    material,
    passport,
    process,
    receipt,
    take,
)
from tests.terminal import Terminal
from verifier import verify_bundle

pytestmark = pytest.mark.integration

SCARF = "/01/08000000001016/21/ORCIXS3356CPAJNMKYAQ"
LOT_A = "urn:spola:lot:filanda:A"
LOT_X = "urn:spola:lot:filanda:X"
LOT_B = "urn:spola:lot:tintoria:B"
LOT_B2 = "urn:spola:lot:tintoria:B2"


def _append(
    store: LedgerStore, index: int, terminal: Terminal, event: dict[str, Any] | Envelope
) -> None:
    signed = event if isinstance(event, Envelope) else terminal.sign(event)
    [done] = store.append([signed])
    assert (done.index, done.applied) == (index, True), done.violation


def _story(store: LedgerStore, operator: Terminal) -> None:
    """The log of the module's docstring, indexes 0 to 30; ``operator`` after the genesis."""
    filanda = enrol_actor(store, operator, "filanda")  # 1, 2
    tintoria = enrol_actor(store, operator, "tintoria")  # 3, 4
    maison = enrol_actor(store, operator, "maison", ("brand",))  # 5, 6
    riparo = enrol_actor(store, operator, "riparo", ("repairer",))  # 7, 8
    other = enrol_actor(store, operator, "altro")  # 9, 10
    _append(store, 11, filanda, material(LOT_A, "100"))
    _append(store, 12, filanda, material(LOT_X, "50"))
    _append(store, 13, filanda, handover("H1", tintoria.actor, [take(LOT_A, "60")]))
    _append(store, 14, tintoria, receipt(filanda.actor, "H1"))
    split = process([take(LOT_A, "60")], [make(LOT_B, "30"), make(LOT_B2, "25")])
    _append(store, 15, tintoria, split)
    lines = [take(LOT_B, "30"), take(LOT_B2, "25")]
    _append(store, 16, tintoria, handover("H2", maison.actor, lines))
    _append(store, 17, maison, receipt(tintoria.actor, "H2"))
    rotated = PrivateKey.generate()
    _append(store, 18, maison, maison.rotate(rotated))
    maison.key, maison.seq, maison.prev = rotated, 0, None  # the new key's feed
    merged = process([take(LOT_B, "1"), take(LOT_B2, "1")], items=[item(SCARF)])
    _append(store, 19, maison, merged)
    _append(store, 20, maison, passport(SCARF))  # version 1
    _append(store, 21, maison, handover("H3", riparo.actor, [{"item": SCARF}]))
    _append(store, 22, riparo, receipt(maison.actor, "H3"))
    _append(store, 23, riparo, lifecycle("repair", SCARF))  # version 2, by another workshop
    second = PrivateKey.generate()
    _append(store, 24, operator, operator.add_key(riparo.actor, second))
    _append(store, 25, operator, operator.revoke(riparo.actor, riparo.key_id))
    riparo.key, riparo.seq, riparo.prev = second, 0, None
    _append(store, 26, operator, operator.revoke(other.actor, other.key_id))
    _append(store, 27, riparo, handover("H4", other.actor, [{"item": SCARF}]))  # in transit
    _append(store, 28, maison, passport(SCARF, "Foulard Lario II"))  # version 3
    # after the latest version: the rest of lot B2 goes back to filanda, in no version's facts
    _append(store, 29, maison, handover("H5", filanda.actor, [take(LOT_B2, "10")]))
    _append(store, 30, filanda, material("urn:spola:lot:filanda:Y", "5"))


def _records(data: bytes) -> list[Any]:
    lines = data.splitlines(keepends=True)[1:]
    return [parse_record(line, number=n) for n, line in enumerate(lines, start=2)]


def _entries(data: bytes) -> list[int]:
    return [r.index for r in _records(data) if isinstance(r, EntryRecord)]


def _verified(data: bytes, log_vkey: str) -> None:
    report = verify_bundle(io.BytesIO(data), log_vkey, jobs=1)
    assert report.valid and not report.findings, report.to_text()


# Every registration and key event of the scarf's signers: the operator (genesis), filanda,
# tintoria, maison (its rotation at 18), riparo (its second key at 24, its first revoked at 25).
_REGISTRY = {0, 1, 2, 3, 4, 5, 6, 7, 8, 18, 24, 25}
# What made the scarf or anything upstream (19, 15, 11), what moved those (13, 14, 16, 17; the
# scarf's own handovers 21, 22, 27), its passport and lifecycle events (20, 23, 28). Not 12
# (another lot), 9, 10 and 26 (an actor none of these entries is signed by), 29 (a move
# of an upstream lot after the latest version) and 30 (a later lot).
SCARF_ENTRIES = sorted(_REGISTRY | {11, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 27, 28})


def _export(store: LedgerStore, tmp_path: Path, scope: str, subject: str) -> bytes:
    out = tmp_path / "out" / f"{scope}.bundle"
    out.parent.mkdir()
    export_partial_bundle(store, out, scope=scope, subject=subject)
    assert _files(out.parent) == [out.name]  # no temporary file left beside it
    return out.read_bytes()


def test_passport_bundle_over_http_holds_every_entry_its_versions_need(
    database_url: str, tmp_path: Path
) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        store = store_of(api)
        _story(store, api.operator)
        data = api.client.get(f"/v1/passports{SCARF}/bundle").content
        _verified(data, store.log_vkey)
        assert _entries(data) == SCARF_ENTRIES
        documents = [r for r in _records(data) if isinstance(r, PassportRecord)]
        assert [r.version for r in documents] == [1, 2, 3]
        for record in documents:
            served = api.client.get(f"/v1/passports{SCARF}/versions/{record.version}")
            assert record.document == served.content


def test_item_bundle_of_a_passported_item_holds_its_passports_entries(
    store: LedgerStore, operator_key: PrivateKey, tmp_path: Path
) -> None:
    _story(store, operator_after_genesis(store, operator_key))
    data = _export(store, tmp_path, "item", SCARF)
    _verified(data, store.log_vkey)
    assert _entries(data) == SCARF_ENTRIES
    assert not [r for r in _records(data) if isinstance(r, PassportRecord)]


@pytest.mark.parametrize(
    ("lot", "want"),
    [
        # split from A at 15 (its making), A made at 11 and moved at 13/14; B moved at 16/17
        # (maison's receipt: maison's registration and rotation). Not 19, the merge using it.
        (LOT_B, [0, 1, 2, 3, 4, 5, 6, 11, 13, 14, 15, 16, 17, 18]),
        (LOT_A, [0, 1, 2, 3, 4, 11, 13, 14]),
    ],
)
def test_lot_bundle_holds_its_upstream_and_moves(
    store: LedgerStore, operator_key: PrivateKey, tmp_path: Path, lot: str, want: list[int]
) -> None:
    _story(store, operator_after_genesis(store, operator_key))
    data = _export(store, tmp_path, "item", lot)
    _verified(data, store.log_vkey)
    assert _entries(data) == want


@pytest.mark.parametrize(
    ("slug", "want"),
    [
        # the operator's registration and key events about riparo, then what riparo signed
        # with its first key (22, 23) and its second (27)
        ("riparo", [0, 7, 8, 22, 23, 24, 25, 27]),
        ("maison", [0, 5, 6, 17, 18, 19, 20, 21, 28, 29]),  # 18: its own rotation
    ],
)
def test_actor_bundle_holds_what_it_signed_and_its_key_events(
    store: LedgerStore, operator_key: PrivateKey, tmp_path: Path, slug: str, want: list[int]
) -> None:
    _story(store, operator_after_genesis(store, operator_key))
    data = _export(store, tmp_path, "actor", f"urn:spola:actor:{slug}")
    _verified(data, store.log_vkey)
    assert _entries(data) == want


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _out_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


def test_a_since_checkpoint_of_another_log_with_the_same_key_is_refused(
    store: LedgerStore,
    operator_key: PrivateKey,
    databases: Databases,
    tmp_path: Path,
) -> None:
    # A second database run with the same operator key and origin: its checkpoints verify
    # with the log key, yet no consistency proof joins them to this log.
    _story(store, operator_after_genesis(store, operator_key))
    other = LedgerStore.open(
        databases.sqlite(tmp_path / "other.db"), operator=operator_key, origin=ORIGIN
    )
    try:
        enrol_actor(other, operator_after_genesis(other, operator_key), "straniero")
        foreign = other.latest_checkpoint()
    finally:
        other.close()
    out_dir = _out_dir(tmp_path)
    (out_dir / "ledger.bundle").write_bytes(b"the bundle exported yesterday\n")
    with pytest.raises(CheckpointError, match="is not this log's"):
        export_bundle(store, out_dir / "ledger.bundle", since_checkpoint=foreign)
    assert _files(out_dir) == ["ledger.bundle"]
    assert (out_dir / "ledger.bundle").read_bytes() == b"the bundle exported yesterday\n"


def test_a_since_checkpoint_is_verified_and_followed_by_its_consistency_proof(
    store: LedgerStore, operator_key: PrivateKey, tmp_path: Path
) -> None:
    operator = operator_after_genesis(store, operator_key)
    enrol_actor(store, operator, "prima")  # 1, 2
    earlier = store.latest_checkpoint()
    store.append([operator.register("urn:spola:actor:seconda")])  # 3
    out = _out_dir(tmp_path) / "ledger.bundle"
    forged = sign_note(SignedNote.from_bytes(earlier).text, ORIGIN, PrivateKey.generate())
    with pytest.raises(LedgerError):
        export_bundle(store, out, since_checkpoint=forged)
    assert _files(out.parent) == []
    summary = export_bundle(store, out, since_checkpoint=earlier)
    assert (summary.since_size, summary.tree_size) == (3, 4)
    data = out.read_bytes()
    report = verify_bundle(io.BytesIO(data), store.log_vkey, trusted_checkpoint=earlier, jobs=1)
    assert report.valid and not report.findings, report.to_text()
    assert Manifest.from_line(data.splitlines(keepends=True)[0]).consistency == 1
    [proved] = [r for r in _records(data) if isinstance(r, ConsistencyRecord)]
    since = Checkpoint.from_text(SignedNote.from_bytes(earlier).text)
    head = Checkpoint.from_text(SignedNote.from_bytes(store.latest_checkpoint()).text)
    assert (proved.size1, proved.size2) == (3, 4)
    verify_consistency(3, 4, proved.proof, since.root_hash, head.root_hash)


def test_a_failed_export_leaves_the_old_bundle_and_no_temporary_file(
    store: LedgerStore, operator_key: PrivateKey, tmp_path: Path
) -> None:
    _story(store, operator_after_genesis(store, operator_key))
    out = _out_dir(tmp_path) / "ledger.bundle"
    out.write_bytes(b"the bundle exported yesterday\n")

    def interrupted(written: int, size: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_bundle(store, out, progress=interrupted)
    with pytest.raises(NotFoundError):
        export_partial_bundle(store, out, scope="actor", subject="urn:spola:actor:nessuno")
    with pytest.raises(NotFoundError):
        export_partial_bundle(store, out, scope="item", subject="urn:spola:lot:nessuno:Z")
    with pytest.raises(FormatError, match="needs the passport builder"):
        export_partial_bundle(store, out, scope="passport", subject=SCARF)  # no documents
    with pytest.raises(FormatError, match="not a partial bundle's"):
        export_partial_bundle(store, out, scope="ledger", subject=SCARF)
    assert _files(out.parent) == ["ledger.bundle"]
    assert out.read_bytes() == b"the bundle exported yesterday\n"


def test_a_recycled_lots_bundle_holds_no_other_items_passport_or_life(
    demo: Api, tmp_path: Path
) -> None:
    # The demo's new cloth is woven of yarn spun from a jacket's recycled wool: the jacket is
    # upstream, and its recycling (a lifecycle event with outputs) made the recycled lot. What
    # happened to the jacket otherwise — its passport, its sales, its take-back — is no part
    # of what made the cloth or moved anything it came from.
    store = store_of(demo)
    data = _export(store, tmp_path, "item", NEW_CLOTH)
    _verified(data, store.log_vkey)
    events = {
        r.index: parse_event(Envelope.from_bytes(r.entry).payload)
        for r in _records(data)
        if isinstance(r, EntryRecord)
    }
    life = {i: e for i, e in events.items() if isinstance(e, LifecycleEvent | PassportEvent)}
    assert [(e.kind, e.item) for e in life.values() if isinstance(e, LifecycleEvent)] == [
        ("recycling", JACKETS[1])
    ]
    assert not [e for e in life.values() if isinstance(e, PassportEvent)]


def test_a_ledger_bundle_over_a_page_boundary_holds_every_entry(
    store: LedgerStore, operator_key: PrivateKey, tmp_path: Path
) -> None:
    # 1001 entries: the export reads them 1000 at a time, the last page holds one.
    operator = operator_after_genesis(store, operator_key)
    store.append([operator.register(f"urn:spola:actor:a{n}") for n in range(1000)])
    out = _out_dir(tmp_path) / "ledger.bundle"
    pages: list[tuple[int, int]] = []
    summary = export_bundle(store, out, progress=lambda done, size: pages.append((done, size)))
    assert summary.tree_size == 1001 and pages == [(1000, 1001), (1001, 1001)]
    data = out.read_bytes()
    _verified(data, store.log_vkey)
    assert _entries(data) == list(range(1001))


def test_an_item_without_passport_carries_its_life_and_a_long_chain_every_signer(
    store: LedgerStore, operator_key: PrivateKey, tmp_path: Path
) -> None:
    # A scarf with no passport is sold: its bundle holds its sale. Lot L goes back and forth
    # 250 times before maison receives it: maison's registration goes too, though maison signs
    # none of the bundle's first 500 entries.
    operator = operator_after_genesis(store, operator_key)
    filanda = enrol_actor(store, operator, "filanda")  # 1, 2
    tintoria = enrol_actor(store, operator, "tintoria")  # 3, 4
    maison = enrol_actor(store, operator, "maison", ("brand",))  # 5, 6
    _append(store, 7, filanda, material(LOT_A, "100"))
    _append(store, 8, filanda, process([take(LOT_A, "1")], items=[item(SCARF)]))
    _append(store, 9, filanda, lifecycle("sale", SCARF))
    data = _export(store, tmp_path, "item", SCARF)
    _verified(data, store.log_vkey)
    assert _entries(data) == [0, 1, 2, 7, 8, 9]

    lot = "urn:spola:lot:filanda:L"
    moves = [filanda.sign(material(lot, "10"))]  # 10
    holder, other = filanda, tintoria
    for n in range(250):
        moves.append(holder.sign(handover(f"L{n}", other.actor, [take(lot, "10")])))
        moves.append(other.sign(receipt(holder.actor, f"L{n}")))
        holder, other = other, holder
    moves.append(holder.sign(handover("L-last", maison.actor, [take(lot, "10")])))
    moves.append(maison.sign(receipt(holder.actor, "L-last")))  # 512
    assert all(done.applied for done in store.append(moves))
    (tmp_path / "lot").mkdir()
    data = _export(store, tmp_path / "lot", "item", lot)
    _verified(data, store.log_vkey)
    assert _entries(data) == [0, 1, 2, 3, 4, 5, 6, *range(10, 513)]
