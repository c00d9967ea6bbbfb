"""What the consumer page shows of a passport document: actors' text made safe to set, and
every list a supplier can grow cut to a page's worth.

Escaping is Jinja2's (``passports.page``); this module handles what escaping leaves through.
Control characters are dropped (a tab, a line break or a form feed becomes a space): HTML calls
them parse errors and a screen reader may spell them. Explicit bidi embeddings, overrides and
isolates (UAX #9) are balanced in every string on its own: a name that opens a right-to-left
override closes it at its end, and a closing mark with nothing to close is dropped, so a name
cannot reverse the words the page sets after it (the document's title, a joined list of towns),
nor close the page's own.

The document grows with its chain: thousands of steps, origins or certificates are possible
on a long-lived ledger, and one page must stay a phone's download. ``for_page`` keeps the first
and last steps, the first origins of a material, the first certificates and the last events
of the item's life, the first version and the latest ones, the largest materials, and
``Omitted`` counts what was left out for the page to say so (the glance still counts every
version and certificate); the whole document stays in the JSON-LD, the API and the bundle.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "MAX_COVERED", "MAX_MATERIALS", "MAX_STEPS", "MAX_VERSIONS", "Omitted", "PageDocument",
    "clean_text", "covered_steps", "for_page",
]  # fmt: skip

# Steps of the making and transport shown: the first half and the last half of this many.
MAX_STEPS: Final = 40
MAX_LIFE: Final = 20  # the latest events of the item's life
MAX_ORIGINS: Final = 10  # distinct suppliers shown under one material
MAX_CERTIFICATES: Final = 30
MAX_COVERED: Final = 10  # steps named under one certificate
MAX_VERSIONS: Final = 20  # the first version and the latest ones
MAX_MATERIALS: Final = 30  # the largest shares (the document lists them largest first)

_EMBEDDINGS: Final = frozenset("\u202a\u202b\u202d\u202e")  # LRE RLE LRO RLO, closed by PDF
_ISOLATES: Final = frozenset("\u2066\u2067\u2068")  # LRI RLI FSI, closed by PDI
_PDF: Final = "\u202c"
_PDI: Final = "\u2069"


def clean_text(text: str) -> str:
    """``text`` without control characters and with its bidi formatting balanced."""
    out: list[str] = []
    opened: list[str] = []
    for ch in text:
        if unicodedata.category(ch) == "Cc":
            if ch.isspace():
                out.append(" ")
            continue
        if ch in _EMBEDDINGS or ch in _ISOLATES:
            opened.append(ch)
        elif ch == _PDF:
            if not opened or opened[-1] not in _EMBEDDINGS:
                continue  # nothing of this string's own to close (UAX #9, X7)
            opened.pop()
        elif ch == _PDI:
            if not any(o in _ISOLATES for o in opened):
                continue  # UAX #9, X6a: an unmatched PDI
            while opened.pop() not in _ISOLATES:
                pass
        out.append(ch)
    out.extend(_PDI if o in _ISOLATES else _PDF for o in reversed(opened))
    return "".join(out)


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {key: _cleaned(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_cleaned(item) for item in value]
    return value


@dataclass(frozen=True)
class Omitted:
    """How many of each list the page leaves out; ``steps_after`` is how many steps it shows
    before the gap, ``origins`` counts by material code."""

    steps: int = 0
    steps_after: int = 0
    life: int = 0
    certificates: int = 0
    origins: Mapping[str, int] = field(default_factory=dict)
    versions: int = 0  # left out after the first version
    materials: int = 0
    untraced_materials: bool = False  # a material left out is declared, not traced


def _distinct_actors(origins: Iterable[Any]) -> list[Any]:
    seen: set[str] = set()
    kept = []
    for origin in origins:
        actor = str(origin.get("actor")) if isinstance(origin, Mapping) else ""
        if actor not in seen:
            seen.add(actor)
            kept.append(origin)
    return kept


@dataclass(frozen=True)
class PageDocument:
    """``whole``: the document with its text cleaned; ``shown``: the same, its lists cut to
    what the page sets; ``omitted``: what the cut left out."""

    whole: Mapping[str, Any]
    shown: Mapping[str, Any]
    omitted: Omitted


def for_page(doc: Mapping[str, Any]) -> PageDocument:
    """``doc`` made fit to show on the page."""
    whole: dict[str, Any] = _cleaned(doc)
    shown = dict(whole)
    journey = [s for s in shown.get("journey") or [] if isinstance(s, Mapping)]
    making = [s for s in journey if s.get("kind") != "lifecycle"]
    life = [s for s in journey if s.get("kind") == "lifecycle"]
    half = MAX_STEPS // 2
    steps_omitted = max(0, len(making) - MAX_STEPS)
    if steps_omitted:
        making = making[:half] + making[-half:]
    life_omitted = max(0, len(life) - MAX_LIFE)
    shown["journey"] = making + life[life_omitted:]
    origins_omitted: dict[str, int] = {}
    shown["materials"] = [
        dict(m) if isinstance(m, Mapping) else m for m in shown.get("materials") or []
    ]
    for material in shown.get("materials") or []:
        if isinstance(material, dict):
            distinct = _distinct_actors(material.get("origins") or [])
            if len(distinct) > MAX_ORIGINS:
                origins_omitted[str(material.get("material"))] = len(distinct) - MAX_ORIGINS
            material["origins"] = distinct[:MAX_ORIGINS]
    certificates = shown.get("certificates") or []
    shown["certificates"] = certificates[:MAX_CERTIFICATES]
    versions = shown.get("versions") or []
    versions_omitted = max(0, len(versions) - MAX_VERSIONS)
    if versions_omitted:
        shown["versions"] = versions[:1] + versions[1 + versions_omitted :]
    materials = shown["materials"]
    cut_materials = materials[MAX_MATERIALS:]
    shown["materials"] = materials[:MAX_MATERIALS]
    omitted = Omitted(
        steps=steps_omitted,
        steps_after=half if steps_omitted else len(making),
        life=life_omitted,
        certificates=max(0, len(certificates) - MAX_CERTIFICATES),
        origins=origins_omitted,
        versions=versions_omitted,
        materials=len(cut_materials),
        untraced_materials=any(
            isinstance(m, Mapping) and not m.get("traced") for m in cut_materials
        ),
    )
    return PageDocument(whole, shown, omitted)


def covered_steps(journey: Iterable[Any], entries: Iterable[Any]) -> list[Mapping[str, Any]]:
    """The first ``MAX_COVERED`` steps of ``journey`` whose log entry is one of ``entries``."""
    wanted = set(entries)
    found = [s for s in journey if isinstance(s, Mapping) and s.get("index") in wanted]
    return found[:MAX_COVERED]
