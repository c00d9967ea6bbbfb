"""The scoring package's one error: input a score cannot be computed from.

``ScoringInputError`` is a ``ledger.errors.FormatError``, so the API answers it with the same
422 problem as any other malformed input; its message (and ``field``) names the offending field
the way a request body spells it, e.g. ``materials[1].fr``.
"""

from __future__ import annotations

from ledger.errors import FormatError


class ScoringInputError(FormatError):
    """Impossible input to a score (a fraction over 1, a mass of 0, an unknown mode …)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
