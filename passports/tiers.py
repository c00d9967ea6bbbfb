"""The access tiers of a passport document: what only some viewers may read.

Values a competitor or a counterparty could misuse (lot identifiers, absolute masses,
delivery-note numbers) sit under a ``RESTRICTED`` key wherever they appear in the document
``passports.build`` assembles; ``redact`` removes every one of them, at any depth, for the public
view (DESIGN.md, Identifiers and access). Who may read which tier is the API's business
(``api/auth.py``), not this module's.
"""

from __future__ import annotations

from typing import Any, Final

RESTRICTED: Final = "restricted"


def redact(value: Any) -> Any:
    """``value`` without any ``RESTRICTED`` member of any mapping in it."""
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if k != RESTRICTED}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value
