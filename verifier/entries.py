"""Entry lines checked in batches, in worker processes: what of step 5 and 7 needs no order.

Each body line after the header is parsed (``ledger.bundle``), its envelope parsed and checked
for canonical bytes, its leaf hash computed and its signature verified — all on the line alone
— by ``check_lines``, in a pool of worker processes (``--jobs``), or in the calling process for
``--jobs 1``. What needs the entries in order (the chain, the Merkle root, key validity by
index, feeds, the domain replay) stays with the caller (``verifier.steps``).

A signature is checked against the key its envelope names. A key ID is the SHA-256 of its key,
so any key that hashes to the ID is *the* key; which keys are valid at an index is for the
replay. A batch knows the log key, the keys its caller has seen in earlier batches, and the
keys that key events of the batch itself introduce; the caller verifies, before the replay, the
signatures a worker could not (a key it had not been sent yet), so the outcome does not depend
on the number of workers. Memory stays bounded: batches hold at most ``BATCH_LINES`` lines and
``BATCH_BYTES`` bytes, and at most two batches per worker are in flight.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Final

from ledger.bundle import EntryRecord, InclusionRecord, parse_record
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
# published verdict, signature verified). A line that does not parse is its error message; a
# header record among the entries is its line number; an inclusion proof (partial bundles) is
# itself.
EntryResult = tuple[int, bytes, Envelope | str, bool, bytes, bytes, Violation | None, bool]
LineResult = EntryResult | InclusionRecord | str | int
Batch = tuple[list[LineResult], tuple[bytes, ...]]  # the lines checked; raw keys introduced


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
    """The keys learnt so far, by key ID; each raw key is parsed once, however often sent."""

    def __init__(self) -> None:
        self.by_id: dict[str, PublicKey] = {}
        self.raw: tuple[bytes, ...] = ()  # in the order learnt: what a batch is sent
        self._seen: set[bytes] = set()

    def learn(self, raw_keys: Iterable[bytes]) -> None:
        new = [raw for raw in raw_keys if raw not in self._seen]
        for raw in new:
            self._seen.add(raw)
            key = PublicKey(raw)
            self.by_id[key.key_id] = key
        if new:
            self.raw = (*self.raw, *new)


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
    return (record.index, kept, envelope, canonical, leaf, record.chain_hash, published, False)


def signature_verifies(envelope: Envelope | str, cache: KeyCache) -> bool:
    """The envelope's one signature verifies under the key it names, if that key is known."""
    if isinstance(envelope, str) or len(envelope.signatures) != 1:
        return False
    key = cache.by_id.get(envelope.signatures[0].keyid)
    if key is None:
        return False
    try:
        verify_envelope(envelope, key)
    except LedgerError:
        return False
    return True


def check_lines(
    lines: list[bytes], first_number: int, known: tuple[bytes, ...], cache: KeyCache
) -> Batch:
    """Check body lines ``first_number``, ``first_number + 1`` … on their own (see above)."""
    cache.learn(known)
    results = [_parse_line(line, first_number + i) for i, line in enumerate(lines)]
    introduced = []
    for result in results:
        if isinstance(result, tuple) and isinstance(result[2], Envelope):
            raw = _introduced_key(result[2])
            if raw is not None:
                introduced.append(raw)
    cache.learn(introduced)
    for i, result in enumerate(results):
        if isinstance(result, tuple) and signature_verifies(result[2], cache):
            results[i] = (*result[:7], True)
    return results, tuple(introduced)


_WORKER_KEYS = KeyCache()  # in a worker process: every key it has learnt


def _check_in_worker(lines: list[bytes], first_number: int, known: tuple[bytes, ...]) -> Batch:
    return check_lines(lines, first_number, known, _WORKER_KEYS)


class LineChecker:
    """Hands batches of lines to ``jobs`` worker processes (none for 1), results in order.

    ``consume`` gets each batch's results in line order, in the calling process; ``known``
    holds every key seen so far (the log key, and the keys of earlier batches' key events).
    """

    def __init__(
        self, jobs: int, log_key: bytes, consume: Callable[[list[LineResult]], None]
    ) -> None:
        self.jobs = jobs
        self.consume = consume
        self.known = KeyCache()
        self.known.learn([log_key])
        self.pool: ProcessPoolExecutor | None = None
        self.in_flight: deque[Future[Batch]] = deque()
        self.taken = 0  # batches whose results were consumed

    def submit(self, lines: list[bytes], first_number: int) -> None:
        """Check a batch; the first in this process (it often registers the log's keys)."""
        known = self.known.raw
        if self.jobs == 1 or not self.taken:
            self._take(check_lines(lines, first_number, known, self.known))
            return
        if self.pool is None:
            self.pool = ProcessPoolExecutor(max_workers=self.jobs)
        while len(self.in_flight) >= self.jobs * IN_FLIGHT_PER_JOB:
            self._take(self.in_flight.popleft().result())
        self.in_flight.append(self.pool.submit(_check_in_worker, lines, first_number, known))

    def drain(self) -> None:
        while self.in_flight:
            self._take(self.in_flight.popleft().result())

    def close(self) -> None:
        for future in self.in_flight:
            future.cancel()
        self.in_flight.clear()
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None

    def _take(self, batch: Batch) -> None:
        results, introduced = batch
        self.taken += 1
        self.known.learn(introduced)
        self.consume(results)
