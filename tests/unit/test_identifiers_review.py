"""GS1 Digital Link paths under review: an AI given twice, a control character.

``/01/{gtin}/21/A/21/B`` names two serials. It was refused as "out of order", which sends a
reader looking for the order 22 → 10 → 21 that the path already keeps; the refusal now says
which AI is repeated. A path out of order is still refused as out of order.

``urlsplit`` drops tabs and line breaks from a URI, so ``/01/{gtin}/21/A\nB`` was read as the
serial ``AB``: another item. A control character is refused, named by its escape.
"""

from __future__ import annotations

import re

import pytest

from ledger.identifiers import DigitalLink, IdentifierError, control_character

GTIN = "09506000134352"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (f"/01/{GTIN}/21/A/21/B", "AI 21 (serial) is given twice"),
        (f"/01/{GTIN}/21/A/21/A", "AI 21 (serial) is given twice"),
        (f"/01/{GTIN}/10/L1/10/L2", "AI 10 (lot) is given twice"),
        (f"/01/{GTIN}/22/V/22/W/10/L", "AI 22 (cpv) is given twice"),
        (f"/01/{GTIN}/01/{GTIN}", "AI 01 (GTIN) is given twice"),
        (f"/01/{GTIN}/10/L1/21/S/10/L2", "AI 10 (lot) is given twice"),
        (f"https://id.example.com/dpp/01/{GTIN}/21/A/21/B?linkType=all", "AI 21 (serial)"),
    ],
)
def test_a_repeated_ai_is_refused_as_given_twice(path: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match="^" + re.escape(reason)):
        DigitalLink.parse(path)


@pytest.mark.parametrize(
    "path",
    [f"/01/{GTIN}/21/S1/10/L1", f"/01/{GTIN}/10/L1/22/V", f"/01/{GTIN}/21/A/22/V/10/L"],
)
def test_qualifiers_out_of_order_are_still_refused_as_out_of_order(path: str) -> None:
    with pytest.raises(IdentifierError) as refused:
        DigitalLink.parse(path)
    assert "out of order: qualifiers follow 01 as 22, then 10, then 21" in str(refused.value)
    assert "twice" not in str(refused.value)


@pytest.mark.parametrize(
    ("uri", "named"),
    [
        (f"/01/{GTIN}/21/A\nB", "a line feed (%0A)"),
        (f"/01/{GTIN}/21/A\tB", "a tab (%09)"),
        (f"/01/{GTIN}/10/L\r1", "a carriage return (%0D)"),
        (f"https://id.example.com/01/{GTIN}/21/A\x7f", "a DEL character (%7F)"),
        (f"/01/{GTIN}/21/A\x01", "a control character (%01)"),
        (f"/01/{GTIN}/21/A\n", "a line feed (%0A)"),
    ],
)
def test_a_control_character_is_refused_not_dropped(uri: str, named: str) -> None:
    # urlsplit() drops tabs and line breaks: "A\nB" must not be read as the serial "AB".
    with pytest.raises(IdentifierError, match=re.escape(f"holds {named}")):
        DigitalLink.parse(uri)


def test_an_escaped_control_character_is_a_value_outside_cset_82() -> None:
    with pytest.raises(IdentifierError, match="outside GS1 CSET 82"):
        DigitalLink.parse(f"/01/{GTIN}/21/A%0AB")


def test_control_character_names_the_first_one_by_its_escape() -> None:
    assert control_character("urn:spola:actor:a\x1b[31m\n") == "an ESC character (%1B)"
    assert control_character("\x00") == "a NUL character (%00)"
    assert control_character("A%0AB caf\u00e9 \u0085 \u2028") is None  # C1 and U+2028: not C0
