"""The supplier directory's query parameters: read, checked, and refused naming the field.

A refused parameter is a ``Refusal``: a 400 ``bad-request`` problem whose detail starts with the
parameter's name (a value over ``MAX_FILTER_TEXT`` characters, a parameter given twice, a value
not of its shape or range, a NUL character in a free-text filter), which also carries the
reason and the refused value (``Refused``), so that a page says the same in its reader's
language; the JSON detail stays in English. ``Filters`` holds the search's parameters as given
and checks them into a ``scoring.directory.Search``; ``day_of`` reads the ``on`` of every
directory route and page. Routing, reading and shaping the answers are
``api.routes.directory``'s.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Final

from fastapi import Path, Query, Request

from api.directory_page import Reason, Refused, given_twice
from api.problems import BadRequest
from ledger.catalogue import catalogue
from ledger.profiles import Place
from scoring.directory import Search

MAX_RADIUS_KM: Final = Decimal(2000)
DEFAULT_RADIUS_KM: Final = Decimal(100)
DEFAULT_MAX_KM: Final = Decimal(100)
DEFAULT_LOCAL_RADIUS_KM: Final = Decimal(60)
MAX_MATCHES: Final = 200
MAX_FILTER_TEXT: Final = 100  # characters of any one query parameter
# Plain decimals only: the answer echoes a distance in fixed-point notation, so "1e-999999999"
# (a dozen characters in the URL) would become a gigabyte of zeros.
_KM_TEXT: Final = re.compile(r"[0-9]+(\.[0-9]+)?")
_DAY_TEXT: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Decimal() also reads "4_5", "4.5e1", "NaN" and non-ASCII digits: degrees are plain decimals.
_DEGREES: Final = re.compile(r"[+-]?[0-9]{1,3}(\.[0-9]{1,15})?")
_CATALOGUE_ROUTE: Final = {
    "process": "/v1/catalogue/processes",
    "material": "/v1/catalogue/materials",
}
Text = Annotated[str | None, Query(max_length=MAX_FILTER_TEXT)]
MAX_ACTOR_ID: Final = 80  # characters of an actor id in a path
ActorPath = Annotated[str, Path(max_length=MAX_ACTOR_ID)]


class Refusal(BadRequest):
    """A refused query parameter: ``detail`` the API's English problem detail, ``refused`` the
    same refusal for a page to word in its own language."""

    def __init__(self, refused: Refused, problem: str) -> None:
        super().__init__(f"{refused.name}: {problem}")
        self.refused = refused


def refuse(
    name: str, reason: Reason, problem: str, *, value: str | None = None, limit: Decimal | int = 0
) -> Refusal:
    """The refusal of parameter ``name``: ``problem`` in the API's English, ``reason``,
    ``value`` and ``limit`` for a page to say it in its own language."""
    return Refusal(Refused(name, reason, value, str(limit) if limit else None), problem)


def overlong(name: str) -> Refusal:
    """The refusal of parameter ``name`` over ``MAX_FILTER_TEXT`` characters."""
    return refuse(name, "too_long", f"at most {MAX_FILTER_TEXT} characters", limit=MAX_FILTER_TEXT)


def _text(name: str, value: str | None) -> str | None:
    """A free-text filter (``certificate``, ``region``): None when blank, else stripped. A NUL
    character is refused: no scheme or region holds one, and PostgreSQL text cannot (the other
    filters refuse it as not of their shape)."""
    if value is None or not value.strip():
        return None
    if "\x00" in value:
        problem = "holds a NUL character (%00), which no filter may"
        raise refuse(name, "nul", problem, value=value)
    return value.strip()


def once_each(request: Request) -> None:
    """Refuse a query parameter given more than once: which one would count is a guess."""
    if (name := given_twice(request)) is not None:
        raise refuse(name, "twice", "given more than once; give it once")


def day_of(value: str | None) -> date:
    """The ``on`` parameter: a date YYYY-MM-DD, today (UTC) when absent."""
    if value is None:
        return datetime.now(UTC).date()
    try:
        # fromisoformat() also takes week dates and the basic format: the shape is checked first.
        day = date.fromisoformat(value) if _DAY_TEXT.fullmatch(value) else None
    except ValueError:
        day = None
    if day is None:
        raise refuse("on", "not_a_date", f"{value!r} is not a date YYYY-MM-DD", value=value)
    if day.year < 2:
        problem = f"{value} is too early: the track record is the year before it"
        raise refuse("on", "too_early", problem, value=value)
    return day


def _near(value: str | None) -> Place | None:
    if value is None or not value.strip():
        return None
    lat, _, lon = value.partition(",")
    if not (_DEGREES.fullmatch(lat.strip()) and _DEGREES.fullmatch(lon.strip())):
        raise refuse(
            "near", "not_a_place", "give it as lat,lon in decimal degrees, e.g. 45.4642,9.19"
        )
    point = Decimal(lat.strip()), Decimal(lon.strip())
    if abs(point[0]) > 90 or abs(point[1]) > 180:
        problem = "latitude must lie in [-90, 90] and longitude in [-180, 180]"
        raise refuse("near", "off_the_globe", problem)
    return Place(point[0], point[1])


def km_parameter(name: str, value: str | None, default: Decimal) -> Decimal:
    """A distance parameter (``radius_km``, ``max_km``): a plain decimal in (0,
    ``MAX_RADIUS_KM``], ``default`` when absent or blank."""
    if value is None or not value.strip():
        return default
    if not _KM_TEXT.fullmatch(value.strip()):
        problem = f"{value!r} is not a number of km (decimal digits, e.g. 60 or 12.5)"
        raise refuse(name, "not_km", problem, value=value)
    number = Decimal(value.strip())
    if not 0 < number <= MAX_RADIUS_KM:
        problem = f"must be more than 0 and at most {MAX_RADIUS_KM} km"
        raise refuse(name, "km_out_of_range", problem, limit=MAX_RADIUS_KM)
    return number


def _catalogued(name: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    known = catalogue().process if name == "process" else catalogue().material
    if known(value) is None:
        route = _CATALOGUE_ROUTE[name]
        problem = f"{value!r} is not a {name} id of the catalogue (GET {route})"
        raise refuse(name, "not_catalogued", problem, value=value)
    return value


@dataclass(frozen=True)
class Filters:
    """The search's query parameters as given: ``search()`` checks them, 400 naming the field."""

    process: str | None = None
    material: str | None = None
    certificate: str | None = None
    near: str | None = None
    radius_km: str | None = None
    region: str | None = None
    on: str | None = None

    def search(self) -> Search:
        for name, value in asdict(self).items():
            if value is not None and len(value) > MAX_FILTER_TEXT:
                raise overlong(name)
        return Search(
            on=day_of(self.on),
            process=_catalogued("process", self.process),
            material=_catalogued("material", self.material),
            certificate=_text("certificate", self.certificate),
            near=_near(self.near),
            radius_km=km_parameter("radius_km", self.radius_km, DEFAULT_RADIUS_KM),
            region=_text("region", self.region),
        )
