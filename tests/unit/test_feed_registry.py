"""The pure rules of feeds (``ledger.feed``) and of the key registry (``ledger.registry``).

No database: the registry is read through an in-memory ``RegistryView``, as the verifier's
replay reads it. Key validity is the half-open range of log indices
``[valid_from_index, revoked_at_index)``.
"""

from __future__ import annotations

from base64 import b64encode
from dataclasses import dataclass
from typing import Any

import pytest

from ledger.errors import (
    EquivocationError,
    FeedError,
    FormatError,
    RevokedKeyError,
    RuleViolation,
    SignatureError,
    UnknownKeyError,
)
from ledger.events import OPERATOR_ACTOR, Event, encode_event, parse_event
from ledger.feed import Continuation, FeedHead, check_continuation, payload_digest
from ledger.keys import PrivateKey
from ledger.registry import (
    ActorRecord,
    KeyRecord,
    PutActor,
    PutKey,
    apply_registry_event,
    check_attribution,
    signing_key,
)
from ledger.replay import Registry as MemoryRegistry

WORKSHOP = "urn:spola:actor:conceria"
RIVAL = "urn:spola:actor:rivale"
DIGEST = payload_digest(b"seq 4")
OTHER = payload_digest(b"something else")


# -- feeds -------------------------------------------------------------------------------------


def _continue(head: FeedHead | None, seq: int, prev: str | None, **kw: Any) -> Continuation:
    return check_continuation(
        head, key_id="k", seq=seq, prev=prev, digest=kw.pop("digest", "d"), **kw
    )


HEAD = FeedHead(key_id="k", seq=4, digest=DIGEST, index=40)


def test_first_event_of_a_feed_is_seq_zero_without_prev() -> None:
    assert _continue(None, 0, None) is Continuation.APPEND


@pytest.mark.parametrize(("seq", "prev"), [(1, None), (0, DIGEST), (7, DIGEST)])
def test_new_feed_that_does_not_start_at_zero_with_null_prev_is_refused(
    seq: int, prev: str | None
) -> None:
    with pytest.raises(FeedError) as refused:
        _continue(None, seq, prev)
    assert not isinstance(refused.value, EquivocationError)


def test_next_event_names_the_heads_digest() -> None:
    assert HEAD.next_seq == 5
    assert _continue(HEAD, 5, DIGEST) is Continuation.APPEND


@pytest.mark.parametrize("prev", [OTHER, None], ids=["other-digest", "null"])
def test_next_seq_with_a_wrong_prev_is_a_fork(prev: str | None) -> None:
    with pytest.raises(FeedError, match="fork") as refused:
        _continue(HEAD, 5, prev)
    assert not isinstance(refused.value, EquivocationError)


def test_skipping_a_seq_is_a_gap() -> None:
    with pytest.raises(FeedError, match="gap"):
        _continue(HEAD, 6, DIGEST)


def test_same_payload_at_a_used_seq_is_a_duplicate() -> None:
    assert (
        _continue(HEAD, 3, "p", digest="same", logged_digest="same", logged_index=31)
        is Continuation.DUPLICATE
    )
    assert (
        _continue(HEAD, 4, "p", digest=DIGEST, logged_digest=DIGEST, logged_index=40)
        is Continuation.DUPLICATE
    )


def test_different_payload_at_a_used_seq_is_an_equivocation() -> None:
    with pytest.raises(EquivocationError) as refused:
        _continue(HEAD, 2, "p", digest="new", logged_digest="old", logged_index=17)
    assert (refused.value.key_id, refused.value.seq, refused.value.existing_index) == ("k", 2, 17)
    assert isinstance(refused.value, FeedError)


def test_used_seq_that_was_not_looked_up_is_refused_not_guessed() -> None:
    with pytest.raises(FeedError) as refused:
        _continue(HEAD, 2, "p", digest="new")
    assert not isinstance(refused.value, EquivocationError)


