"""The JSON examples in docs/formats.md are real: each parses as the event type it documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ledger.events import parse_event

FORMATS = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
EXAMPLE = re.compile(r"^### `(\w+)`[^\n]*\n```json\n(.+?)\n```", re.MULTILINE | re.DOTALL)
SUPPLY = (
    "material",
    "process",
    "handover",
    "receipt",
    "lifecycle",
    "passport",
    "assessment",
    "profile",
)


def _examples() -> dict[str, str]:
    return dict(EXAMPLE.findall(FORMATS.read_text(encoding="utf-8")))


@pytest.mark.parametrize("kind", SUPPLY)
def test_each_supply_event_example_parses_in_canonical_form(kind: str) -> None:
    text = _examples()[kind]
    event = parse_event(text.encode("utf-8"))  # refuses anything not in RFC 8785 form
    assert event.type == kind
