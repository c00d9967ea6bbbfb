"""The registry projection (``keys``, ``actors``) as the sequencer sees it during one batch.

Reads go to the database once per key or actor and are cached for the batch; the batch's own
registry events update the cache in order, so an event may use a key added earlier in the same
batch. ``flush`` writes what changed, inside the sequencer's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, insert, select, update

from ledger.registry import ActorRecord, Effect, KeyRecord, PutActor, PutKey
from ledger.store.schema import actors, keys


def key_from_row(row: object) -> KeyRecord:
    return KeyRecord(
        key_id=row.key_id,  # type: ignore[attr-defined]
        public_key=bytes(row.public_key),  # type: ignore[attr-defined]
        actor=row.actor,  # type: ignore[attr-defined]
        valid_from_index=row.valid_from_index,  # type: ignore[attr-defined]
        revoked_at_index=row.revoked_at_index,  # type: ignore[attr-defined]
    )


def actor_from_row(row: object) -> ActorRecord:
    return ActorRecord(
        id=row.id,  # type: ignore[attr-defined]
        name=row.name,  # type: ignore[attr-defined]
        roles=tuple(row.roles.split(",")),  # type: ignore[attr-defined]
        registered_at_index=row.registered_at_index,  # type: ignore[attr-defined]
        updated_at_index=row.updated_at_index,  # type: ignore[attr-defined]
        profile=bytes(row.profile),  # type: ignore[attr-defined]
    )


def key_row(record: KeyRecord) -> dict[str, object]:
    return {
        "key_id": record.key_id,
        "public_key": record.public_key,
        "actor": record.actor,
        "valid_from_index": record.valid_from_index,
        "revoked_at_index": record.revoked_at_index,
    }


def actor_row(record: ActorRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "name": record.name,
        "roles": ",".join(record.roles),
        "registered_at_index": record.registered_at_index,
        "updated_at_index": record.updated_at_index,
        "profile": record.profile,
    }


class BatchRegistry:
    """A ``RegistryView`` over the database plus the batch's own, not yet written, changes."""

    def __init__(self, conn: Connection, log_key: KeyRecord) -> None:
        self._conn = conn
        self._log_key = log_key
        self._keys: dict[str, KeyRecord | None] = {}
        self._actors: dict[str, ActorRecord | None] = {}
        self._stored_keys: set[str] = set()
        self._stored_actors: set[str] = set()
        self._dirty_keys: dict[str, KeyRecord] = {}
        self._dirty_actors: dict[str, ActorRecord] = {}

    def preload_keys(self, key_ids: Iterable[str]) -> None:
        wanted = [k for k in set(key_ids) if k not in self._keys]
        for k in wanted:
            self._keys[k] = None
        if wanted:
            for row in self._conn.execute(select(keys).where(keys.c.key_id.in_(wanted))):
                self._keys[row.key_id] = key_from_row(row)
                self._stored_keys.add(row.key_id)

    def key(self, key_id: str) -> KeyRecord | None:
        if key_id not in self._keys:
            self.preload_keys([key_id])
        record = self._keys[key_id]
        if record is None and key_id == self._log_key.key_id:
            # The log key signs from index 0 (the genesis entry registers it in the table).
            self._dirty_keys[key_id] = self._keys[key_id] = record = self._log_key
        return record

    def actor(self, actor_id: str) -> ActorRecord | None:
        if actor_id not in self._actors:
            row = self._conn.execute(select(actors).where(actors.c.id == actor_id)).first()
            self._actors[actor_id] = None if row is None else actor_from_row(row)
            if row is not None:
                self._stored_actors.add(actor_id)
        return self._actors[actor_id]

    def apply(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, PutKey):
                self._keys[effect.record.key_id] = effect.record
                self._dirty_keys[effect.record.key_id] = effect.record
            elif isinstance(effect, PutActor):
                self._actors[effect.record.id] = effect.record
                self._dirty_actors[effect.record.id] = effect.record

    def flush(self) -> None:
        for record in self._dirty_keys.values():
            if record.key_id in self._stored_keys:
                where = keys.c.key_id == record.key_id
                self._conn.execute(update(keys).where(where), key_row(record))
            else:
                self._conn.execute(insert(keys), key_row(record))
        for actor in self._dirty_actors.values():
            if actor.id in self._stored_actors:
                where = actors.c.id == actor.id
                self._conn.execute(update(actors).where(where), actor_row(actor))
            else:
                self._conn.execute(insert(actors), actor_row(actor))