def test_payload_digest_is_the_hex_sha256_of_the_payload() -> None:
    assert payload_digest(b"") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


# -- key validity ------------------------------------------------------------------------------


def _key(actor: str = WORKSHOP, *, valid_from: int = 10, revoked: int | None = None) -> KeyRecord:
    private = PrivateKey.generate()
    return KeyRecord(
        key_id=private.public_key.key_id,
        public_key=private.public_key.raw,
        actor=actor,
        valid_from_index=valid_from,
        revoked_at_index=revoked,
    )


def test_key_validity_is_half_open() -> None:
    key = _key(valid_from=10, revoked=20)
    assert [i for i in range(0, 30) if key.valid_at(i)] == list(range(10, 20))


def test_key_without_revocation_stays_valid() -> None:
    key = _key(valid_from=10)
    assert not key.valid_at(9)
    assert key.valid_at(10) and key.valid_at(2**53)


def test_key_revoked_where_it_starts_never_signs() -> None:
    key = _key(valid_from=10, revoked=10)
    assert not any(key.valid_at(i) for i in range(0, 30))


class View(MemoryRegistry):
    """The in-memory registry replay uses, with a shortcut to add a key."""

    def put(self, record: KeyRecord) -> KeyRecord:
        self.keys[record.key_id] = record
        return record


def test_signing_key_is_the_registered_record() -> None:
    view = View()
    key = view.put(_key(valid_from=10, revoked=20))
    assert signing_key(view, key.key_id, 10) == key
    assert signing_key(view, key.key_id, 19) == key


def test_unknown_key_may_not_sign() -> None:
    with pytest.raises(UnknownKeyError):
        signing_key(View(), "ab" * 32, 0)


@pytest.mark.parametrize(
    ("index", "message"), [(9, "not valid before"), (20, "revoked"), (99, "revoked")]
)
def test_key_outside_its_range_may_not_sign(index: int, message: str) -> None:
    view = View()
    key = view.put(_key(valid_from=10, revoked=20))
    with pytest.raises(RevokedKeyError, match=message):
        signing_key(view, key.key_id, index)


def test_key_errors_are_signature_errors() -> None:
    assert issubclass(UnknownKeyError, SignatureError)
    assert issubclass(RevokedKeyError, SignatureError)


def test_event_speaks_only_for_the_actor_of_its_key() -> None:
    event = _event(
        WORKSHOP, {"type": "key", "op": "revoke", "subject": WORKSHOP, "key_id": "ab" * 32}
    )
    check_attribution(event, _key(WORKSHOP))
    with pytest.raises(SignatureError, match=RIVAL):
        check_attribution(event, _key(RIVAL))


# -- registry events ---------------------------------------------------------------------------


def _payload(actor: str, fields: dict[str, Any]) -> bytes:
    header = {"v": 1, "actor": actor, "seq": 0, "prev": None, "time": "2026-11-26T09:30:00Z"}
    return encode_event({**header, **fields})


def _event(actor: str, fields: dict[str, Any]) -> Event:
    return parse_event(_payload(actor, fields))


def _register(actor_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "actor",
        "op": "register",
        "id": actor_id,
        "name": "Conceria",
        "roles": ["supplier"],
        "country": "IT",
        **extra,
    }


def _key_event(op: str, subject: str, key: KeyRecord | None = None, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"type": "key", "op": op, "subject": subject, **extra}
    if key is not None:
        fields["key_id"] = key.key_id
        if op != "revoke":
            fields["public_key"] = b64encode(key.public_key).decode()
    return fields


