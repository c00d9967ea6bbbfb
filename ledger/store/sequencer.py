"""The append path: one sequencer, batch appends, O(log n) per entry.

``append`` admits a batch of DSSE envelopes atomically. Work that needs no lock — envelope
parsing, signature checks for keys already registered, payload parsing — happens first; then
one transaction locks the log head (``SELECT … FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE``
on SQLite), so concurrent writers, threads or processes, never fork the log. Inside the lock
each envelope is checked in order against the key registry and its feed, hashed into the compact
range (new perfect Merkle nodes are written, nothing old is read), the registry and domain rules
(``ledger.registry``, ``ledger.rules``) decide the entry's verdict and their effects update the
projections, and one checkpoint is signed for the batch. Receipts for the batch are built from
nodes held in memory; a resubmitted envelope gets its original receipt back.

Admission failures refuse the whole batch and write nothing, except equivocation evidence, which
is kept in ``equivocations`` by a transaction of its own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, insert, select, update

from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.compact import CompactRange
from ledger.envelope import EVENT_PAYLOAD_TYPE, Envelope, sign_envelope, verify_envelope
from ledger.errors import (
    EquivocationError,
    FeedError,
    FormatError,
    LedgerError,
    LimitError,
    RefusedEnvelope,
    RuleViolation,
    UnknownKeyError,
)
from ledger.events import Event, encode_event, event_time_now, parse_event
from ledger.feed import Continuation, FeedHead, check_continuation, payload_digest
from ledger.hashing import chain_hash, leaf_hash
from ledger.keys import PrivateKey, PublicKey
from ledger.merkle import NodeID, ProofPlan, inclusion_plan, perfect_subtrees
from ledger.receipt import Receipt, Violation
from ledger.registry import KeyRecord, apply_registry_event, check_attribution, signing_key
from ledger.rules import apply_domain_event
from ledger.store.domain import BatchDomain
from ledger.store.engine import WRITE
from ledger.store.reads import receipt_for
from ledger.store.registry import BatchRegistry
from ledger.store.rows import ENTRY_COLUMNS, bulk_insert, feed_heads, save_feed_heads, utc_now
from ledger.store.schema import (
    checkpoints,
    equivocations,
    keys,
    log_entries,
    log_head,
    merkle_nodes,
)

log = logging.getLogger(__name__)


@dataclass
class _Candidate:
    position: int
    envelope: Envelope
    entry: bytes  # RFC 8785 bytes of the envelope: the log entry
    key_id: str
    digest: str
    event: Event | None = None  # set once the signature has verified


@dataclass
class _Batch:
    """What one locked pass produced: rows to write and receipts to build."""

    size: int
    chain: bytes
    compact: CompactRange
    nodes: dict[NodeID, bytes] = field(default_factory=dict)
    entry_rows: list[tuple[object, ...]] = field(default_factory=list)
    node_rows: list[tuple[object, ...]] = field(default_factory=list)
    verdicts: dict[int, Violation | None] = field(default_factory=dict)
    # position in the request → log index (new or, for duplicates, original)
    placed: dict[int, tuple[int, bool]] = field(default_factory=dict)


class _AuditPaths:
    """The RFC 9162 audit paths of a batch's new nodes in the tree of ``size``, sharing work.

    The receipts of one batch are proofs of neighbouring leaves in one tree, and those differ
    only near the bottom: while a complete node lies left of the node above the last leaf at
    its level (``index ^ last > 1``), its sibling and its parent are complete too, and its path
    is that sibling followed by the parent's path. Remembering every node's path makes a
    receipt's proof one sibling and one tuple, instead of planning and reading ~log2(size)
    nodes per receipt (receipts took 8.5 µs an entry, now 4, mostly the ``Receipt``). The few
    nodes next to the last leaf's path, at most two per level, take their elements from
    ``inclusion_plan``: a leaf's path runs through the path of each of its complete ancestors.
    """

    def __init__(self, nodes: dict[NodeID, bytes], size: int) -> None:
        self._nodes = nodes
        self._size = size
        self._paths: dict[NodeID, tuple[bytes, ...]] = {}
        self._folded: dict[tuple[NodeID, ...], bytes] = {}  # right-edge nodes, folded once

    def of(self, level: int, index: int) -> tuple[bytes, ...]:
        """The audit path of the complete node ``(level, index)``, bottom up."""
        path = self._paths.get((level, index))
        if path is None:
            last = (self._size - 1) >> level  # the node at this level holding the last leaf
            if (index ^ last) > 1:
                path = (self._nodes[(level, index ^ 1)], *self.of(level + 1, index >> 1))
            else:
                # Above ``level`` the path of the node's first leaf is the node's own path;
                # the elements below it (inside the node, perhaps in an earlier batch) are
                # neither needed nor held in memory.
                leaf_path = inclusion_plan(index << level, self._size).elements
                plan = ProofPlan(leaf_path[level:])
                path = tuple(plan.materialize(self._nodes, folded=self._folded))
            self._paths[(level, index)] = path
        return path


PARALLEL_VERIFY_MIN = 64  # below this, thread hand-off costs more than it saves


class Sequencer:
    """Appends envelopes to the log of one database."""

    def __init__(
        self, engine: Engine, *, operator: PrivateKey, origin: str, max_batch: int = 1000
    ) -> None:
        self._engine = engine
        self._operator = operator
        self._origin = origin
        self.max_batch = max_batch
        self._cores = os.cpu_count() or 1
        # Threads start on first use; made here so that concurrent appends share one pool.
        self._pool = ThreadPoolExecutor(max(1, self._cores - 1), thread_name_prefix="spola-verify")
        self._receipts_beside_commit = self._cores > 1 and engine.dialect.name == "sqlite"
        self.log_key = KeyRecord(
            key_id=operator.public_key.key_id,
            public_key=operator.public_key.raw,
            actor="urn:spola:actor:operator",
            valid_from_index=0,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False)

    def check_batch_size(self, count: int) -> None:
        """Refuse an empty batch or one over ``max_batch`` before any of it is parsed."""
        if not count:
            raise FormatError("no envelopes to append")
        if count > self.max_batch:
            raise LimitError(f"{count} envelopes, over the batch limit of {self.max_batch}")

    # -- before the lock -------------------------------------------------------------------

    def _prepare(self, envelopes: Sequence[Envelope]) -> list[_Candidate]:
        self.check_batch_size(len(envelopes))
        candidates = []
        for position, envelope in enumerate(envelopes):
            if len(envelope.signatures) != 1 or not envelope.signatures[0].keyid:
                raise RefusedEnvelope(
                    position,
                    FormatError("an event envelope carries exactly one signature, with its keyid"),
                )
            candidates.append(
                _Candidate(
                    position=position,
                    envelope=envelope,
                    entry=envelope.to_bytes(),
                    key_id=envelope.signatures[0].keyid,
                    digest=payload_digest(envelope.payload),
                )
            )
        self._verify_known(candidates)
        return candidates

    def _verify_known(self, candidates: list[_Candidate]) -> None:
        # A key ID is the hash of its public key, so a signature that verifies now verifies
        # forever; only the key's validity at the final index is left for the locked pass.
        wanted = {c.key_id for c in candidates}
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(keys.c.key_id, keys.c.public_key).where(keys.c.key_id.in_(wanted))
            ).all()
        known = {row.key_id: PublicKey(bytes(row.public_key)) for row in rows}
        known.setdefault(self.log_key.key_id, self._operator.public_key)
        ready = [(c, known[c.key_id]) for c in candidates if c.key_id in known]
        failures = self._verify_signatures(ready)
        for c, _ in ready:
            if c.position in failures:
                raise RefusedEnvelope(c.position, failures[c.position])
            self._parse(c)

    def _verify_signatures(
        self, work: list[tuple[_Candidate, PublicKey]]
    ) -> dict[int, LedgerError]:
        """Check signatures, on every core for large batches; failures by position.

        PyNaCl (cffi) releases the GIL while libsodium verifies, so threads run in parallel.
        The payloads are parsed afterwards, in this thread: parsing holds the GIL, and would
        stall the verifying threads if it ran beside them.
        """

        def check(chunk: list[tuple[_Candidate, PublicKey]]) -> dict[int, LedgerError]:
            failed: dict[int, LedgerError] = {}
            for c, public_key in chunk:
                try:
                    verify_envelope(c.envelope, public_key)
                except LedgerError as exc:
                    failed[c.position] = exc
            return failed

        if len(work) < PARALLEL_VERIFY_MIN or self._cores < 2:
            return check(work)
        step = -(-len(work) // self._cores)
        chunks = [work[i : i + step] for i in range(0, len(work), step)]
        futures = [self._pool.submit(check, chunk) for chunk in chunks[1:]]
        failures = check(chunks[0])  # this thread takes a share instead of waiting
        for future in futures:
            failures.update(future.result())
        return failures

    def _verify_and_parse(self, c: _Candidate, public_key: PublicKey) -> None:
        try:
            verify_envelope(c.envelope, public_key)  # signature first, then parse
        except LedgerError as exc:
            raise RefusedEnvelope(c.position, exc) from exc
        self._parse(c)

    @staticmethod
    def _parse(c: _Candidate) -> None:
        """Parse a payload whose signature has verified."""
        try:
            if c.envelope.payload_type != EVENT_PAYLOAD_TYPE:
                raise FormatError(
                    f"payloadType must be {EVENT_PAYLOAD_TYPE}, not {c.envelope.payload_type!r}"
                )
            c.event = parse_event(c.envelope.payload)
        except LedgerError as exc:
            raise RefusedEnvelope(c.position, exc) from exc

    # -- the locked pass -------------------------------------------------------------------

    def append(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        """Admit ``envelopes`` atomically; their receipts, in order."""
        candidates = self._prepare(envelopes)
        return self._locked(lambda conn, size: candidates)

    def append_operator(
        self, fields: dict[str, Any], *, only_genesis: bool = False
    ) -> list[Receipt]:
        """Sign ``fields`` as the operator's next event, inside the lock, and append it.

        The operator's ``seq`` and ``prev`` are read under the sequencer's lock, so concurrent
        operator events (several workers, the CLI beside a worker) never sign the same seq.
        With ``only_genesis`` nothing is appended unless the log is empty.
        """

        def sign(conn: Connection, size: int) -> list[_Candidate]:
            if only_genesis and size > 0:
                return []
            key_id = self.log_key.key_id
            head = feed_heads(conn, {key_id}).get(key_id)
            payload = encode_event(
                {
                    "v": 1,
                    "actor": self.log_key.actor,
                    "seq": 0 if head is None else head.next_seq,
                    "prev": None if head is None else head.digest,
                    "time": event_time_now(),
                    **fields,
                }
            )
            envelope = sign_envelope(payload, self._operator)
            candidate = _Candidate(
                0, envelope, envelope.to_bytes(), key_id, payload_digest(payload)
            )
            self._parse(candidate)
            return [candidate]

        return self._locked(sign)

    def _locked(self, make: Callable[[Connection, int], list[_Candidate]]) -> list[Receipt]:
        """Run one sequencer pass over the candidates ``make`` returns once the lock is held."""
        candidates: list[_Candidate] = []
        try:
            with self._engine.connect().execution_options(**{WRITE: True}) as conn:
                with conn.begin():
                    head = conn.execute(
                        select(log_head).where(log_head.c.id == 1).with_for_update()
                    ).one()
                    candidates = make(conn, head.size)
                    if not candidates:
                        return []
                    batch, note = self._sequence(conn, head, candidates)
                    fresh = self._start_receipts(batch, note)
                duplicates = {idx for idx, dup in batch.placed.values() if dup}
                old = self._original_receipts(conn, duplicates - set(batch.verdicts))
        except RefusedEnvelope as refused:
            if isinstance(refused.cause, EquivocationError):
                self._keep_evidence(candidates[refused.position], refused.cause)
            raise
        # Handed out only now that the commit has succeeded.
        placed = batch.placed
        return [
            old[placed[position][0]] if receipt is None else receipt
            for position, receipt in enumerate(fresh.result())
        ]

    def _sequence(
        self, conn: Connection, head: Row[Any], candidates: list[_Candidate]
    ) -> tuple[_Batch, bytes | None]:
        compact = CompactRange.from_bytes(head.size, bytes(head.compact_range))
        batch = _Batch(size=head.size, chain=bytes(head.chain_hash), compact=compact)
        batch.nodes.update(zip(perfect_subtrees(0, head.size), compact.hashes, strict=True))
        registry = BatchRegistry(conn, self.log_key)
        registry.preload_keys(c.key_id for c in candidates)
        domain = BatchDomain(conn)
        domain.preload(c.event for c in candidates if c.event is not None)
        heads = feed_heads(conn, {c.key_id for c in candidates})
        stored, touched = set(heads), set()
        in_batch: dict[tuple[str, int], tuple[str, int]] = {}
        now = utc_now()
        for c in candidates:
            index = batch.size
            try:
                known = registry.key(c.key_id)
                if known is None:
                    raise UnknownKeyError(
                        f"unknown key {c.key_id}: register it with a key event first"
                    )
                if c.event is None:
                    self._verify_and_parse(c, PublicKey(known.public_key))
                assert c.event is not None
                # A resubmission is answered before validity is checked: the key was valid at
                # the entry's own index, even if it has been rotated or revoked since.
                original = self._continuation(conn, c, heads.get(c.key_id), in_batch)
                if original is None:
                    signer = signing_key(registry, c.key_id, index)
                    check_attribution(c.event, signer)
            except RefusedEnvelope:
                raise
            except LedgerError as exc:
                raise RefusedEnvelope(c.position, exc) from exc
            if original is not None:
                batch.placed[c.position] = (original, True)
                continue
            self._append_one(batch, c, signer, registry=registry, domain=domain, now=now)
            heads[c.key_id] = FeedHead(c.key_id, c.event.seq, c.digest, index)
            touched.add(c.key_id)
            in_batch[(c.key_id, c.event.seq)] = (c.digest, index)
            batch.placed[c.position] = (index, False)
        if not batch.entry_rows:
            return batch, None
        registry.flush()
        domain.flush()
        save_feed_heads(conn, heads, stored, touched)
        bulk_insert(conn, log_entries, ENTRY_COLUMNS, batch.entry_rows)
        bulk_insert(conn, merkle_nodes, ("level", "idx", "hash"), batch.node_rows)
        conn.execute(
            update(log_head).where(log_head.c.id == 1),
            {"size": batch.size, "chain_hash": batch.chain, "compact_range": compact.to_bytes()},
        )
        root = compact.root()
        note = sign_checkpoint(Checkpoint(self._origin, batch.size, root), self._operator)
        conn.execute(
            insert(checkpoints),
            {"size": batch.size, "root_hash": root, "note": note.decode(), "created_at": now},
        )
        return batch, note

    @staticmethod
    def _continuation(
        conn: Connection,
        c: _Candidate,
        head: FeedHead | None,
        in_batch: dict[tuple[str, int], tuple[str, int]],
    ) -> int | None:
        """None to append, or the original index of a resubmission; raises on gap, fork,
        equivocation."""
        assert c.event is not None
        seq = c.event.seq
        logged: tuple[str, int] | None = None
        if head is not None and seq <= head.seq:
            logged = in_batch.get((c.key_id, seq))
            if logged is not None and logged[0] != c.digest:
                # Nothing of this batch is logged yet, so there is no logged event to
                # contradict: the batch is refused, and no evidence names an unwritten index.
                raise FeedError(
                    f"this batch holds two different events at seq {seq} of key {c.key_id}"
                )
            if logged is None:
                row = conn.execute(
                    select(log_entries.c.payload_digest, log_entries.c.idx).where(
                        and_(log_entries.c.key_id == c.key_id, log_entries.c.seq == seq)
                    )
                ).one()
                logged = (row.payload_digest, row.idx)
        kind = check_continuation(
            head,
            key_id=c.key_id,
            seq=seq,
            prev=c.event.prev,
            digest=c.digest,
            logged_digest=None if logged is None else logged[0],
            logged_index=None if logged is None else logged[1],
        )
        if kind is Continuation.DUPLICATE:
            assert logged is not None
            return logged[1]
        return None

    def _append_one(
        self,
        batch: _Batch,
        c: _Candidate,
        signer: KeyRecord,
        *,
        registry: BatchRegistry,
        domain: BatchDomain,
        now: str,
    ) -> None:
        assert c.event is not None
        index = batch.size
        leaf = leaf_hash(c.entry)
        batch.chain = chain_hash(batch.chain, leaf)
        for node_id, node in batch.compact.append(leaf):
            batch.nodes[node_id] = node
            batch.node_rows.append((node_id[0], node_id[1], node))
        violation: Violation | None = None
        try:
            changes = apply_registry_event(
                c.event, c.envelope.payload, index=index, signer=signer, view=registry
            )
            effects = apply_domain_event(c.event, index=index, view=domain, actors=registry)
        except RuleViolation as broken:
            violation = Violation(broken.rule, broken.detail)
        else:
            registry.apply(changes)
            domain.apply(effects)
        batch.verdicts[index] = violation
        batch.entry_rows.append(
            (
                index,
                c.entry,
                leaf,
                batch.chain,
                c.key_id,
                c.event.seq,
                c.digest,
                c.event.type,
                c.event.actor,
                violation is None,
                None if violation is None else violation.rule,
                None if violation is None else violation.detail,
                now,
            )
        )
        batch.size += 1

    # -- after the lock --------------------------------------------------------------------

    def _start_receipts(self, batch: _Batch, note: bytes | None) -> Future[list[Receipt | None]]:
        """Build the receipts of the entries ``batch`` logs, on a pool thread for large batches.

        Called just before the commit. On SQLite the commit is one C call that releases the GIL
        for the whole fsync, so the receipts (pure Python, ~4 µs an entry) are built beside it
        instead of after it. On PostgreSQL that measured no faster (there the commit is short,
        and psycopg takes the GIL back between the steps of its round trip), so they are built
        after it. Small batches build them here too: less than a thread hand-off costs.
        """
        if not self._receipts_beside_commit or len(batch.verdicts) < PARALLEL_VERIFY_MIN:
            done: Future[list[Receipt | None]] = Future()
            done.set_result(self._new_receipts(batch, note))
            return done
        return self._pool.submit(self._new_receipts, batch, note)

    @staticmethod
    def _new_receipts(batch: _Batch, note: bytes | None) -> list[Receipt | None]:
        """By request position: the receipt of the entry this batch logged for it, or None
        where the envelope was logged by an earlier batch (its original receipt is read)."""
        receipts: list[Receipt | None] = []
        paths = _AuditPaths(batch.nodes, batch.size)
        for position in range(len(batch.placed)):
            index, duplicate = batch.placed[position]
            if index not in batch.verdicts:
                receipts.append(None)
                continue
            assert note is not None
            violation = batch.verdicts[index]
            receipts.append(
                Receipt(
                    index=index,
                    leaf_hash=batch.nodes[(0, index)],
                    checkpoint=note,
                    inclusion_proof=paths.of(0, index),
                    applied=violation is None,
                    violation=violation,
                    duplicate=duplicate,
                )
            )
        return receipts

    def _original_receipts(self, conn: Connection, indices: set[int]) -> dict[int, Receipt]:
        return {index: receipt_for(conn, index, duplicate=True) for index in indices}

    def _keep_evidence(self, c: _Candidate, cause: EquivocationError) -> None:
        with self._engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
            kept = conn.execute(
                select(equivocations.c.envelope).where(
                    equivocations.c.key_id == cause.key_id, equivocations.c.seq == cause.seq
                )
            ).scalars()
            if any(bytes(envelope) == c.entry for envelope in kept):
                return  # the same evidence, resubmitted: one row of it is enough
            conn.execute(
                insert(equivocations),
                {
                    "key_id": cause.key_id,
                    "seq": cause.seq,
                    "logged_idx": cause.existing_index,
                    "envelope": c.entry,
                    "received_at": utc_now(),
                },
            )
        log.warning("equivocation by key %s at seq %d kept as evidence", cause.key_id, cause.seq)
