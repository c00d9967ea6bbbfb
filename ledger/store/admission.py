"""Admission on the append path: the checks that refuse an envelope before it is logged.

Before the sequencer's lock, ``Admission.prepare`` makes each envelope of a batch a
``Candidate`` (its entry bytes, key ID and payload digest), verifies its signature where its
key is already registered — on every core for a large batch — and parses its payload. Inside the
lock, ``continuation`` says whether an event continues its key's feed or repeats a logged one
(a resubmission), and refuses a gap, a fork or an equivocation.

The sequencer (``ledger.store.sequencer``) owns the rest: the batch's size, keys registered by
the batch itself (verified with ``verify_and_parse`` inside the lock), a key's validity at the
entry's index, the domain rules, and the writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, select

from ledger.envelope import EVENT_PAYLOAD_TYPE, Envelope, verify_envelope
from ledger.errors import FeedError, FormatError, LedgerError, RefusedEnvelope
from ledger.events import Event, parse_event
from ledger.feed import Continuation, FeedHead, check_continuation, payload_digest
from ledger.keys import PublicKey
from ledger.store.schema import keys, log_entries

PARALLEL_VERIFY_MIN = 64  # below this, thread hand-off costs more than it saves


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
        """The batch's candidates, those signed by registered keys verified and parsed."""
        candidates = []
        for position, envelope in enumerate(envelopes):
            if len(envelope.signatures) != 1 or not envelope.signatures[0].keyid:
                raise RefusedEnvelope(
                    position,
                    FormatError("an event envelope carries exactly one signature, with its keyid"),
                )
            candidates.append(
                Candidate(
                    position=position,
                    envelope=envelope,
                    entry=envelope.to_bytes(),
                    key_id=envelope.signatures[0].keyid,
                    digest=payload_digest(envelope.payload),
                )
            )
        self._verify_known(candidates)
        return candidates

    def _verify_known(self, candidates: list[Candidate]) -> None:
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
            if c.position in failures:
                raise RefusedEnvelope(c.position, failures[c.position])
            parse(c)

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


def verify_and_parse(c: Candidate, public_key: PublicKey) -> None:
    """Verify the signature of a candidate whose key the batch itself registered, then parse."""
    try:
        verify_envelope(c.envelope, public_key)  # signature first, then parse
    except LedgerError as exc:
        raise RefusedEnvelope(c.position, exc) from exc
    parse(c)


def parse(c: Candidate) -> None:
    """Parse a payload whose signature has verified."""
    try:
        if c.envelope.payload_type != EVENT_PAYLOAD_TYPE:
            raise FormatError(
                f"payloadType must be {EVENT_PAYLOAD_TYPE}, not {c.envelope.payload_type!r}"
            )
        c.event = parse_event(c.envelope.payload)
    except LedgerError as exc:
        raise RefusedEnvelope(c.position, exc) from exc


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
