"""The docs' examples and figures are real.

Each JSON example of an event in docs/formats.md parses as the event type it documents, its
EPCIS example is what the export writes for its `material` example, and the
closed lists of values it spells out (roles, units, transport modes, lifecycle kinds, claim
models, public figures) are the ones the event models accept. What
docs/catalogue.md says the catalogue holds (how many materials of each category, how many
process types, the sources with their titles, publishers and years) is what
`ledger/data/catalogue.json` holds.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import get_args

import pytest

from ledger.directory_event import Figure
from ledger.epcis import epcis_document, to_epcis_event
from ledger.events import Role, parse_event
from ledger.quantities import UNITS
from ledger.supply import ClaimModel, LifecycleKind, TransportMode

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ROOT / "docs" / "formats.md"
CATALOGUE_DOC = ROOT / "docs" / "catalogue.md"
CATALOGUE = ROOT / "ledger" / "data" / "catalogue.json"
# The words docs/catalogue.md counts materials by, and the category each stands for.
CATEGORY_WORDS = {
    "animal fibres": "fibre-animal",
    "plant fibres": "fibre-plant",
    "man-made cellulosics": "fibre-man-made-cellulosic",
    "synthetics": "fibre-synthetic",
    "leathers": "leather",
    "leather alternatives": "leather-alternative",
    "metals": "metal",
    "trims": "trim",
    "threads": "thread",
    "packaging": "packaging",
}
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


def test_the_epcis_example_is_the_export_of_the_material_example() -> None:
    # The EPCIS example shows the material example exported at log index 42, its signer's
    # profile the actor example: every member and the event ID as the export writes them.
    found = re.search(
        r"^## EPCIS 2\.0 export\n.+?```json\n(.+?)\n```",
        FORMATS.read_text(encoding="utf-8"),
        re.MULTILINE | re.DOTALL,
    )
    assert found, "docs/formats.md: no EPCIS example"
    shown = json.loads(found[1])
    material, actor = (json.loads(_examples()[kind]) for kind in ("material", "actor"))
    events = to_epcis_event(42, material, {actor["id"]: actor})
    assert shown == epcis_document(events, shown["creationDate"])


def _catalogue() -> dict[str, object]:
    data: dict[str, object] = json.loads(CATALOGUE.read_bytes())
    return data


def _holdings_paragraph() -> str:
    text = CATALOGUE_DOC.read_text(encoding="utf-8")
    found = re.search(r"^What it holds today:(.+?)\n\n", text, re.MULTILINE | re.DOTALL)
    assert found, "docs/catalogue.md: no paragraph 'What it holds today:'"
    return " ".join(found[1].split())


def _figure(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found, f"docs/catalogue.md no longer says /{pattern}/"
    return int(found[1])


def test_the_catalogue_figures_are_the_files() -> None:
    catalogue = _catalogue()
    materials, processes = catalogue["materials"], catalogue["processes"]
    assert isinstance(materials, list) and isinstance(processes, list)
    text = _holdings_paragraph()
    said = {what: _figure(rf"(\d+) {what}", text) for what in ("materials", "process types")}
    assert said == {"materials": len(materials), "process types": len(processes)}
    by_category = Counter(row["category"] for row in materials)
    counted = {
        CATEGORY_WORDS[words]: int(count)
        for words, count in re.findall(r"(?:and )?([a-z][a-z -]*?) \((\d+)", text)
        if words in CATEGORY_WORDS
    }
    assert counted == dict(by_category), "docs/catalogue.md counts the categories otherwise"


def test_the_catalogue_sources_table_is_the_files() -> None:
    sources = _catalogue()["sources"]
    assert isinstance(sources, dict)
    text = CATALOGUE_DOC.read_text(encoding="utf-8").split("## Sources", 1)[1]
    rows = re.findall(r"^\| `([\w-]+)` \| (.+?) \| (.+?) \| (\d{4}) \|$", text, re.MULTILINE)
    table = {row[0]: (row[1], row[2], int(row[3])) for row in rows}
    files = {key: (s["title"], s["publisher"], s["year"]) for key, s in sources.items()}
    assert list(table) == list(files), "the table lists other sources, or in another order"
    wrong = [
        f"{key}: table {table[key]}, file {files[key]}" for key in files if table[key] != files[key]
    ]
    assert not wrong, "\n".join(wrong)


def _formats_prose() -> str:
    return " ".join(FORMATS.read_text(encoding="utf-8").split())


def _words(text: str) -> list[str]:
    """The values of a list written `a, b, c or d` (or with backticks, or `\\|` in a table)."""
    return re.findall(
        r"[A-Za-z0-9_-]+",
        re.sub(r"\b(?:or|and)\b|\((?:mass|length|area|volume|count)\)", " ", text),
    )


# Each closed list docs/formats.md spells out: where it stands, and what the code accepts.
LISTS = {
    "roles": (r"`roles`: ([^.]+)\.", get_args(Role)),
    "units": (r"units ([A-Z0-9 ,()a-z]+?); conversions", tuple(UNITS)),
    "transport modes": (r"`transport\.mode` is ([^.]+)\.", get_args(TransportMode)),
    "claim models": (r'\{"model": ("[a-z_]+"(?: \\\| "[a-z_]+")*)', get_args(ClaimModel)),
    "public figures": (r"see, from ((?:`[a-z]+`(?:, )?)+)", get_args(Figure)),
}


@pytest.mark.parametrize("name", sorted(LISTS))
def test_each_closed_list_in_formats_is_the_models(name: str) -> None:
    pattern, accepted = LISTS[name]
    found = re.search(pattern, _formats_prose())
    assert found, f"docs/formats.md no longer spells out the {name} where this test looks"
    assert sorted(_words(found[1])) == sorted(accepted), f"docs/formats.md: {name}"


def test_the_lifecycle_kinds_in_formats_are_the_models() -> None:
    found = re.search(r"`kind`: (`sale`.+?)\. ", _formats_prose())
    assert found, "docs/formats.md no longer spells out the lifecycle kinds"
    # A kind is a backticked word; one right after "(" is a field of the kind before it.
    named = set(re.findall(r"(?<!\()`([a-z-]+)`", found[1]))
    assert named == set(get_args(LifecycleKind))
