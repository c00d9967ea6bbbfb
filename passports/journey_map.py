"""The journey map on the passport page: places and legs projected into a small inline SVG.

``journey_map`` fits every place of the journey with coordinates into a fixed-width box
(equirectangular, corrected for latitude), merges places a few pixels apart into one dot, puts
town labels where they do not collide, and adds a scale bar; the template draws the result.
However long the chain, the map stays a few kilobytes: dots, legs and labels are capped.

A town is drawn as a first-strong isolate (FSI ... PDI, UAX #9), in its label and in the map's
title: SVG ``<text>`` and ``<title>`` take neither ``dir`` nor ``<bdi>``, so the marks give each
name its own direction from its first letter, as ``dir="auto"`` does in the page's HTML. An
Arabic town cut with an ellipsis, or one that starts with a number, then reads right to left,
and a list of right-to-left towns keeps its order. The ``direction`` property would do it for a
label only by flipping its ``text-anchor`` too, moving it to the other side of its dot; the
marks leave the label's anchor, its side and its measured width as they are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

MAP_WIDTH: Final = 340.0
_MAP_MIN_HEIGHT: Final = 150.0
_MAP_MAX_HEIGHT: Final = 260.0
_PAD_X: Final = 28.0
_PAD_Y: Final = 26.0
_CHAR_WIDTH: Final = 6.4  # average width of a label character at the map's font size
_LABEL_HEIGHT: Final = 14.0
_MERGE_PX: Final = 7.0
_DOT_GAP: Final = 7.0  # a dot: its radius and its white ring
_KM_PER_DEGREE: Final = 111.2
_NICE_KM: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
_FSI: Final = "\u2068"  # FIRST STRONG ISOLATE
_PDI: Final = "\u2069"  # POP DIRECTIONAL ISOLATE
# A long chain must not grow the map without bound: dots and legs beyond these are not drawn
# (legs drawn twice are drawn once), towns beyond MAX_LABELS are counted in the title, and a
# label longer than MAX_LABEL_CHARS is cut with an ellipsis (the steps' list names it in full).
MAX_PLACES: Final = 200
MAX_LEGS: Final = 200
MAX_LABELS: Final = 12
MAX_LABEL_CHARS: Final = 32


def isolated(text: str) -> str:
    """``text`` as a first-strong isolate: its direction from its first letter, its digits and
    punctuation kept within it, whatever surrounds it. The PDI also closes any embedding the
    text left open (UAX #9, X6a), as a label cut short inside one may."""
    return f"{_FSI}{text}{_PDI}"


def as_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a document value, or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


@dataclass(frozen=True)
class Place:
    """A place's dot on the map, in SVG user units."""

    x: float
    y: float
    town: str


@dataclass(frozen=True)
class Label:
    """A town's name beside its dot; ``anchor`` is SVG's text-anchor."""

    x: float
    y: float
    text: str
    anchor: str

    @property
    def drawn(self) -> str:
        """The label as drawn: ``text`` isolated (its width is measured without the marks)."""
        return isolated(self.text)


@dataclass(frozen=True)
class Leg:
    """A transport leg drawn as a line; estimated distances are dashed."""

    x1: float
    y1: float
    x2: float
    y2: float
    estimated: bool


@dataclass(frozen=True)
class JourneyMap:
    """Everything the SVG template draws: places, legs, town labels and a scale bar."""

    width: float
    height: float
    places: tuple[Place, ...]
    legs: tuple[Leg, ...]
    labels: tuple[Label, ...]
    towns: tuple[str, ...]
    scale_px: float
    scale_km: int

    @property
    def towns_title(self) -> str:
        """The towns for the map's title, each isolated, in journey order."""
        return " · ".join(isolated(town) for town in self.towns)


def _coordinates(place: Mapping[str, Any]) -> tuple[float, float] | None:
    lat, lon = as_decimal(place.get("lat")), as_decimal(place.get("lon"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return float(lat), float(lon)


def places_of(journey: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    places = [step[key] for step in journey for key in ("at", "from", "to") if key in step]
    return [p for p in places if isinstance(p, Mapping) and _coordinates(p) is not None]


class _Projection:
    """Equirectangular projection fitted to the places' bounding box, north up."""

    def __init__(self, points: Sequence[tuple[float, float]]) -> None:
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        self.lat0, self.lon0 = max(lats), min(lons)
        self.kx = math.cos(math.radians((min(lats) + max(lats)) / 2))
        span_x = (max(lons) - self.lon0) * self.kx
        span_y = self.lat0 - min(lats)
        inner_w = MAP_WIDTH - 2 * _PAD_X - 90  # room for the labels either side
        inner_h = _MAP_MAX_HEIGHT - 2 * _PAD_Y
        fits = [inner_w / span_x if span_x else math.inf, inner_h / span_y if span_y else math.inf]
        self.point = min(fits) == math.inf  # a single place: no distances to draw
        self.scale = 1.0 if self.point else min(fits)
        self.height = max(_MAP_MIN_HEIGHT, span_y * self.scale + 2 * _PAD_Y)
        self.dx = (MAP_WIDTH - span_x * self.scale) / 2
        self.dy = (self.height - span_y * self.scale) / 2

    def __call__(self, lat: float, lon: float) -> tuple[float, float]:
        x = self.dx + (lon - self.lon0) * self.kx * self.scale
        y = self.dy + (self.lat0 - lat) * self.scale
        return round(x, 1), round(y, 1)


def _shortened(town: str) -> str:
    if len(town) <= MAX_LABEL_CHARS:
        return town
    return town[: MAX_LABEL_CHARS - 1].rstrip() + "\u2026"


def _label(place: Place, taken: list[tuple[float, float, float, float]]) -> Label:
    text = _shortened(place.town)
    width = len(text) * _CHAR_WIDTH
    candidates = [
        (place.x + 8, place.y + 4, "start", place.x + 6, place.x + 8 + width),
        (place.x - 8, place.y + 4, "end", place.x - 8 - width, place.x - 6),
        (place.x, place.y + 18, "middle", place.x - width / 2, place.x + width / 2),
        (place.x, place.y - 10, "middle", place.x - width / 2, place.x + width / 2),
    ]
    for x, y, anchor, left, right in candidates:
        box = (left, y - _LABEL_HEIGHT + 3, right, y + 3)
        inside = left >= 0 and right <= MAP_WIDTH
        if inside and not any(_overlaps(box, other) for other in taken):
            taken.append(box)
            return Label(round(x, 1), round(y, 1), text, anchor)
    x, y, anchor = candidates[0][:3] if place.x < MAP_WIDTH / 2 else candidates[1][:3]
    return Label(round(float(x), 1), round(float(y), 1), text, str(anchor))


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _scale_bar(project: _Projection) -> tuple[float, int]:
    if project.point:
        return 0.0, 0
    px_per_km = project.scale / _KM_PER_DEGREE  # along a meridian, where a degree is ~111.2 km
    fitting = [km for km in _NICE_KM if km * px_per_km <= MAP_WIDTH / 3]
    km = fitting[-1] if fitting else _NICE_KM[0]
    return round(km * px_per_km, 1), km


def _leg(start: tuple[float, float], end: tuple[float, float], *, estimated: bool) -> Leg:
    # The line stops at the dots' edges, so the arrowhead is not hidden under the place.
    (x1, y1), (x2, y2) = start, end
    length = math.hypot(x2 - x1, y2 - y1)
    if length > 3 * _DOT_GAP:
        ux, uy = (x2 - x1) / length * _DOT_GAP, (y2 - y1) / length * _DOT_GAP
        x1, y1, x2, y2 = x1 + ux, y1 + uy, x2 - ux, y2 - uy
    return Leg(round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1), estimated)


def journey_map(journey: Sequence[Mapping[str, Any]]) -> JourneyMap | None:
    """The map of ``journey``'s places and transport legs, or None without any coordinates."""
    raw = places_of(journey)
    if not raw:
        return None
    points = [c for p in raw if (c := _coordinates(p)) is not None]
    project = _Projection(points)
    places: list[Place] = []
    for p, (lat, lon) in zip(raw, points, strict=True):
        x, y = project(lat, lon)
        # Places closer than a dot's width (two workshops in one town) share one dot.
        if len(places) < MAX_PLACES and not any(
            math.hypot(x - q.x, y - q.y) < _MERGE_PX for q in places
        ):
            places.append(Place(x, y, str(p.get("town") or "")))
    legs: dict[Leg, None] = {}  # in journey order, each once
    for step in journey:
        ends = [_coordinates(step.get(k) or {}) for k in ("from", "to")]
        if step.get("kind") == "transport" and ends[0] is not None and ends[1] is not None:
            start, end = project(*ends[0]), project(*ends[1])
            legs[_leg(start, end, estimated=bool(step.get("distance_estimated")))] = None
            if len(legs) == MAX_LEGS:
                break
    taken = [(p.x - 5, p.y - 5, p.x + 5, p.y + 5) for p in places]
    labels: list[Label] = []
    towns: list[str] = []
    for place in places:
        if place.town and place.town not in towns:
            towns.append(place.town)
            if len(labels) < MAX_LABELS:
                labels.append(_label(place, taken))
    if len(towns) > MAX_LABELS:
        towns[MAX_LABELS:] = [f"+{len(towns) - MAX_LABELS}"]
    scale_px, scale_km = _scale_bar(project)
    return JourneyMap(
        MAP_WIDTH, round(project.height, 1), tuple(places), tuple(legs),
        tuple(labels), tuple(towns), scale_px, scale_km,
    )  # fmt: skip
