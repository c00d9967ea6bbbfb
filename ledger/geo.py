"""Geography the core needs: great-circle distances between facility coordinates.

Facilities carry latitude and longitude (``actor`` events); the directory, the passports and the
scores all measure distances between them with this one function.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Final

from ledger.errors import FormatError

# IUGG mean Earth radius R1 = (2a + b) / 3 of the WGS 84 ellipsoid (Moritz, Geodetic Reference
# System 1980, Bulletin Géodésique 54, 1980): 6371.0088 km.
EARTH_RADIUS_KM: Final = 6371.0088
KM_SHOWN: Final = Decimal("0.1")


class CoordinateError(FormatError):
    """A latitude or longitude off the globe; ``field`` names which."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _radians(field: str, value: Decimal, limit: int) -> float:
    if not isinstance(value, Decimal) or not value.is_finite() or abs(value) > limit:
        raise CoordinateError(field, f"must be a number of degrees in [-{limit}, {limit}]")
    return math.radians(float(value))


def great_circle_km(lat1: Decimal, lon1: Decimal, lat2: Decimal, lon2: Decimal) -> Decimal:
    """Haversine distance in km on a sphere of the IUGG mean Earth radius.

    Trigonometry is done in binary floating point (relative error around 1e-15, far below the
    spherical model's own ~0.5%); the result is the Decimal of the float's shortest repr.
    """
    phi1, phi2 = _radians("lat1", lat1, 90), _radians("lat2", lat2, 90)
    lam1, lam2 = _radians("lon1", lon1, 180), _radians("lon2", lon2, 180)
    h = math.sin((phi2 - phi1) / 2) ** 2
    h += math.cos(phi1) * math.cos(phi2) * math.sin((lam2 - lam1) / 2) ** 2
    central = 2 * math.asin(min(1.0, math.sqrt(h)))
    return Decimal(repr(EARTH_RADIUS_KM * central))


def format_km(value: Decimal) -> str:
    """A distance as shown: km to one decimal place."""
    return format(value.quantize(KM_SHOWN), "f")
