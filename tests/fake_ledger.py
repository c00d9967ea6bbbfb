"""Ledgers for the terminal's tests, behind ``signer.transport.Transport``.

- ``StoreTransport``: a truthful ledger: a real ``LedgerStore`` (SQLite or PostgreSQL), its
  receipts passed through JSON as over the wire, its refusals sorted as the API sorts them.
- ``FaultyTransport``: the network between: timeouts and 5xx before the ledger sees a batch, and
  answers lost after the ledger committed it.
- ``BadProofLedger``, ``ForkingLedger``: lying ledgers, signing with the real log key.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field

from api.problems import problem_kind, problem_members
from ledger import merkle
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.envelope import Envelope
from ledger.errors import LedgerError, RefusedEnvelope
from ledger.keys import PrivateKey
from ledger.receipt import Receipt
from ledger.store.ledger import LedgerStore
from signer.errors import RefusedBatchError, TransportError
from signer.transport import KEPT_MEMBERS, Transport


def _status(error: LedgerError) -> tuple[int, str]:
    """As the API answers it (api/problems.py), so the terminal meets the kinds it would."""
    sorted_as = problem_kind(error)
    return (500, "internal") if sorted_as is None else sorted_as[:2]


@dataclass
class StoreTransport:
    store: LedgerStore
    batches: int = 0

    def submit(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        try:
            receipts = self.store.append(list(envelopes))
        except RefusedEnvelope as exc:
            status, kind = _status(exc.cause)
            sent = problem_members(exc.cause)
            kept = {name: str(sent[name]) for name in KEPT_MEMBERS if name in sent}
            raise RefusedBatchError(str(exc), status=status, kind=kind, members=kept) from exc
        self.batches += 1
        return [Receipt.from_json(r.to_json()) for r in receipts]

    def log_key(self) -> str:
        return self.store.log_vkey

    def checkpoint(self) -> bytes:
        return self.store.latest_checkpoint()

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return self.store.consistency_proof(first, second)


@dataclass
class FaultyTransport:
    """Each ``submit`` takes the next fault from ``faults`` (none once they run out):
    ``timeout`` and ``5xx`` before the ledger sees the batch, ``lost`` after it committed."""

    inner: Transport  # the store's, or a real ledger's over HTTP
    faults: list[str] = field(default_factory=list)

    def submit(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        fault = self.faults.pop(0) if self.faults else None
        if fault == "timeout":
            raise TransportError("the ledger did not answer in time")
        if fault == "5xx":
            raise TransportError("the ledger answered 503")
        receipts = self.inner.submit(envelopes)
        if fault == "lost":
            raise TransportError("connection reset after the request was sent")
        return receipts

    def log_key(self) -> str:
        return self.inner.log_key()

    def checkpoint(self) -> bytes:
        return self.inner.checkpoint()

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return self.inner.consistency_proof(first, second)


@dataclass
class BadProofLedger(StoreTransport):
    """Appends truthfully, but every receipt's inclusion proof has one bit flipped."""

    def submit(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        receipts = super().submit(envelopes)
        out = []
        for r in receipts:
            proof = list(r.inclusion_proof)
            if proof:
                proof[0] = bytes([proof[0][0] ^ 1]) + proof[0][1:]
            out.append(Receipt.from_json({**r.to_json(), "inclusion_proof": _b64(proof)}))
        return out


@dataclass
class ForkingLedger(StoreTransport):
    """Honest until ``drop`` is set; then it serves a rewritten log without entry ``drop``
    (an acknowledged event removed), with receipts, proofs and checkpoints all validly signed
    by the log key for that rewritten tree."""

    operator: PrivateKey | None = None
    drop: int | None = None

    def _leaves(self) -> list[bytes]:
        leaves = [e.leaf_hash for e in self.store.entries(0, self.store.tree_size())]
        if self.drop is not None:
            del leaves[self.drop]
        return leaves

    def _index(self, index: int) -> int:
        return index - 1 if self.drop is not None and index > self.drop else index

    def _forged_checkpoint(self, leaves: list[bytes]) -> bytes:
        assert self.operator is not None
        root = merkle.root_hash(leaves)
        checkpoint = Checkpoint(origin=self.store.origin, size=len(leaves), root_hash=root)
        return sign_checkpoint(checkpoint, self.operator)

    def checkpoint(self) -> bytes:
        if self.drop is None:
            return super().checkpoint()
        return self._forged_checkpoint(self._leaves())

    def submit(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        receipts = super().submit(envelopes)
        if self.drop is None:
            return receipts
        leaves = self._leaves()
        note = self._forged_checkpoint(leaves)
        forged = []
        for r in receipts:
            index = self._index(r.index)
            forged.append(
                Receipt(
                    index=index,
                    leaf_hash=r.leaf_hash,
                    checkpoint=note,
                    inclusion_proof=tuple(merkle.inclusion_proof(leaves, index)),
                    applied=r.applied,
                    violation=r.violation,
                    duplicate=r.duplicate,
                )
            )
        return forged

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        if self.drop is None:
            return super().consistency_proof(first, second)
        return merkle.consistency_proof(self._leaves()[:second], first)


def _b64(hashes: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]
