"""Admission on the append path: the checks that refuse an envelope before it is logged.

Before the sequencer's lock, ``Admission.prepare`` makes each envelope of a batch a
``Candidate`` (its entry bytes, key ID and payload digest), verifies its signature where its
key is already registered — on every core for a large batch — and parses its payload. Inside the
lock, ``admit`` checks each envelope in order against the key registry (keys the batch itself
registers are verified there), and ``continuation`` says whether an event continues its key's
feed or repeats a logged one (a resubmission), and refuses a gap, a fork or an equivocation.

A refused batch is refused whole, but every refusal of the pass is found, not the first only
(``Refusals``): a pass checks every envelope once, so whoever splits a refused batch — the
group commit of single submissions — learns each envelope's fate from one pass instead of one
pass per refusal. Before the lock, each refusal (format, signature, payload) is the envelope's
own: a key ID is the hash of its key, so nothing else in the batch changes it. Inside the lock a
refused envelope is skipped as if it had not been sent, so each later envelope is judged after
exactly the envelopes before it that are admissible — as it would be if each had been submitted
alone, in order. One refusal only depends on the batch itself: a second event at a seq an
earlier envelope of the batch holds, which alone would be judged against that one logged.

``keep_evidence`` keeps every equivocation a refused pass found, although the batch writes
nothing else. A group of single submissions (``api.group_commit``) so numbers its evidence
rows in the order its passes find them, not always in arrival order (an equivocation at a seq
the group itself holds is found a pass later); nothing reads that order.

A key's validity (revoked, not yet valid) is checked after its payload is parsed, not before:
a resubmission is recognised by its seq, and answered with its original receipt even when its
key has been revoked since; and a malformed payload is a format error whoever signed it.

The sequencer (``ledger.store.sequencer``) owns the rest: the batch's size, the domain rules,
and the writes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, insert, select

from ledger.envelope import EVENT_PAYLOAD_TYPE, Envelope, verify_envelope
from ledger.errors import (
    EquivocationError,
    FeedError,
    FormatError,
    LedgerError,
    RefusedEnvelope,
    UnknownKeyError,
)
from ledger.events import Event, parse_event
from ledger.feed import Continuation, FeedHead, check_continuation, payload_digest
from ledger.keys import PublicKey
from ledger.registry import KeyRecord, check_attribution, signing_key
from ledger.store.engine import WRITE
from ledger.store.registry import BatchRegistry
from ledger.store.rows import utc_now
from ledger.store.schema import equivocations, keys, log_entries

log = logging.getLogger(__name__)

PARALLEL_VERIFY_MIN = 64  # below this, thread hand-off costs more than it saves
QUOTED_MAX = 64  # characters of a refused value quoted back in an error


class Refusals(RefusedEnvelope):
    """A refused batch: its first refusal (``position`` and ``cause``) and all the others.

    ``own`` maps each refused position to the error that envelope alone gets, submitted after
    the admissible envelopes before it; ``again`` maps the positions refused only because an
    earlier envelope of the batch holds their seq, which alone would be judged against that
    one logged. When ``checked``, every other envelope is admissible after the refused ones
    are taken out (the locked pass ran to the end); otherwise the refusals were found before
    the lock and the other envelopes are not checked yet.
    """

    def __init__(
        self,
        first: int,
        own: dict[int, LedgerError],
        *,
        again: dict[int, LedgerError] | None = None,
        checked: bool,
    ) -> None:
        again = again or {}
        super().__init__(first, own[first] if first in own else again[first])
        self.own = own
        self.again = again
        self.checked = checked


@dataclass
class Candidate:
    position: int
    envelope: Envelope
    entry: bytes  # RFC 8785 bytes of the envelope: the log entry
    key_id: str
    digest: str
    event: Event | None = None  # set once the signature has verified


class Admission:
    """The checks before the lock, on the sequencer's thread pool."""

    def __init__(
        self, engine: Engine, *, operator: PublicKey, pool: ThreadPoolExecutor, cores: int
    ) -> None:
        self._engine = engine
        self._operator = operator  # the log key, known before its genesis entry is logged
        self._pool = pool
        self._cores = cores

    def prepare(self, envelopes: Sequence[Envelope]) -> list[Candidate]:
        """The batch's candidates, those signed by registered keys verified and parsed.

        Raises ``Refusals`` naming first the lowest position of a malformed envelope if there
        is one, else of a bad signature or payload; every envelope is checked either way.
        """
        candidates, malformed = [], {}
        for position, envelope in enumerate(envelopes):
            if len(envelope.signatures) != 1 or not envelope.signatures[0].keyid:
                malformed[position] = FormatError(
                    "an event envelope carries exactly one signature, with its keyid"
                )
                continue
            candidates.append(
                Candidate(
                    position=position,
                    envelope=envelope,
                    entry=envelope.to_bytes(),
                    key_id=envelope.signatures[0].keyid,
                    digest=payload_digest(envelope.payload),
                )
            )
        failed = self._verify_known(candidates)
        if malformed or failed:
            first = min(malformed or failed)
            raise Refusals(first, {**malformed, **failed}, checked=False)
        return candidates

    def _verify_known(self, candidates: list[Candidate]) -> dict[int, LedgerError]:
        """Verify and parse the candidates whose keys are registered; refusals by position."""
        # A key ID is the hash of its public key, so a signature that verifies now verifies
        # forever; only the key's validity at the final index is left for the locked pass.
        wanted = {c.key_id for c in candidates}
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(keys.c.key_id, keys.c.public_key).where(keys.c.key_id.in_(wanted))
            ).all()
        known = {row.key_id: PublicKey(bytes(row.public_key)) for row in rows}
        known.setdefault(self._operator.key_id, self._operator)
        ready = [(c, known[c.key_id]) for c in candidates if c.key_id in known]
        failures = self._verify_signatures(ready)
        for c, _ in ready:
            if c.position not in failures:
                try:
                    _parse_payload(c)
                except LedgerError as exc:
                    failures[c.position] = exc
        return failures

    def _verify_signatures(self, work: list[tuple[Candidate, PublicKey]]) -> dict[int, LedgerError]:
        """Check signatures, on every core for large batches; failures by position.

        PyNaCl (cffi) releases the GIL while libsodium verifies, so threads run in parallel.
        The payloads are parsed afterwards, in this thread: parsing holds the GIL, and would
        stall the verifying threads if it ran beside them.
        """

        def check(chunk: list[tuple[Candidate, PublicKey]]) -> dict[int, LedgerError]:
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


