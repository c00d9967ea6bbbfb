"""Entry lines checked in batches, in worker processes: what of step 5 and 7 needs no order.

Each body line after the header is parsed (``ledger.bundle``), its envelope parsed and checked
for canonical bytes, its leaf hash computed and its signature verified — all on the line alone
— by ``check_lines``, in a pool of worker processes (``--jobs``), or in the calling process for
``--jobs 1``. What needs the entries in order (the chain, the Merkle root, key validity by
index, feeds, the domain replay) stays with the caller (``verifier.steps``).

A signature is checked against the key its envelope names. A key ID is the SHA-256 of its key,
so any key that hashes to the ID is *the* key; which keys are valid at an index is for the
replay. The keys known are the log key and those introduced by key events whose own signature
verified, line by line in order, under a key known before them: a payload that merely looks
like a key event, signed by nobody the log knows, adds nothing, so a bundle forged without the
log's keys cannot grow what is held. A worker knows the keys the caller has sent it (each key
once, with the next batch it gets) and those of the batches it checked itself; the caller
verifies, as it takes each batch in line order, the signatures whose key the worker did not
know, learning the keys they introduce, so that the outcome does not depend on the number of
workers. Memory stays bounded: batches hold at most ``BATCH_LINES`` lines and ``BATCH_BYTES``
bytes, at most two batches per worker are in flight, and the keys are those of the ledger.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import ClassVar, Final

from ledger.bundle import parse_record
from ledger.bundle_records import EntryRecord, InclusionRecord
from ledger.envelope import Envelope, verify_envelope
from ledger.errors import FormatError, LedgerError, LimitError
from ledger.hashing import leaf_hash
from ledger.keys import PUBLIC_KEY_SIZE, PublicKey
from ledger.receipt import Violation

BATCH_LINES: Final = 1024  # lines handed to a worker at a time
FIRST_BATCH_LINES: Final = 128  # the first batch, checked here: its keys then reach every worker
BATCH_BYTES: Final = 8 * 1024 * 1024  # … or fewer, once they hold this many bytes
IN_FLIGHT_PER_JOB: Final = 2

# One entry line, checked: (published index, entry bytes when the envelope did not parse,
# the envelope or why it did not parse, its bytes canonical, leaf hash, published chain hash,
# published verdict, signature: True verified, False refused by the key it names, None not
# checked — no such key known yet, or not a one-signature envelope). A line that does not parse
# is its error message; a header record among the entries is its line number; an inclusion
# proof (partial bundles) is itself.
EntryResult = tuple[int, bytes, Envelope | str, bool, bytes, bytes, Violation | None, bool | None]
LineResult = EntryResult | InclusionRecord | str | int
# A batch checked: its lines' results; the keys its verified key events introduced, each with
# the position of its line; the positions of the entries whose key the checker did not know.
Batch = tuple[list[LineResult], list[tuple[int, bytes]], list[int]]


def _introduced_key(envelope: Envelope) -> bytes | None:
    """The raw key a key event (add, rotate) introduces, if this payload is one."""
    if b'"public_key"' not in envelope.payload:
        return None
    try:
        event = json.loads(envelope.payload)
        text = event.get("public_key") if isinstance(event, dict) else None
        if event.get("type") != "key" or not isinstance(text, str):
            return None
        raw = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error, AttributeError, RecursionError):
        return None  # not a key event: the replay will say what it is
    return raw if len(raw) == PUBLIC_KEY_SIZE else None


class KeyCache:
    """The keys learnt so far, by key ID; each raw key is parsed once, however often sent.

    Only the log key and keys introduced by key events whose signature verified are learnt
    (``check_lines``, ``LineChecker``), so a line that merely looks like a key event adds
    nothing. Which keys are valid where is the replay's: a key event the registry refuses (a
    key add signed by an actor, not the operator) may still teach the cache its key. So that
    such lines cannot grow the cache with the file, it holds at most ``MAX_KEYS``; a line
    whose key is not held is left to the replay, which verifies it with the registry's key, so
    the findings do not depend on the cache.
    """

    MAX_KEYS: ClassVar[int] = 100_000  # about 60 MB a process; a ledger's terminals fit

    def __init__(self) -> None:
        self.by_id: dict[str, PublicKey] = {}
        self.raw: list[bytes] = []  # in the order learnt: what the workers are sent, once each
        self._seen: set[bytes] = set()

    def learn(self, raw_keys: Iterable[bytes]) -> None:
        for raw in raw_keys:
            if raw not in self._seen and len(self.raw) < self.MAX_KEYS:
                self._seen.add(raw)
                key = PublicKey(raw)
                self.by_id[key.key_id] = key
                self.raw.append(raw)


def _parse_line(line: bytes, number: int) -> LineResult:
    try:
        record = parse_record(line, number=number)
    except (FormatError, LimitError) as exc:
        return str(exc)
    if isinstance(record, InclusionRecord):
        return record
    if not isinstance(record, EntryRecord):
        return number
    envelope: Envelope | str
    try:
        envelope, canonical = Envelope.from_entry(record.entry, max_bytes=len(record.entry))
    except LedgerError as exc:
        envelope, canonical = str(exc), True  # step 5 reports the envelope, not its form
    kept = record.entry if isinstance(envelope, str) else b""
    published = None if record.applied else record.violation
    leaf = leaf_hash(record.entry)
    return (record.index, kept, envelope, canonical, leaf, record.chain_hash, published, None)


def check_signature(envelope: Envelope | str, cache: KeyCache) -> bool | None:
    """Whether the envelope's one signature verifies under the key it names; None when that key
    is not known (yet), or there is no one signature to check."""
    if isinstance(envelope, str) or len(envelope.signatures) != 1:
        return None
    key = cache.by_id.get(envelope.signatures[0].keyid)
    if key is None:
        return None
    try:
        verify_envelope(envelope, key)
    except LedgerError:
        return False
    return True


def signature_verifies(envelope: Envelope | str, cache: KeyCache) -> bool:
    """The envelope's one signature verifies under the key it names, if that key is known."""
    return check_signature(envelope, cache) is True


