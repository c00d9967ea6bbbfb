"""The append path: one sequencer, batch appends, O(log n) per entry.

``append`` admits a batch of DSSE envelopes atomically. Work that needs no lock — envelope
parsing, signature checks for keys already registered, payload parsing (``ledger.store.admission``)
— happens first; then one transaction locks the log head (``SELECT … FOR UPDATE`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite), so concurrent writers, threads or processes, never fork the log.
Inside the lock each envelope is checked in order against the key registry and its feed, hashed
into the compact range (new perfect Merkle nodes are written, nothing old is read), the registry
and domain rules (``ledger.registry``, ``ledger.rules``) decide the entry's verdict and their
effects update the projections, and one checkpoint is signed for the batch. Receipts for the
batch are built from nodes held in memory; a resubmitted envelope gets its original receipt back.

Admission failures refuse the whole batch and write nothing, except equivocation evidence, which
is kept in ``equivocations`` by a transaction of its own. A refused batch names its first refused
envelope, and carries every other refusal of the same pass (``ledger.store.admission.Refusals``):
a refused envelope is skipped, not fatal, until the pass ends, so the envelopes after it are still
judged, each as it would be without the refused ones. The evidence of every equivocation the pass
found is kept.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select, update

from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.compact import CompactRange
from ledger.envelope import Envelope, sign_envelope
from ledger.errors import FormatError, LedgerError, LimitError, RuleViolation
from ledger.events import encode_event, event_time_now
from ledger.feed import FeedHead, payload_digest
from ledger.hashing import chain_hash, leaf_hash
from ledger.keys import PrivateKey
from ledger.merkle import NodeID, ProofPlan, inclusion_plan, perfect_subtrees
from ledger.receipt import Receipt, Violation
from ledger.registry import KeyRecord, apply_registry_event
from ledger.rules import apply_domain_event
from ledger.store.admission import (
    PARALLEL_VERIFY_MIN,
    Admission,
    Candidate,
    Refusals,
    admit,
    held_in_batch,
    keep_evidence,
    parse,
)
from ledger.store.domain import BatchDomain
from ledger.store.engine import WRITE
from ledger.store.reads import receipt_for
from ledger.store.registry import BatchRegistry
from ledger.store.rows import ENTRY_COLUMNS, bulk_insert, feed_heads, save_feed_heads, utc_now
from ledger.store.schema import (
    checkpoints,
    log_entries,
    log_head,
    merkle_nodes,
)

log = logging.getLogger(__name__)


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
        self._admission = Admission(
            engine, operator=operator.public_key, pool=self._pool, cores=self._cores
        )
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

    # -- the locked pass -------------------------------------------------------------------

    def append(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        """Admit ``envelopes`` atomically; their receipts, in order."""
        self.check_batch_size(len(envelopes))
        candidates = self._admission.prepare(envelopes)
        return self._locked(lambda conn, size: candidates)

    def append_operator(
        self, fields: dict[str, Any], *, only_genesis: bool = False
    ) -> list[Receipt]:
        """Sign ``fields`` as the operator's next event, inside the lock, and append it.

        The operator's ``seq`` and ``prev`` are read under the sequencer's lock, so concurrent
        operator events (several workers, the CLI beside a worker) never sign the same seq.
        With ``only_genesis`` nothing is appended unless the log is empty.
        """

        def sign(conn: Connection, size: int) -> list[Candidate]:
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
            candidate = Candidate(0, envelope, envelope.to_bytes(), key_id, payload_digest(payload))
            parse(candidate)
            return [candidate]

        return self._locked(sign)

    def _locked(self, make: Callable[[Connection, int], list[Candidate]]) -> list[Receipt]:
        """Run one sequencer pass over the candidates ``make`` returns once the lock is held."""
        candidates: list[Candidate] = []
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
        except Refusals as refused:
            keep_evidence(self._engine, candidates, refused)
            raise
        # Handed out only now that the commit has succeeded.
        placed = batch.placed
        return [
            old[placed[position][0]] if receipt is None else receipt
            for position, receipt in enumerate(fresh.result())
        ]

    def _sequence(
        self, conn: Connection, head: Row[Any], candidates: list[Candidate]
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
        refused: dict[int, LedgerError] = {}
        again: dict[int, LedgerError] = {}
        for c in candidates:
            index = batch.size
            try:
                original, signer = admit(
                    conn,
                    c,
                    index=index,
                    registry=registry,
                    head=heads.get(c.key_id),
                    in_batch=in_batch,
                )
            except LedgerError as exc:
                # Skipped, as if it had not been sent: the envelopes after it are judged without it.
                (again if held_in_batch(c, in_batch) else refused)[c.position] = exc
                continue
            if original is not None:
                batch.placed[c.position] = (original, True)
                continue
            assert signer is not None and c.event is not None
            self._append_one(batch, c, signer, registry=registry, domain=domain, now=now)
            heads[c.key_id] = FeedHead(c.key_id, c.event.seq, c.digest, index)
            touched.add(c.key_id)
            in_batch[(c.key_id, c.event.seq)] = (c.digest, index)
            batch.placed[c.position] = (index, False)
        if refused or again:
            raise Refusals(min(refused | again), refused, again=again, checked=True)
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

    def _append_one(
        self,
        batch: _Batch,
        c: Candidate,
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
