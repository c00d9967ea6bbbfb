"""Which entries a partial bundle carries (docs/bundle.md, "Partial bundles").

A partial bundle holds the entries of one passport, item or actor — its *scope* — and every
``actor`` and ``key`` entry their signers depend on, so that the verifier can establish each
signing key's validity by index from the bundle alone (step 7). This module picks those log
indexes; ``ledger.store.bundle`` writes them with their inclusion proofs.

- ``passport``: the facts behind the latest version (``ledger.store.passports.facts``); the
  caller builds the document of every version from the facts it is handed (the store does not
  import ``passports``), and the actors whose profiles the builder read become dependencies.
- ``item``: the same entries when the item (or lot) has a passport; otherwise what made it or
  anything upstream of it, what moved any of those, and what happened to it since.
- ``actor``: every entry the actor signed.

Dependencies: the registration (index 0, the operator's) and, for every actor that signed an
entry of the bundle or whose profile a passport read, its ``actor`` events and the ``key``
events about its keys, up to the head — and, in turn, the same for their signers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from ledger.errors import NotFoundError
from ledger.events import ActorEvent, KeyEvent, parse_event
from ledger.passport import PassportFacts, VersionRef
from ledger.store import passports as passport_queries
from ledger.store.reads import chunks
from ledger.store.schema import custody, log_entries

DocumentBuilder = Callable[[PassportFacts], bytes]  # a version's facts → its document bytes


@dataclass
class Scope:
    """What a partial bundle carries: entry indexes and, for a passport, its documents."""

    indexes: set[int] = field(default_factory=set)
    documents: list[tuple[VersionRef, bytes]] = field(default_factory=list)
    read_actors: set[str] = field(default_factory=set)  # profiles a passport was built from


class _ReadRecorder(Mapping[str, ActorEvent]):
    """The actors' profiles, noting each one the passport builder looks up."""

    def __init__(self, inner: Mapping[str, ActorEvent], read: set[str]) -> None:
        self._inner = inner
        self._read = read

    def __getitem__(self, key: str) -> ActorEvent:
        self._read.add(key)
        return self._inner[key]

    def __iter__(self) -> Iterator[str]:
        self._read.update(self._inner)
        return iter(self._inner)

    def __len__(self) -> int:
        return len(self._inner)


def _indexes(facts: PassportFacts) -> set[int]:
    return {fact.index for fact in facts.facts}


def passport_scope(
    conn: Connection, subject: str, upto: int, build: DocumentBuilder | None
) -> Scope:
    """The facts of the latest version up to index ``upto`` (the head checkpoint's last entry:
    a version appended since is left out); with ``build``, every version's document."""
    every = [v for v in passport_queries.versions(conn, subject) if v.index <= upto]
    if not every:
        raise NotFoundError(f"no passport for {subject} in the latest checkpoint")
    latest = passport_queries.facts(conn, subject, every[-1].number)
    scope = Scope(indexes=_indexes(latest))
    if build is None:
        return scope
    for version in every:
        facts = passport_queries.facts(conn, subject, version.number)
        recorded = PassportFacts(
            subject=facts.subject,
            versions=facts.versions,
            facts=facts.facts,
            actors=_ReadRecorder(facts.actors, scope.read_actors),
        )
        scope.documents.append((version, build(recorded)))
    return scope


def item_scope(conn: Connection, subject: str, upto: int) -> Scope:
    """A passport's facts, or (no passport) the item's or lot's upstream and its own life."""
    try:
        return passport_scope(conn, subject, upto, None)
    except NotFoundError:
        pass
    nodes, making = passport_queries._upstream(conn, subject, upto)
    indexes = set(making)
    for chunk in chunks(sorted(nodes)):
        indexes.update(
            conn.execute(
                select(custody.c.idx).where(
                    custody.c.subject.in_(chunk),
                    custody.c.idx <= upto,
                    custody.c.action.in_(passport_queries.TRACE_ACTIONS),
                )
            ).scalars()
        )
    # What happened to the subject itself (a batch's passport, an item's life) — not to an
    # item upstream of it, such as a garment recycled into it, whose life made nothing here.
    indexes.update(
        conn.execute(
            select(custody.c.idx).where(
                custody.c.subject == subject,
                custody.c.idx <= upto,
                custody.c.action.in_(passport_queries.VERSION_ACTIONS),
            )
        ).scalars()
    )
    if not indexes:
        raise NotFoundError(f"no entry makes, moves or concerns {subject}")
    return Scope(indexes=indexes)


def actor_scope(conn: Connection, actor: str, upto: int) -> Scope:
    """Every entry ``actor`` signed, up to index ``upto``."""
    indexes = set(
        conn.execute(
            select(log_entries.c.idx).where(log_entries.c.actor == actor, log_entries.c.idx <= upto)
        ).scalars()
    )
    if not indexes:
        raise NotFoundError(f"{actor} signed no entry in the log")
    return Scope(indexes=indexes)


def _signers(conn: Connection, indexes: set[int]) -> set[str]:
    found: set[str] = set()
    ordered = sorted(indexes)
    for start in range(0, len(ordered), 500):
        found.update(
            conn.execute(
                select(log_entries.c.actor).where(
                    log_entries.c.idx.in_(ordered[start : start + 500])
                )
            ).scalars()
        )
    return found


def _registry_entries(conn: Connection, upto: int) -> list[tuple[int, str, str]]:
    """Every ``actor`` and ``key`` entry: (index, signer, the actor it is about)."""
    rows = conn.execute(
        select(log_entries.c.idx, log_entries.c.actor, log_entries.c.entry)
        .where(log_entries.c.event_type.in_(("actor", "key")), log_entries.c.idx <= upto)
        .order_by(log_entries.c.idx)
    )
    found = []
    for row in rows:
        payload = base64.b64decode(json.loads(bytes(row.entry))["payload"])
        event = parse_event(payload)
        about = event.id if isinstance(event, ActorEvent) else None
        if isinstance(event, KeyEvent):
            about = event.subject
        if about is not None:
            found.append((int(row.idx), str(row.actor), about))
    return found


def with_dependencies(conn: Connection, scope: Scope, upto: int) -> set[int]:
    """The scope's indexes, the genesis entry, and the registry entries they depend on."""
    indexes = set(scope.indexes) | {0}
    actors = _signers(conn, indexes) | scope.read_actors
    registry = _registry_entries(conn, upto)
    while True:
        picked = [(i, signer) for i, signer, about in registry if about in actors]
        signers = {signer for _, signer in picked}
        indexes.update(i for i, _ in picked)
        if signers <= actors:
            return indexes
        actors |= signers