@dataclass
class Registry:
    """A small registry: the operator (log key at index 0), a workshop with two keys, a rival."""

    view: View
    log_key: KeyRecord
    workshop: KeyRecord
    sibling: KeyRecord
    rival: KeyRecord

    def apply(self, signer: KeyRecord, fields: dict[str, Any], index: int = 100) -> list[Any]:
        payload = _payload(signer.actor, fields)
        event = parse_event(payload)
        return apply_registry_event(event, payload, index=index, signer=signer, view=self.view)

    def broken(self, signer: KeyRecord, fields: dict[str, Any], rule: str) -> None:
        with pytest.raises(RuleViolation) as refused:
            self.apply(signer, fields)
        assert refused.value.rule == rule


def _actor(actor_id: str, *, roles: tuple[str, ...] = ("supplier",), at: int = 1) -> ActorRecord:
    return ActorRecord(actor_id, "name", roles, at, at, b"{}")


@pytest.fixture
def reg() -> Registry:
    view = View()
    for actor in (
        _actor(OPERATOR_ACTOR, roles=("operator",), at=0),
        _actor(WORKSHOP),
        _actor(RIVAL),
    ):
        view.actors[actor.id] = actor
    return Registry(
        view=view,
        log_key=view.put(_key(OPERATOR_ACTOR, valid_from=0)),
        workshop=view.put(_key(WORKSHOP, valid_from=5)),
        sibling=view.put(_key(WORKSHOP, valid_from=6)),
        rival=view.put(_key(RIVAL, valid_from=7)),
    )


def test_operator_registers_an_actor(reg: Registry) -> None:
    (effect,) = reg.apply(reg.log_key, _register("urn:spola:actor:nuovo"), index=42)
    assert isinstance(effect, PutActor)
    assert (effect.record.id, effect.record.registered_at_index) == ("urn:spola:actor:nuovo", 42)


@pytest.mark.parametrize("op", ["register", "update"])
def test_only_the_operator_registers_or_updates_actors(reg: Registry, op: str) -> None:
    reg.broken(reg.workshop, _register(WORKSHOP if op == "update" else "urn:spola:actor:x", op=op),
               "registry.operator_only")  # fmt: skip


def test_registering_an_existing_actor_breaks_a_rule(reg: Registry) -> None:
    reg.broken(reg.log_key, _register(WORKSHOP), "registry.actor_exists")


def test_updating_an_unknown_actor_breaks_a_rule(reg: Registry) -> None:
    reg.broken(
        reg.log_key, _register("urn:spola:actor:ignoto", op="update"), "registry.unknown_actor"
    )


def test_operator_keeps_the_operator_role(reg: Registry) -> None:
    reg.broken(reg.log_key, _register(OPERATOR_ACTOR, op="update"), "registry.operator_role")


def test_actor_update_keeps_the_registration_index(reg: Registry) -> None:
    (effect,) = reg.apply(reg.log_key, _register(WORKSHOP, op="update", name="Nuovo"), index=90)
    assert isinstance(effect, PutActor)
    assert (effect.record.registered_at_index, effect.record.updated_at_index) == (1, 90)


def test_operator_adds_a_key_valid_from_the_next_index(reg: Registry) -> None:
    new = _key(WORKSHOP)
    (effect,) = reg.apply(reg.log_key, _key_event("add", WORKSHOP, new), index=50)
    assert effect == PutKey(KeyRecord(new.key_id, new.public_key, WORKSHOP, 51, None))


def test_only_the_operator_adds_keys(reg: Registry) -> None:
    reg.broken(reg.workshop, _key_event("add", WORKSHOP, _key(WORKSHOP)), "registry.operator_only")


def test_key_for_an_unregistered_actor_breaks_a_rule(reg: Registry) -> None:
    ghost = "urn:spola:actor:fantasma"
    reg.broken(reg.log_key, _key_event("add", ghost, _key(ghost)), "registry.unknown_actor")


def test_registered_key_cannot_be_added_again(reg: Registry) -> None:
    reg.broken(reg.log_key, _key_event("add", RIVAL, reg.workshop), "registry.key_exists")


