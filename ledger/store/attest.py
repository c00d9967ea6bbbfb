"""Check, at read time, every signature and proof behind a page before calling it verified.

The sequencer verified each envelope when it was admitted; a page that says "verified" must not
lean on that alone (a database can be edited behind the service's back). ``attest`` re-reads
the entries a page cites and checks, against the latest checkpoint the operator signed:
- the checkpoint's signature under the log's public key;
- each entry's leaf hash, recomputed from its bytes, and its inclusion proof up to that root;
- each envelope's signature, by a key that was valid at the entry's index.
Any failure makes the answer "not verified", with the reasons; nothing here raises on bad data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.envelope import Envelope, verify_envelope
from ledger.errors import LedgerError
from ledger.hashing import leaf_hash
from ledger.keys import PublicKey
from ledger.proofs import check_inclusion
from ledger.store import reads
from ledger.store.schema import keys, log_entries

MAX_ENTRIES = 5000  # a page citing more is not checked (and not marked verified)


@dataclass(frozen=True)
class Attestation:
    verified: bool
    checkpoint_size: int
    entries: int
    problems: tuple[str, ...]


def attest(conn: Connection, indexes: Iterable[int], *, log_vkey: str, origin: str) -> Attestation:
    wanted = sorted(set(indexes))
    size, note = reads.latest_checkpoint(conn)
    if len(wanted) > MAX_ENTRIES:
        return Attestation(False, size, len(wanted), (f"over {MAX_ENTRIES} entries cited",))
    try:
        checkpoint = verify_checkpoint(note, log_vkey, origin=origin)
    except LedgerError as exc:
        return Attestation(False, size, len(wanted), (f"checkpoint: {exc}",))
    rows = {
        row.idx: row
        for row in conn.execute(
            select(log_entries.c.idx, log_entries.c.entry, log_entries.c.key_id).where(
                log_entries.c.idx.in_(wanted)
            )
        )
    }
    signers = {row.key_id for row in rows.values()}
    known = {k.key_id: k for k in conn.execute(select(keys).where(keys.c.key_id.in_(signers)))}
    problems = [
        problem
        for index in wanted
        if (problem := _check_entry(conn, index, rows.get(index), known, checkpoint))
    ]
    return Attestation(not problems, checkpoint.size, len(wanted), tuple(problems))


def _check_entry(
    conn: Connection, index: int, row: Any, known: dict[str, Any], checkpoint: Checkpoint
) -> str | None:
    size = checkpoint.size
    if index >= size:
        return f"entry {index}: not yet covered by a signed checkpoint (size {size})"
    if row is None:
        return f"entry {index}: missing"
    raw = row.entry
    entry = raw.encode() if isinstance(raw, str) else bytes(raw)  # a column edited by hand
    try:
        _, proof = reads.inclusion_proof(conn, index, size)
    except LedgerError as exc:  # a node missing or mangled behind the service's back
        return f"entry {index}: no inclusion proof ({exc})"
    error = check_inclusion(leaf_hash(entry), index, size, proof, checkpoint.root_hash)
    if error is not None:
        return f"entry {index}: inclusion proof fails ({error})"
    return _check_signature(index, entry, row.key_id, known.get(row.key_id))


def _check_signature(index: int, entry: bytes, key_id: str, key: Any) -> str | None:
    if key is None:
        return f"entry {index}: signing key {key_id} is not registered"
    revoked = key.revoked_at_index
    if not (key.valid_from_index <= index and (revoked is None or index < revoked)):
        return f"entry {index}: key {key_id} was not valid at this index"
    try:
        verify_envelope(Envelope.from_bytes(entry), PublicKey(bytes(key.public_key)))
    except LedgerError as exc:
        return f"entry {index}: signature fails ({exc})"
    return None
