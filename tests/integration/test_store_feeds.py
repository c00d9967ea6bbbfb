"""Admission on the append path: feeds, resubmission, equivocation, keys, attribution, formats.

An envelope that fails admission is refused with ``RefusedEnvelope`` (its ``cause`` the narrow
error) and the whole batch with it: nothing is appended, no checkpoint is signed. The one
exception is equivocation evidence, which is kept. A resubmitted envelope is not an error: it
gets its original receipt back.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from ledger.canonical import canonical_bytes
from ledger.envelope import Envelope, sign_envelope
from ledger.errors import (
    EquivocationError,
    FeedError,
    FormatError,
    KeyOwnerError,
    LedgerError,
    LimitError,
    RefusedEnvelope,
    RevokedKeyError,
    SignatureError,
    UnknownKeyError,
)
from ledger.keys import PrivateKey
from ledger.receipt import Receipt
from ledger.store.ledger import LedgerStore
from ledger.store.schema import checkpoints, equivocations
from tests.conftest import enrol
from tests.terminal import Terminal


def _update(terminal: Terminal, name: str, *, seq: int | None = None) -> Envelope:
    return terminal.sign(
        {
            "type": "actor",
            "op": "update",
            "id": terminal.actor,
            "name": name,
            "roles": ["supplier"],
            "country": "IT",
        },
        seq=seq,
    )


def _state(store: LedgerStore) -> tuple[int, int, bytes]:
    with store.connect() as conn:
        count = conn.execute(select(func.count()).select_from(checkpoints)).scalar_one()
    return store.tree_size(), count, store.latest_checkpoint()


def _refused(
    store: LedgerStore, envelopes: list[Envelope], cause: type[LedgerError]
) -> RefusedEnvelope:
    """Append ``envelopes``, expect the exact ``cause``, and check nothing changed."""
    before = _state(store)
    with pytest.raises(RefusedEnvelope) as refused:
        store.append(envelopes)
    assert type(refused.value.cause) is cause, refused.value
    assert _state(store) == before
    return refused.value


def _evidence(store: LedgerStore) -> list[tuple[str, int, int, bytes]]:
    with store.connect() as conn:
        rows = conn.execute(select(equivocations).order_by(equivocations.c.id))
        return [(r.key_id, r.seq, r.logged_idx, bytes(r.envelope)) for r in rows]


@pytest.fixture
def workshop(store: LedgerStore, operator: Terminal) -> Terminal:
    return enrol(store, operator, "filatura-biellese")


# -- idempotent resubmission -------------------------------------------------------------------


def test_resubmitted_envelope_gets_its_original_receipt(
    store: LedgerStore, operator: Terminal, workshop: Terminal
) -> None:
    envelope = _update(workshop, "Filatura")
    original = store.append([envelope])[0]
    store.append([_update(workshop, "Filatura Biellese"), operator.register("urn:spola:actor:x")])
    before = _state(store)

    again = store.append([envelope])[0]

    assert again.duplicate and not original.duplicate
    assert again.index == original.index
    assert again.leaf_hash == original.leaf_hash
    assert again.checkpoint == original.checkpoint  # the checkpoint of its batch, not the latest
    assert again.inclusion_proof == original.inclusion_proof
    assert (again.applied, again.violation) == (original.applied, original.violation)
    assert _state(store) == before
    again.verify(envelope.to_bytes(), store.log_vkey)


def test_duplicate_inside_one_batch_is_logged_once(store: LedgerStore, workshop: Terminal) -> None:
    first, second = _update(workshop, "uno"), _update(workshop, "due")
    size = store.tree_size()

    receipts = store.append([first, first, second])

    assert [r.index for r in receipts] == [size, size, size + 1]
    assert [r.duplicate for r in receipts] == [False, True, False]
    assert receipts[1].checkpoint == receipts[0].checkpoint
    assert receipts[1].inclusion_proof == receipts[0].inclusion_proof
    assert store.tree_size() == size + 2
    for receipt, envelope in zip(receipts, [first, first, second], strict=True):
        receipt.verify(envelope.to_bytes(), store.log_vkey)


def test_resubmission_mixed_with_new_events_appends_only_the_new(
    store: LedgerStore, workshop: Terminal
) -> None:
    old = _update(workshop, "old")
    original = store.append([old])[0]
    new = _update(workshop, "new")

    replayed, appended = store.append([old, new])

    assert replayed == replace(original, duplicate=True)
    assert (appended.index, appended.duplicate) == (original.index + 1, False)
    assert store.tree_size() == original.index + 2


def test_resubmitted_rotation_returns_its_receipt_after_the_key_is_replaced(
    store: LedgerStore, workshop: Terminal
) -> None:
    # A terminal rotates its key and the answer is lost on the way back: it resends the
    # rotation (its own key's last event) and must get its receipt, not a refusal.
    rotation = workshop.rotate(PrivateKey.generate())
    original = store.append([rotation])[0]
    assert original.applied

    again = store.append([rotation])[0]

    assert again.duplicate and again.index == original.index
    assert again.checkpoint == original.checkpoint


# -- equivocation ------------------------------------------------------------------------------


def test_equivocation_is_refused_and_kept_as_evidence(
    store: LedgerStore, workshop: Terminal
) -> None:
    logged = store.append([_update(workshop, "the real event")])[0]
    conflicting = _update(workshop, "a different event at the same seq", seq=0)

    refused = _refused(store, [conflicting], EquivocationError)

    cause = refused.cause
    assert isinstance(cause, EquivocationError)
    assert (cause.key_id, cause.seq, cause.existing_index) == (workshop.key_id, 0, logged.index)
    assert _evidence(store) == [(workshop.key_id, 0, logged.index, conflicting.to_bytes())]
    assert store.entries(logged.index, logged.index + 1)[0].leaf_hash == logged.leaf_hash


def test_resubmitted_equivocation_is_kept_once(store: LedgerStore, workshop: Terminal) -> None:
    # A terminal retrying its conflicting envelope (or anyone replaying it) added one row of
    # the same evidence per attempt, to a table that can never be cleaned (append-only).
    logged = store.append([_update(workshop, "the real event")])[0]
    conflicting = _update(workshop, "a different event at the same seq", seq=0)
    other = _update(workshop, "a third event at the same seq", seq=0)

    for envelope in (conflicting, conflicting, other, conflicting):
        _refused(store, [envelope], EquivocationError)

    assert _evidence(store) == [
        (workshop.key_id, 0, logged.index, conflicting.to_bytes()),
        (workshop.key_id, 0, logged.index, other.to_bytes()),
    ]


def test_batch_with_an_equivocation_is_refused_whole(
    store: LedgerStore, operator: Terminal, workshop: Terminal
) -> None:
    store.append([_update(workshop, "the real event")])
    honest = operator.register("urn:spola:actor:innocent-bystander")
    next_event = _update(workshop, "next")
    conflicting = _update(workshop, "a different event at the same seq", seq=0)

    refused = _refused(store, [honest, next_event, conflicting], EquivocationError)

    assert refused.position == 2
    assert len(_evidence(store)) == 1
    with pytest.raises(LedgerError):
        store.actor("urn:spola:actor:innocent-bystander")
    # Nothing of the batch took a place in the log: the same events still fit afterwards.
    receipts = store.append([honest, next_event])
    assert not any(r.duplicate for r in receipts)


def test_conflict_inside_one_batch_is_refused_without_false_evidence(
    store: LedgerStore, operator: Terminal, workshop: Terminal
) -> None:
    first = _update(workshop, "first claim at seq 0")
    second = _update(workshop, "second claim at seq 0", seq=0)
    size = store.tree_size()

    with pytest.raises(RefusedEnvelope) as refused:
        store.append([first, second])
    # Nothing of the batch is logged, so nothing was contradicted: a feed error, no evidence.
    assert isinstance(refused.value.cause, FeedError)
    assert not _evidence(store)
    assert store.tree_size() == size
    store.append([operator.register("urn:spola:actor:takes-the-next-index")])

    # Evidence must name the event it contradicts: a logged entry of the same key and seq.
    for key_id, seq, logged_idx, _ in _evidence(store):
        logged = store.entries(logged_idx, logged_idx + 1)
        assert logged, f"evidence names index {logged_idx}, which is not in the log"
        envelope = Envelope.from_bytes(logged[0].entry)
        assert envelope.signatures[0].keyid == key_id, f"index {logged_idx} is another feed"
        assert json.loads(envelope.payload)["seq"] == seq


# -- feeds -------------------------------------------------------------------------------------


def test_feed_gap_is_refused(store: LedgerStore, workshop: Terminal) -> None:
    store.append([_update(workshop, "seq 0")])
    skipping = _update(workshop, "seq 2", seq=2)
    refused = _refused(store, [skipping], FeedError)
    assert "gap" in str(refused.cause)


def test_first_event_of_a_feed_must_be_seq_zero(store: LedgerStore, workshop: Terminal) -> None:
    _refused(store, [_update(workshop, "seq 1", seq=1)], FeedError)


def test_wrong_prev_is_refused(store: LedgerStore, workshop: Terminal) -> None:
    store.append([_update(workshop, "seq 0")])
    forked = replace(workshop, prev="ab" * 32)
    refused = _refused(store, [_update(forked, "seq 1 on a forged prev")], FeedError)
    assert "prev" in str(refused.cause)


def test_seq_zero_with_a_prev_is_refused(store: LedgerStore, workshop: Terminal) -> None:
    _refused(store, [_update(replace(workshop, prev="cd" * 32), "seq 0")], FeedError)


def test_gap_inside_one_batch_refuses_the_batch(store: LedgerStore, workshop: Terminal) -> None:
    good = _update(workshop, "seq 0")
    _update(workshop, "seq 1, never sent")
    refused = _refused(store, [good, _update(workshop, "seq 2")], FeedError)
    assert refused.position == 1


# -- keys --------------------------------------------------------------------------------------


def test_unknown_key_is_refused(store: LedgerStore, workshop: Terminal) -> None:
    stranger = Terminal(actor=workshop.actor)  # a key nobody registered
    _refused(store, [_update(stranger, "hello")], UnknownKeyError)


def test_revoked_key_is_refused(store: LedgerStore, operator: Terminal, workshop: Terminal) -> None:
    store.append([_update(workshop, "before revocation")])
    receipt = store.append([operator.revoke(workshop.actor, workshop.key_id)])[0]
    assert receipt.applied
    assert store.key(workshop.key_id).revoked_at_index == receipt.index + 1

    _refused(store, [_update(workshop, "after revocation")], RevokedKeyError)


def test_key_signs_its_own_rotation_and_nothing_after(
    store: LedgerStore, workshop: Terminal
) -> None:
    new_key = PrivateKey.generate()
    rotation = store.append([workshop.rotate(new_key)])[0]
    assert rotation.applied and rotation.violation is None

    _refused(store, [_update(workshop, "old key after its rotation")], RevokedKeyError)
    successor = Terminal(actor=workshop.actor, key=new_key)  # a new key starts its own feed
    receipt = store.append([_update(successor, "new key, new feed")])[0]
    assert receipt.index == rotation.index + 1


def test_key_added_and_used_in_the_same_batch(store: LedgerStore, operator: Terminal) -> None:
    actor_id = "urn:spola:actor:atelier-nuovo"
    terminal = Terminal(actor=actor_id)
    replacement = PrivateKey.generate()

    receipts = store.append(
        [
            operator.register(actor_id),
            operator.add_key(actor_id, terminal.key),
            terminal.rotate(replacement),
        ]
    )

    assert [r.applied for r in receipts] == [True, True, True]
    assert store.key(terminal.key_id).revoked_at_index == receipts[2].index + 1
    assert store.key(replacement.public_key.key_id).valid_from_index == receipts[2].index + 1


def test_key_used_before_its_addition_in_the_batch_is_refused(
    store: LedgerStore, operator: Terminal
) -> None:
    actor_id = "urn:spola:actor:troppo-presto"
    terminal = Terminal(actor=actor_id)
    early = terminal.rotate(PrivateKey.generate())
    refused = _refused(
        store,
        [operator.register(actor_id), early, operator.add_key(actor_id, terminal.key)],
        UnknownKeyError,
    )
    assert refused.position == 1


# -- attribution, signature and format -----------------------------------------------------------


def test_event_claiming_another_actor_is_refused(
    store: LedgerStore, operator: Terminal, workshop: Terminal
) -> None:
    victim = enrol(store, operator, "maison-vittima")
    impostor = Terminal(actor=victim.actor, key=workshop.key)
    refused = _refused(store, [_update(impostor, "speaking for the victim")], KeyOwnerError)
    assert victim.actor in str(refused.cause)
    assert isinstance(refused.cause, KeyOwnerError)
    assert (refused.cause.key_id, refused.cause.owner, refused.cause.claimed) == (
        workshop.key_id,
        workshop.actor,
        victim.actor,
    )


def test_tampered_payload_is_refused(store: LedgerStore, workshop: Terminal) -> None:
    envelope = _update(workshop, "Filatura")
    tampered = replace(envelope, payload=envelope.payload.replace(b"Filatura", b"Filatora"))
    _refused(store, [tampered], SignatureError)


def _fields(terminal: Terminal, **extra: object) -> dict[str, object]:
    return {
        "v": 1,
        "type": "actor",
        "op": "update",
        "actor": terminal.actor,
        "id": terminal.actor,
        "seq": terminal.seq,
        "prev": terminal.prev,
        "time": "2026-11-26T09:30:00Z",
        "name": "Filatura",
        "roles": ["supplier"],
        "country": "IT",
        **extra,
    }


def test_wrong_payload_type_is_refused(store: LedgerStore, workshop: Terminal) -> None:
    payload = canonical_bytes(_fields(workshop))
    envelope = sign_envelope(payload, workshop.key, payload_type="application/json")
    refused = _refused(store, [envelope], FormatError)
    assert "payloadType" in str(refused.cause)


def test_non_canonical_payload_is_refused(store: LedgerStore, workshop: Terminal) -> None:
    # Validly signed, valid JSON, every field right: only the byte form is not RFC 8785.
    payload = json.dumps(_fields(workshop), indent=1).encode()
    assert json.loads(payload) == json.loads(canonical_bytes(_fields(workshop)))
    refused = _refused(store, [sign_envelope(payload, workshop.key)], FormatError)
    assert "canonical" in str(refused.cause)


def test_float_in_the_payload_is_refused(store: LedgerStore, workshop: Terminal) -> None:
    fields = _fields(workshop, facilities=[])
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    payload = text.replace('"v":1', '"v":1.5').encode()  # canonical layout, but a float
    refused = _refused(store, [sign_envelope(payload, workshop.key)], FormatError)
    assert "decimal strings" in str(refused.cause)


def test_refused_format_does_not_consume_the_seq(store: LedgerStore, workshop: Terminal) -> None:
    bad = sign_envelope(json.dumps(_fields(workshop), indent=1).encode(), workshop.key)
    _refused(store, [bad], FormatError)
    receipt: Receipt = store.append([_update(workshop, "seq 0, properly encoded")])[0]
    assert not receipt.duplicate


# -- large batches (signatures checked on several threads) -------------------------------------


def test_large_batch_is_appended_in_order(
    store: LedgerStore, operator: Terminal, workshop: Terminal
) -> None:
    other = enrol(store, operator, "ricamificio")
    envelopes = [_update((workshop, other)[n % 3 == 0], f"event {n}") for n in range(300)]
    size = store.tree_size()

    receipts = store.append(envelopes)

    assert [r.index for r in receipts] == list(range(size, size + 300))
    assert [e.entry for e in store.entries(size, size + 300)] == [e.to_bytes() for e in envelopes]
    for receipt, envelope in zip(receipts, envelopes, strict=True):
        receipt.verify(envelope.to_bytes(), store.log_vkey)


@pytest.mark.parametrize("position", [0, 97, 199])
def test_forged_signature_in_a_large_batch_is_refused_at_its_position(
    store: LedgerStore, workshop: Terminal, position: int
) -> None:
    envelopes = [_update(workshop, f"event {n}") for n in range(200)]
    genuine = envelopes[position]
    envelopes[position] = replace(genuine, payload=genuine.payload.replace(b"event", b"evento"))

    refused = _refused(store, envelopes, SignatureError)

    assert refused.position == position


def test_first_refusal_in_a_large_batch_is_reported(store: LedgerStore, workshop: Terminal) -> None:
    envelopes = [_update(workshop, f"event {n}") for n in range(200)]
    envelopes[150] = replace(envelopes[150], payload=envelopes[150].payload + b" ")
    fields = _fields(workshop)
    envelopes[120] = sign_envelope(json.dumps(fields, indent=1).encode(), workshop.key)

    refused = _refused(store, envelopes, FormatError)

    assert refused.position == 120


def test_batch_over_the_limit_is_refused_whole(store: LedgerStore, workshop: Terminal) -> None:
    store.sequencer.max_batch = 10
    before = _state(store)
    with pytest.raises(LimitError):
        store.append([_update(workshop, f"event {n}") for n in range(11)])
    assert _state(store) == before
    with pytest.raises(FormatError):
        store.append([])
