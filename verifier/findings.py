"""Naming what the replay refused: each admission failure becomes a step and a rule."""

from __future__ import annotations

from ledger.envelope import Envelope
from ledger.errors import (
    FeedError,
    KeyOwnerError,
    LedgerError,
    RevokedKeyError,
    SignatureError,
    UnknownKeyError,
)
from ledger.receipt import Violation
from ledger.registry import RegistryView


class UnusableInputError(LedgerError):
    """Input the verifier cannot begin on, or an entry it is too old to read: exit status 2."""


def classify_refusal(
    cause: LedgerError, registry: RegistryView, index: int, envelope: Envelope
) -> tuple[int, str, str]:
    """(step, rule, expected) for entry ``index``, which the replay refused to admit."""
    if isinstance(cause, SignatureError):
        return _signature_refusal(cause, registry, index, envelope)
    if isinstance(cause, FeedError):
        # The messages of ledger.feed.check_continuation name the case first.
        text = str(cause)
        for prefix, rule, expected in _FEED_CASES:
            if text.startswith(prefix):
                return 8, rule, expected
        return 8, "feed.repeated", "each (key, seq) logged once"
    return 5, "entry.payload", "a well-formed event payload"


_FEED_CASES = (
    ("feed gap", "feed.gap", "the next seq of the key's feed"),
    ("feed fork", "feed.fork", "prev = digest of the key's previous payload"),
)


def _signature_refusal(
    cause: SignatureError, registry: RegistryView, index: int, envelope: Envelope
) -> tuple[int, str, str]:
    if isinstance(cause, UnknownKeyError):
        return 7, "key.unknown", "a key registered by an earlier key event"
    if isinstance(cause, RevokedKeyError):
        key = registry.key(envelope.signatures[0].keyid) if envelope.signatures else None
        if key is not None and index < key.valid_from_index:
            return 7, "key.not_yet_valid", f"index >= {key.valid_from_index} (key registered)"
        return 7, "key.revoked", "a key not yet revoked or rotated at this index"
    if isinstance(cause, KeyOwnerError):  # ledger.registry.check_attribution
        return 7, "signature.attribution", "the event's actor owns the signing key"
    return 7, "signature.invalid", "an Ed25519 signature by the named key"


def verdict_text(verdict: Violation | None) -> str:
    return "applied" if verdict is None else f"not applied: {verdict.rule}: {verdict.detail}"
