"""Bundles from envelopes, and back from files: the pure part of the tamper vectors.

``seal`` makes the bundle the log key holder would publish for a list of envelopes (verdicts
replayed), ``partial`` a partial bundle of some of its entries (each with its inclusion proof,
the log key's statement of their verdicts, and for a passport the documents of its versions);
``read_bundle`` reads a bundle file back into its parts, so that tests can edit the checked-in
vectors (``DATA``, written by ``generate.py``). Only the pure core is imported: the verifier's
tests run on an install without the store (``make verifier-install-check``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from ledger.bundle import SCOPE_LEDGER, Manifest, parse_record
from ledger.bundle_records import (
    ROLE_HEAD,
    ROLE_SINCE,
    CheckpointRecord,
    ConsistencyRecord,
    EntryRecord,
    InclusionRecord,
    PassportRecord,
    VerdictsRecord,
)
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.envelope import Envelope
from ledger.events import OPERATOR_ACTOR
from ledger.hashing import CHAIN_GENESIS, chain_hash, leaf_hash
from ledger.keys import PrivateKey
from ledger.merkle import consistency_proof, inclusion_proof, root_hash
from ledger.note import vkey
from ledger.receipt import Violation
from ledger.registry import KeyRecord
from ledger.replay import Replay
from ledger.verdicts import VerdictDigest, VerdictStatement, sign_verdicts

DATA: Final = Path(__file__).resolve().parent / "data"  # the checked-in vectors
ORIGIN = "vectors.spola.local/ledger"
SINCE_SIZE = 6  # the earlier checkpoint of the bundles that carry a consistency proof


def key(name: str) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(f"spola bundle vectors: {name}".encode()).digest())


OPERATOR = key("operator")
LOG_VKEY = vkey(ORIGIN, OPERATOR.public_key.raw)


@dataclass
class Bundle:
    """A bundle's parts, before they become lines: mutations edit these."""

    head: bytes
    entries: list[EntryRecord]
    since: bytes | None = None
    consistency: ConsistencyRecord | None = None
    manifest_tree_size: int | None = None
    scope: str = SCOPE_LEDGER
    subject: str | None = None  # of a partial bundle
    inclusion: list[InclusionRecord] = field(default_factory=list)  # the i-th entry's proof
    passports: list[PassportRecord] = field(default_factory=list)
    verdicts: bytes | None = None  # of a partial bundle: the log key's signed statement

    def to_bytes(self) -> bytes:
        body = [CheckpointRecord(ROLE_HEAD, self.head).to_line()]
        if self.since is not None:
            body.append(CheckpointRecord(ROLE_SINCE, self.since).to_line())
        if self.verdicts is not None:
            body.append(VerdictsRecord(self.verdicts).to_line())
        if self.consistency is not None:
            body.append(self.consistency.to_line())
        body.extend(p.to_line() for p in self.passports)
        for i, entry in enumerate(self.entries):
            body.append(entry.to_line())
            if i < len(self.inclusion):
                body.append(self.inclusion[i].to_line())
        data = b"".join(body)
        size = head_size(self.head)
        manifest = Manifest(
            origin=ORIGIN,
            scope=self.scope,
            tree_size=size if self.manifest_tree_size is None else self.manifest_tree_size,
            entries=len(self.entries),
            checkpoints=1 + (self.since is not None),
            consistency=int(self.consistency is not None),
            body_sha256=hashlib.sha256(data).digest(),
            subject=self.subject,
            inclusion=len(self.inclusion),
            passports=len(self.passports),
        )
        return manifest.to_line() + data


def head_size(note: bytes) -> int:
    """The tree size a signed checkpoint note states (its signature unchecked)."""
    return Checkpoint.from_text(note.decode().split("\n\n")[0] + "\n").size


def checkpoint(leaves: list[bytes], size: int, signer: PrivateKey = OPERATOR) -> bytes:
    return sign_checkpoint(Checkpoint(ORIGIN, size, root_hash(leaves[:size])), signer)


