"""Replay: rebuild every projection and every verdict from the log entries alone.

``Replay`` takes entries in log order — the exact envelope bytes — and does what the sequencer
did when it admitted them: verify the signature with the key valid at that index, check the
feed, check attribution, then apply the registry and domain rules. What comes out (keys,
actors, feed heads, lots, balances, items, handovers, custody, provenance, and one verdict per
entry) depends on nothing but the bytes and the log's public key. ``spola rebuild`` compares it
with the stored projections; the offline verifier replays a bundle the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ledger.envelope import EVENT_PAYLOAD_TYPE, Envelope, signature_refused, verify_envelope
from ledger.errors import FormatError, LedgerError, RuleViolation
from ledger.events import parse_event
from ledger.feed import Continuation, FeedHead, check_continuation, payload_digest
from ledger.keys import PublicKey
from ledger.receipt import Violation
from ledger.registry import (
    ActorRecord,
    Effect,
    KeyRecord,
    PutActor,
    PutKey,
    apply_registry_event,
    check_attribution,
    signing_key,
)
from ledger.rules import Projection, apply_domain_event


class ReplayError(LedgerError):
    """An entry that could never have been admitted: the log itself is wrong."""

    def __init__(self, index: int, cause: LedgerError) -> None:
        super().__init__(f"entry {index}: {cause}")
        self.index = index
        self.cause = cause


@dataclass
class Registry:
    """The key and actor registry in memory (a ``RegistryView``)."""

    keys: dict[str, KeyRecord] = field(default_factory=dict)
    actors: dict[str, ActorRecord] = field(default_factory=dict)

    def key(self, key_id: str) -> KeyRecord | None:
        return self.keys.get(key_id)

    def actor(self, actor_id: str) -> ActorRecord | None:
        return self.actors.get(actor_id)

    def apply(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, PutKey):
                self.keys[effect.record.key_id] = effect.record
            elif isinstance(effect, PutActor):
                self.actors[effect.record.id] = effect.record


@dataclass
class Replay:
    """Feed it entries in log order from index 0.

    With ``history`` false (the offline verifier, which compares each verdict as it comes and
    reads no history row), neither ``verdicts`` nor the projection's custody and provenance
    rows are kept: what stays is the state the rules read (registry, feed heads, lots,
    balances, items, handovers, passports), so memory grows with the supply chain's objects,
    not with the number of entries. ``spola rebuild`` keeps it all, to compare with the store.
    """

    log_key: KeyRecord
    registry: Registry = field(default_factory=Registry)
    projection: Projection = field(default_factory=Projection)
    feeds: dict[str, FeedHead] = field(default_factory=dict)
    verdicts: list[Violation | None] = field(default_factory=list)
    history: bool = True
    size: int = field(default=0, init=False)  # entries replayed, refused ones included

    def __post_init__(self) -> None:
        self.registry.keys.setdefault(self.log_key.key_id, self.log_key)
        self.projection.history = self.history

    def _taken(self, verdict: Violation | None) -> None:
        self.size += 1
        if self.history:
            self.verdicts.append(verdict)

    def feed(
        self, entry: bytes, *, envelope: Envelope | None = None, signature: bool | None = None
    ) -> Violation | None:
        """Replay the next entry; its verdict. ReplayError if it breaks an admission check.

        ``envelope`` is ``entry`` already parsed; ``signature`` is what checking its signature
        against the key it names gave, when that was done already (a key ID is the hash of its
        key, so the outcome holds forever): True, only the key's validity at this index is left
        to check; False, the entry is refused as if checked here; None, it is checked here.
        """
        index = self.size
        try:
            if envelope is None:
                envelope = Envelope.from_bytes(entry, max_bytes=len(entry))
            if envelope.payload_type != EVENT_PAYLOAD_TYPE or len(envelope.signatures) != 1:
                raise FormatError("not a single-signature event envelope")
            key_id = envelope.signatures[0].keyid
            signer = signing_key(self.registry, key_id, index)
            if signature is None:
                verify_envelope(envelope, PublicKey(signer.public_key))
            elif not signature:
                raise signature_refused(signer.key_id)
            event = parse_event(envelope.payload)
            digest = payload_digest(envelope.payload)
            kind = check_continuation(
                self.feeds.get(key_id),
                key_id=key_id,
                seq=event.seq,
                prev=event.prev,
                digest=digest,
            )
            if kind is not Continuation.APPEND:
                raise FormatError(f"seq {event.seq} of key {key_id} is logged twice")
            check_attribution(event, signer)
        except LedgerError as exc:
            raise ReplayError(index, exc) from exc
        self.feeds[key_id] = FeedHead(key_id, event.seq, digest, index)
        verdict: Violation | None = None
        try:
            changes = apply_registry_event(
                event, envelope.payload, index=index, signer=signer, view=self.registry
            )
            effects = apply_domain_event(
                event, index=index, view=self.projection, actors=self.registry
            )
        except RuleViolation as broken:
            verdict = Violation(broken.rule, broken.detail)
        else:
            self.registry.apply(changes)
            self.projection.apply(effects)
        self._taken(verdict)
        return verdict

    def check(
        self, entry: bytes, *, envelope: Envelope | None = None, signature: bool | None = None
    ) -> Violation | ReplayError | None:
        """Like ``feed``, but an entry that fails admission is returned, not raised.

        The refused entry still takes its index (so later entries keep theirs), with no verdict;
        it changes no feed, registry or projection, as the ledger would never have admitted it.
        The verifier uses this to report every finding, not only the first.
        """
        try:
            return self.feed(entry, envelope=envelope, signature=signature)
        except ReplayError as refusal:
            self._taken(None)
            return refusal