def test_key_signs_its_own_rotation(reg: Registry) -> None:
    new = _key(WORKSHOP)
    effects = reg.apply(
        reg.workshop, _key_event("rotate", WORKSHOP, new, replaces=reg.workshop.key_id), index=60
    )
    assert effects == [
        PutKey(KeyRecord(reg.workshop.key_id, reg.workshop.public_key, WORKSHOP, 5, 61)),
        PutKey(KeyRecord(new.key_id, new.public_key, WORKSHOP, 61, None)),
    ]


def test_operator_may_rotate_a_key(reg: Registry) -> None:
    fields = _key_event("rotate", WORKSHOP, _key(WORKSHOP), replaces=reg.workshop.key_id)
    assert len(reg.apply(reg.log_key, fields)) == 2


def test_sibling_key_cannot_sign_a_rotation(reg: Registry) -> None:
    fields = _key_event("rotate", WORKSHOP, _key(WORKSHOP), replaces=reg.workshop.key_id)
    reg.broken(reg.sibling, fields, "registry.rotate_signer")


def test_rotating_another_actors_key_breaks_a_rule(reg: Registry) -> None:
    fields = _key_event("rotate", WORKSHOP, _key(WORKSHOP), replaces=reg.rival.key_id)
    reg.broken(reg.workshop, fields, "registry.unknown_key")


@pytest.mark.parametrize("signer", ["log_key", "workshop", "sibling"])
def test_operator_or_the_subject_revokes(reg: Registry, signer: str) -> None:
    (effect,) = reg.apply(
        getattr(reg, signer), _key_event("revoke", WORKSHOP, reg.workshop), index=70
    )
    assert effect == PutKey(
        KeyRecord(reg.workshop.key_id, reg.workshop.public_key, WORKSHOP, 5, 71)
    )


def test_another_actor_cannot_revoke(reg: Registry) -> None:
    reg.broken(reg.rival, _key_event("revoke", WORKSHOP, reg.workshop), "registry.revoke_signer")


def test_revoked_key_cannot_be_revoked_or_rotated_again(reg: Registry) -> None:
    reg.view.put(KeyRecord(reg.sibling.key_id, reg.sibling.public_key, WORKSHOP, 6, 50))
    reg.broken(reg.log_key, _key_event("revoke", WORKSHOP, reg.sibling), "registry.key_not_valid")
    fields = _key_event("rotate", WORKSHOP, _key(WORKSHOP), replaces=reg.sibling.key_id)
    reg.broken(reg.log_key, fields, "registry.key_not_valid")


def test_log_key_cannot_be_revoked_through_the_log(reg: Registry) -> None:
    reg.broken(reg.log_key, _key_event("revoke", OPERATOR_ACTOR, reg.log_key), "registry.log_key")


def test_log_key_cannot_be_rotated_through_the_log(reg: Registry) -> None:
    fields = _key_event("rotate", OPERATOR_ACTOR, _key(OPERATOR_ACTOR), replaces=reg.log_key.key_id)
    reg.broken(reg.log_key, fields, "registry.log_key")


def test_later_operator_key_can_be_revoked(reg: Registry) -> None:
    extra = reg.view.put(_key(OPERATOR_ACTOR, valid_from=3))
    assert reg.apply(reg.log_key, _key_event("revoke", OPERATOR_ACTOR, extra))


def test_key_event_with_a_mismatched_key_id_is_malformed() -> None:
    new = _key(WORKSHOP)
    fields = _key_event("add", WORKSHOP, new)
    fields["key_id"] = "cd" * 32
    with pytest.raises(FormatError):
        _event(OPERATOR_ACTOR, fields)


def test_other_event_types_change_no_registry(reg: Registry) -> None:
    event = Event(
        v=1, type="material", actor=WORKSHOP, seq=0, prev=None, time="2026-11-26T09:30:00Z"
    )
    assert apply_registry_event(event, b"{}", index=1, signer=reg.workshop, view=reg.view) == []