def seal(envelopes: list[Envelope], published: dict[int, Violation | None] | None = None) -> Bundle:
    """The bundle the log key holder would publish for these envelopes, verdicts replayed.

    ``published`` overrides the verdicts the ledger states (a lying ledger).
    """
    entries = [e.to_bytes() for e in envelopes]
    replay = Replay(
        KeyRecord(OPERATOR.public_key.key_id, OPERATOR.public_key.raw, OPERATOR_ACTOR, 0)
    )
    for entry in entries:
        replay.check(entry)
    verdicts = dict(enumerate(replay.verdicts)) | (published or {})
    leaves = [leaf_hash(e) for e in entries]
    records = []
    chain = CHAIN_GENESIS
    for index, (entry, leaf) in enumerate(zip(entries, leaves, strict=True)):
        chain = chain_hash(chain, leaf)
        verdict = verdicts[index]
        records.append(EntryRecord(index, entry, chain, verdict is None, verdict))
    return Bundle(head=checkpoint(leaves, len(entries)), entries=records)


def with_since(bundle: Bundle) -> Bundle:
    leaves = [leaf_hash(e.entry) for e in bundle.entries]
    proof = tuple(consistency_proof(leaves, SINCE_SIZE))
    return replace(
        bundle,
        since=checkpoint(leaves, SINCE_SIZE),
        consistency=ConsistencyRecord(SINCE_SIZE, len(leaves), proof),
    )


def partial(
    whole: Bundle,
    indexes: list[int],
    *,
    scope: str,
    subject: str,
    passports: list[PassportRecord] | None = None,
) -> Bundle:
    """The partial bundle of ``whole``'s entries at ``indexes``, each with its proof."""
    leaves = [leaf_hash(e.entry) for e in whole.entries]
    picked = sorted(indexes)
    proofs = [InclusionRecord(i, len(leaves), tuple(inclusion_proof(leaves, i))) for i in picked]
    entries = [whole.entries[i] for i in picked]
    return Bundle(
        head=whole.head,
        entries=entries,
        scope=scope,
        subject=subject,
        inclusion=proofs,
        passports=passports or [],
        verdicts=sign_bundle_verdicts(whole.head, entries, scope, subject),
    )


def sign_bundle_verdicts(
    head: bytes, entries: list[EntryRecord], scope: str, subject: str | None
) -> bytes:
    """The log key's statement of ``entries``' verdicts and chain hashes, and of the bundle's
    scope and subject, for the checkpoint ``head``."""
    assert subject is not None, "a partial bundle names its subject"
    digest = VerdictDigest()
    for record in entries:
        digest.add(record.index, record.chain_hash, record.applied, record.violation)
    cp = Checkpoint.from_text(head.decode().split("\n\n")[0] + "\n")
    statement = VerdictStatement(cp.origin, cp.size, cp.root_hash, scope, subject, digest.digest())
    return sign_verdicts(statement, OPERATOR)


def read_bundle(path: Path) -> Bundle:
    """A bundle file (as ``Bundle.to_bytes`` writes it) back into its parts."""
    lines = path.read_bytes().splitlines(keepends=True)
    manifest = Manifest.from_line(lines[0])
    bundle = Bundle(head=b"", entries=[], scope=manifest.scope, subject=manifest.subject)
    for number, line in enumerate(lines[1:], start=2):
        record = parse_record(line, number=number)
        if isinstance(record, EntryRecord):
            bundle.entries.append(record)
        elif isinstance(record, InclusionRecord):
            bundle.inclusion.append(record)
        elif isinstance(record, PassportRecord):
            bundle.passports.append(record)
        elif isinstance(record, ConsistencyRecord):
            bundle.consistency = record
        elif isinstance(record, VerdictsRecord):
            bundle.verdicts = record.note
        elif record.role == ROLE_HEAD:
            bundle.head = record.note
        else:
            bundle.since = record.note
    if manifest.tree_size != head_size(bundle.head):
        bundle.manifest_tree_size = manifest.tree_size
    return bundle


def envelopes(bundle: Bundle) -> list[Envelope]:
    return [Envelope.from_bytes(record.entry) for record in bundle.entries]
