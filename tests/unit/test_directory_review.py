"""The directory's pure parts under review: region names compared as people write them, and
distances that do not break at the poles or across the antimeridian."""

from __future__ import annotations

import unicodedata
from decimal import Decimal

import pytest

from ledger.profiles import Place
from scoring.directory import region_key, same_region


@pytest.mark.parametrize(
    ("wanted", "region"),
    [
        ("Lombardia", "lombardia"),
        ("LOMBARDY", "Lombardia"),
        ("it-25", "Lombardy"),
        ("Vallée d'Aoste", "vallee d'aoste"),
        ("Vallée d'Aoste", unicodedata.normalize("NFD", "VALLÉE D'AOSTE")),
        ("  Emilia   Romagna ", "Emilia Romagna"),
        ("Straße", "STRASSE"),  # casefold, not lower
    ],
)
def test_a_region_written_another_way_is_the_same_region(wanted: str, region: str) -> None:
    assert same_region(wanted, region)


@pytest.mark.parametrize(
    ("wanted", "region"),
    [("Lombardia", "Toscana"), ("Lombardia", None), ("   ", None), ("", "")],
)
def test_another_or_a_blank_region_is_not_the_same(wanted: str, region: str | None) -> None:
    assert not same_region(wanted, region)


def test_region_key_keeps_letters_that_are_not_accents() -> None:
    assert region_key("Friuli-Venezia Giulia") == "friuli-venezia giulia"


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        (("90", "0"), ("90", "180"), Decimal(0)),  # one point: the pole
        (("0", "179.9"), ("0", "-179.9"), Decimal("22.2")),  # across the antimeridian
        (("-90", "-180"), ("90", "180"), Decimal("20015.1")),  # pole to pole
    ],
)
def test_distances_at_the_poles_and_across_the_antimeridian(
    a: tuple[str, str], b: tuple[str, str], km: Decimal
) -> None:
    here = Place(Decimal(a[0]), Decimal(a[1]))
    there = Place(Decimal(b[0]), Decimal(b[1]))
    assert here.km_to(there).quantize(Decimal("0.1")) == km
