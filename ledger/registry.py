"""Who may sign: actors and their keys, decided by log index.

The registry is itself in the log (``actor`` and ``key`` events), so a bundle carries its own key
history and a verifier rebuilds it by replay. This module holds the pure rules; ``ledger.store``
keeps the projection in tables and the verifier keeps it in memory, both behind
``RegistryView``.

Key validity is a half-open range of log indices ``[valid_from_index, revoked_at_index)``:
``valid_from_index`` is the first index the key may sign (the entry after the one that added
it), ``revoked_at_index`` the first index it may no longer sign (the entry after the one that
rotated or revoked it, so a key can sign its own rotation). The log key — the operator's — is
valid from index 0 and is not revoked through the log.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from ledger.errors import KeyOwnerError, RevokedKeyError, RuleViolation, UnknownKeyError
from ledger.events import OPERATOR_ACTOR, ActorEvent, Event, KeyEvent


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    public_key: bytes
    actor: str
    valid_from_index: int
    revoked_at_index: int | None = None

    def valid_at(self, index: int) -> bool:
        return self.valid_from_index <= index and (
            self.revoked_at_index is None or index < self.revoked_at_index
        )


@dataclass(frozen=True)
class ActorRecord:
    id: str
    name: str
    roles: tuple[str, ...]
    registered_at_index: int
    updated_at_index: int
    profile: bytes  # the payload bytes of the latest actor event, exactly as signed


class RegistryView(Protocol):
    def key(self, key_id: str) -> KeyRecord | None: ...

    def actor(self, actor_id: str) -> ActorRecord | None: ...


@dataclass(frozen=True)
class PutKey:
    record: KeyRecord


@dataclass(frozen=True)
class PutActor:
    record: ActorRecord


Effect = PutKey | PutActor


def signing_key(view: RegistryView, key_id: str, index: int) -> KeyRecord:
    """The key that may sign entry ``index``; raises UnknownKeyError or RevokedKeyError."""
    record = view.key(key_id)
    if record is None:
        raise UnknownKeyError(f"unknown key {key_id}: register it with a key event first")
    if not record.valid_at(index):
        if record.revoked_at_index is not None and index >= record.revoked_at_index:
            raise RevokedKeyError(
                f"key {key_id} was revoked: not valid from log index {record.revoked_at_index}"
            )
        raise RevokedKeyError(
            f"key {key_id} is not valid before log index {record.valid_from_index}"
        )
    return record


def check_attribution(event: Event, signer: KeyRecord) -> None:
    """An event speaks for the actor that owns the key that signed it, and no other."""
    if event.actor != signer.actor:
        raise KeyOwnerError(key_id=signer.key_id, owner=signer.actor, claimed=event.actor)


def apply_registry_event(
    event: Event, payload: bytes, *, index: int, signer: KeyRecord, view: RegistryView
) -> list[Effect]:
    """The registry changes an ``actor`` or ``key`` event makes; RuleViolation if it may not."""
    if isinstance(event, ActorEvent):
        return [_apply_actor(event, payload, index=index, signer=signer, view=view)]
    if isinstance(event, KeyEvent):
        return _apply_key(event, index=index, signer=signer, view=view)
    return []


def _operator_only(signer: KeyRecord, what: str) -> None:
    if signer.actor != OPERATOR_ACTOR:
        raise RuleViolation("registry.operator_only", f"{what} must be signed by the operator")


def _apply_actor(
    event: ActorEvent, payload: bytes, *, index: int, signer: KeyRecord, view: RegistryView
) -> PutActor:
    _operator_only(signer, f"actor {event.op}")
    existing = view.actor(event.id)
    if event.op == "register" and existing is not None:
        raise RuleViolation(
            "registry.actor_exists",
            f"{event.id} is already registered (log index {existing.registered_at_index})",
        )
    if event.op == "update" and existing is None:
        raise RuleViolation("registry.unknown_actor", f"{event.id} is not registered")
    if event.id == OPERATOR_ACTOR and "operator" not in event.roles:
        raise RuleViolation("registry.operator_role", "the operator keeps the operator role")
    registered = index if existing is None else existing.registered_at_index
    return PutActor(
        ActorRecord(
            id=event.id,
            name=event.name,
            roles=tuple(event.roles),
            registered_at_index=registered,
            updated_at_index=index,
            profile=payload,
        )
    )


def _apply_key(
    event: KeyEvent, *, index: int, signer: KeyRecord, view: RegistryView
) -> list[Effect]:
    if view.actor(event.subject) is None:
        raise RuleViolation("registry.unknown_actor", f"{event.subject} is not registered")
    if event.op == "revoke":
        target = _subject_key(view, event, event.key_id, index)
        if signer.actor not in (OPERATOR_ACTOR, event.subject):
            raise RuleViolation(
                "registry.revoke_signer",
                f"only the operator or {event.subject} may revoke its keys",
            )
        return [PutKey(replace(target, revoked_at_index=index + 1))]
    if view.key(event.key_id) is not None:
        raise RuleViolation(
            "registry.key_exists", f"key {event.key_id} is already registered and cannot be reused"
        )
    new = KeyRecord(
        key_id=event.key_id,
        public_key=event.new_public_key().raw,
        actor=event.subject,
        valid_from_index=index + 1,
    )
    if event.op == "add":
        _operator_only(signer, "key add")
        return [PutKey(new)]
    assert event.replaces is not None  # parse_event guarantees it for rotate
    old = _subject_key(view, event, event.replaces, index)
    if signer.key_id != old.key_id and signer.actor != OPERATOR_ACTOR:
        raise RuleViolation(
            "registry.rotate_signer",
            f"a rotation is signed by the key it replaces ({old.key_id}) or by the operator",
        )
    return [PutKey(replace(old, revoked_at_index=index + 1)), PutKey(new)]


def _subject_key(view: RegistryView, event: KeyEvent, wanted: str, index: int) -> KeyRecord:
    record = view.key(wanted)
    if record is None or record.actor != event.subject:
        raise RuleViolation("registry.unknown_key", f"{wanted} is not a key of {event.subject}")
    if not record.valid_at(index):
        raise RuleViolation("registry.key_not_valid", f"key {wanted} is already revoked")
    if record.actor == OPERATOR_ACTOR and record.valid_from_index == 0:
        raise RuleViolation(
            "registry.log_key", "the log key is not rotated or revoked through the log"
        )
    return record