def _checked(
    results: list[LineResult], position: int, cache: KeyCache, signature: bool
) -> bytes | None:
    """Record entry ``position``'s signature check; if it verified, learn and return the key
    it introduces, if any."""
    result = results[position]
    assert isinstance(result, tuple)
    results[position] = (*result[:7], signature)
    envelope = result[2]
    if not signature or not isinstance(envelope, Envelope):
        return None
    raw = _introduced_key(envelope)
    if raw is not None:
        cache.learn((raw,))
    return raw


def check_lines(lines: list[bytes], first_number: int, sent: list[bytes], cache: KeyCache) -> Batch:
    """Check body lines ``first_number``, ``first_number + 1`` … on their own (see above).

    ``cache`` learns the ``sent`` keys first, then, in line order, the key of each key event
    whose signature verifies under a key it holds by then.
    """
    cache.learn(sent)
    results = [_parse_line(line, first_number + i) for i, line in enumerate(lines)]
    introduced: list[tuple[int, bytes]] = []
    unknown: list[int] = []
    for i, result in enumerate(results):
        if not isinstance(result, tuple):
            continue
        envelope = result[2]
        if isinstance(envelope, str) or len(envelope.signatures) != 1:
            continue  # no signature to verify: step 5 or the replay reports it
        signature = check_signature(envelope, cache)
        if signature is None:
            unknown.append(i)
        elif (raw := _checked(results, i, cache, signature)) is not None:
            introduced.append((i, raw))
    return results, introduced, unknown


_WORKER_KEYS = KeyCache()  # in a worker process: every key it has been sent or learnt


def _check_in_worker(lines: list[bytes], first_number: int, sent: list[bytes]) -> Batch:
    return check_lines(lines, first_number, sent, _WORKER_KEYS)


class LineChecker:
    """Hands batches of lines to ``jobs`` worker processes (none for 1), results in order.

    ``consume`` gets each batch's results in line order, in the calling process; ``known``
    holds every key learnt so far: the log key, and the keys of the key events of the batches
    taken whose signature verified. Each worker is a pool of one process, so that it is sent
    each key once: the batches go to the workers in turn.
    """

    def __init__(
        self, jobs: int, log_key: bytes, consume: Callable[[list[LineResult]], None]
    ) -> None:
        self.jobs = jobs
        self.consume = consume
        self.known = KeyCache()
        self.known.learn([log_key])
        self.pools: list[ProcessPoolExecutor] = []
        self.sent: list[int] = []  # per worker: how many of ``known.raw`` it has been sent
        self.in_flight: deque[Future[Batch]] = deque()
        self.submitted = 0  # batches handed to workers
        self.taken = 0  # batches whose results were consumed

    def submit(self, lines: list[bytes], first_number: int) -> None:
        """Check a batch; the first in this process (it often registers the log's keys)."""
        if self.jobs == 1 or not self.taken:
            results, _, _ = check_lines(lines, first_number, [], self.known)
            self.taken += 1
            self.consume(results)
            return
        if not self.pools:
            self.pools = [ProcessPoolExecutor(max_workers=1) for _ in range(self.jobs)]
            self.sent = [0] * self.jobs
        while len(self.in_flight) >= self.jobs * IN_FLIGHT_PER_JOB:
            self._take(self.in_flight.popleft().result())
        worker = self.submitted % self.jobs
        self.submitted += 1
        sent = self.known.raw[self.sent[worker] :]
        self.sent[worker] = len(self.known.raw)
        pool = self.pools[worker]
        self.in_flight.append(pool.submit(_check_in_worker, lines, first_number, sent))

    def drain(self) -> None:
        while self.in_flight:
            self._take(self.in_flight.popleft().result())

    def close(self) -> None:
        for future in self.in_flight:
            future.cancel()
        self.in_flight.clear()
        for pool in self.pools:
            pool.shutdown(cancel_futures=True)
        self.pools = []

    def _take(self, batch: Batch) -> None:
        """A worker's batch: its keys learnt, and the signatures it could not check checked,
        in line order, as ``check_lines`` here would have (same keys, same outcome)."""
        results, introduced, unknown = batch
        self.taken += 1
        at = 0
        for position in unknown:
            while at < len(introduced) and introduced[at][0] < position:
                self.known.learn((introduced[at][1],))
                at += 1
            result = results[position]
            if isinstance(result, tuple):
                signature = check_signature(result[2], self.known)
                if signature is not None:
                    _checked(results, position, self.known, signature)
        self.known.learn(raw for _, raw in introduced[at:])
        self.consume(results)
