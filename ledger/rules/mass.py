"""Mass and feedstock arithmetic: what a lot or an untraced addition weighs, and the
mass-weighted feedstock fractions of what went into a process.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from ledger.catalogue import catalogue
from ledger.rules.records import ZERO, Feedstock
from ledger.supply import LotOutput, MaterialEvent, Untraced

FRACTION_PLACES: Final = Decimal("0.000001")  # derived feedstock fractions keep 6 places


def lot_amount(event: MaterialEvent) -> Decimal:
    return event.quantity.quantity.value


def output_mass(output: LotOutput) -> Decimal:
    per = None if output.mass_per_unit is None else output.mass_per_unit.quantity
    return output.quantity.quantity.as_mass(per)


def _untraced_mass(extra: Untraced) -> Decimal:
    per = None if extra.mass_per_unit is None else extra.mass_per_unit.quantity
    return extra.quantity.quantity.as_mass(per)


def _catalogue_feedstock(material: str) -> Feedstock:
    row = catalogue().material(material)
    assert row is not None  # checked by _material before
    return Feedstock(
        recycled=Decimal(1) if row.feedstock == "recycled" else ZERO,
        reused=Decimal(1) if row.feedstock == "reused" else ZERO,
        renewable=Decimal(1) if row.renewable else ZERO,
    )


def _mix(parts: list[tuple[Decimal, Feedstock]]) -> Feedstock:
    """The mass-weighted feedstock of what went into a process."""
    total = sum((m for m, _ in parts), ZERO)
    if total <= 0:
        return Feedstock()

    def share(pick: str) -> Decimal:
        weighted = sum((m * getattr(fs, pick) for m, fs in parts), ZERO) / total
        return weighted.quantize(FRACTION_PLACES, rounding=ROUND_HALF_EVEN).normalize()

    return Feedstock(share("recycled"), share("reused"), share("renewable"))
