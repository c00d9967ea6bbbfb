"""One error tree for the ledger core.

Every failure the core reports is a ``LedgerError``; callers catch the narrow leaf they can act
on. Foreign exceptions (``binascii.Error``, ``nacl.exceptions.BadSignatureError``,
``json.JSONDecodeError`` …) are translated into these at the boundary where they occur, so no
caller ever needs to know which library sits underneath.
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Root of every error raised by the ledger core and its store.

    Errors cross process boundaries pickled (a process pool re-raises its worker's error in
    the parent). Pickle would rebuild one by calling its class with ``args``, the message
    alone, which fails for every leaf whose constructor takes its members; so each is
    rebuilt from its ``args`` and members without calling the constructor.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return _restore, (type(self), self.args), self.__dict__ or None


def _restore(cls: type[LedgerError], args: tuple[Any, ...]) -> LedgerError:
    """The error ``LedgerError.__reduce__`` pickled, its members set by pickle afterwards."""
    return cls.__new__(cls, *args)


class FormatError(LedgerError):
    """Bytes or text that do not follow the documented format (JSON, base64, note, envelope)."""


class SignatureError(LedgerError):
    """A signature that does not verify, or a key that may not sign here."""


class UnknownKeyError(SignatureError):
    """The envelope names a key the ledger has never registered."""


class RevokedKeyError(SignatureError):
    """The envelope is signed by a key that is no longer valid at this log index."""


class KeyOwnerError(SignatureError):
    """The envelope is signed by a key registered to another actor than the event claims."""

    def __init__(self, *, key_id: str, owner: str, claimed: str) -> None:
        super().__init__(f"key {key_id} belongs to {owner}, but the event claims actor {claimed}")
        self.key_id = key_id
        self.owner = owner
        self.claimed = claimed


class FeedError(LedgerError):
    """An event that does not continue its key's feed (gap, wrong ``prev``)."""


class EquivocationError(FeedError):
    """A second, different payload at a (key, seq) the feed has already used."""

    def __init__(self, message: str, *, key_id: str, seq: int, existing_index: int) -> None:
        super().__init__(message)
        self.key_id = key_id
        self.seq = seq
        self.existing_index = existing_index


class ProofError(LedgerError):
    """A Merkle inclusion or consistency proof that does not verify."""


class ProofShapeError(ProofError):
    """A proof whose length or parameters cannot belong to the claimed tree sizes."""


class RootMismatchError(ProofError):
    """A proof that is well-formed but leads to a different root than the one expected."""

    def __init__(self, expected: bytes, computed: bytes) -> None:
        super().__init__(f"root mismatch: expected {expected.hex()}, computed {computed.hex()}")
        self.expected = expected
        self.computed = computed


class CheckpointError(LedgerError):
    """A checkpoint that is malformed, unsigned by a trusted key, or for another origin."""


class RuleViolation(LedgerError):
    """A validly signed event that breaks a domain rule: appended, but not applied."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule = rule
        self.detail = detail


class LimitError(LedgerError):
    """Input larger or deeper than the documented bounds."""


class NotFoundError(LedgerError):
    """A log index, key, actor or proof request that refers to something that does not exist."""


class RefusedEnvelope(LedgerError):
    """One envelope of a batch failed admission; nothing of the batch was appended."""

    def __init__(self, position: int, cause: LedgerError) -> None:
        super().__init__(f"envelopes[{position}]: {cause}")
        self.position = position
        self.cause = cause