def parse(c: Candidate) -> None:
    """Parse a payload whose signature has verified; its refusal as a ``RefusedEnvelope``."""
    try:
        _parse_payload(c)
    except LedgerError as exc:
        raise RefusedEnvelope(c.position, exc) from exc


def _parse_payload(c: Candidate) -> None:
    if c.envelope.payload_type != EVENT_PAYLOAD_TYPE:
        raise FormatError(
            f"payloadType must be {EVENT_PAYLOAD_TYPE}, not {quoted(c.envelope.payload_type)}"
        )
    c.event = parse_event(c.envelope.payload)


def quoted(value: str) -> str:
    """``value`` quoted back in an error: its first ``QUOTED_MAX`` characters and its length."""
    if len(value) <= QUOTED_MAX:
        return repr(value)
    return f"{value[:QUOTED_MAX]!r}… ({len(value)} characters)"


def admit(
    conn: Connection,
    c: Candidate,
    *,
    index: int,
    registry: BatchRegistry,
    head: FeedHead | None,
    in_batch: dict[tuple[str, int], tuple[str, int]],
) -> tuple[int | None, KeyRecord | None]:
    """Inside the lock: the original index of a resubmission, or the key that signs ``c`` as
    entry ``index``; raises the envelope's refusal (its cause, not a ``RefusedEnvelope``)."""
    known = registry.key(c.key_id)
    if known is None:
        raise UnknownKeyError(f"unknown key {c.key_id}: register it with a key event first")
    if c.event is None:  # a key the batch itself registered: signature first, then parse
        verify_envelope(c.envelope, PublicKey(known.public_key))
        _parse_payload(c)
    assert c.event is not None
    # A resubmission is answered before validity is checked: the key was valid at the entry's
    # own index, even if it has been rotated or revoked since.
    original = continuation(conn, c, head, in_batch)
    if original is not None:
        return original, None
    signer = signing_key(registry, c.key_id, index)
    check_attribution(c.event, signer)
    return None, signer


def held_in_batch(c: Candidate, in_batch: dict[tuple[str, int], tuple[str, int]]) -> bool:
    """Whether an earlier envelope of the batch holds a different event at ``c``'s seq."""
    if c.event is None:
        return False
    held = in_batch.get((c.key_id, c.event.seq))
    return held is not None and held[0] != c.digest


def continuation(
    conn: Connection,
    c: Candidate,
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
            raise FeedError(f"this batch holds two different events at seq {seq} of key {c.key_id}")
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


def keep_evidence(engine: Engine, candidates: list[Candidate], refused: Refusals) -> None:
    """Keep each equivocation ``refused`` names as evidence, in a transaction of its own:
    a refused batch writes nothing else, but an equivocation is proof whatever else it held."""
    by_position = {c.position: c for c in candidates}
    found = [
        (by_position[position], cause)
        for position, cause in sorted(refused.own.items())
        if isinstance(cause, EquivocationError)
    ]
    if not found:
        return
    kept_now = []
    with engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
        for c, cause in found:
            kept = conn.execute(
                select(equivocations.c.envelope).where(
                    equivocations.c.key_id == cause.key_id, equivocations.c.seq == cause.seq
                )
            ).scalars()
            if any(bytes(envelope) == c.entry for envelope in kept):
                continue  # the same evidence, resubmitted: one row of it is enough
            kept_now.append(cause)
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
    for cause in kept_now:
        log.warning("equivocation by key %s at seq %d kept as evidence", cause.key_id, cause.seq)
