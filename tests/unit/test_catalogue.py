"""The materials and processes catalogue: the shipped file, its integrity checks, the look-ups.

Corruption tests edit a parsed copy of the shipped file and feed it back through
``Catalogue.from_json``; the file itself is never touched.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from ledger.catalogue import BIZ_STEPS, CATEGORIES, Catalogue, catalogue
from ledger.errors import FormatError

# Every id a release has published. Events in the log name these, so they are never removed or
# renamed: a new row is added to the catalogue and then to these lists, never edited out of them.
PUBLISHED_MATERIALS = (
    "silk-mulberry", "silk-mulberry-organic", "silk-peace", "silk-wild-tussah", "silk-recycled",
    "wool-merino", "wool-organic", "wool-recycled", "cashmere", "cashmere-recycled", "mohair",
    "alpaca", "cotton", "cotton-organic", "cotton-recycled", "linen", "hemp", "viscose",
    "viscose-fsc", "viscose-recycled", "lyocell", "modal", "cupro", "polyester",
    "polyester-recycled", "polyester-recycled-chemical", "polyamide", "polyamide-recycled",
    "polyamide-bio-based", "elastane", "leather-bovine-chrome", "leather-bovine-vegetable",
    "leather-bovine-metal-free", "leather-ovine-chrome", "leather-caprine-chrome",
    "leather-fibre-board-recycled", "mycelium-material", "grape-marc-composite",
    "pineapple-leaf-nonwoven", "pu-coated-textile", "brass", "brass-recycled", "zinc-alloy",
    "stainless-steel", "silver-recycled", "gold", "gold-recycled", "palladium-plating",
    "button-horn", "button-corozo", "zip-metal", "zip-coil-recycled-polyester",
    "thread-polyester", "thread-polyester-recycled", "thread-silk", "thread-cotton-organic",
    "cardboard-recycled", "paperboard-fsc", "paper-recycled", "tissue-paper", "dust-bag-cotton",
    "pet-recycled-packaging", "ldpe-film-recycled",
)  # fmt: skip
PUBLISHED_PROCESSES = (
    "sericulture-reeling", "wool-scouring", "silk-throwing", "spinning", "weaving", "knitting",
    "pretreatment", "dyeing", "printing", "textile-finishing", "beamhouse", "tanning-chrome",
    "tanning-vegetable", "tanning-metal-free", "leather-post-tanning", "leather-finishing",
    "hardware-casting", "hardware-plating", "cutting", "sewing", "leather-goods-assembly",
    "trim-fitting", "quality-inspection", "packing", "take-back", "sorting-disassembly", "repair",
    "mechanical-recycling", "chemical-recycling", "remanufacturing",
)  # fmt: skip


def _shipped() -> dict[str, Any]:
    data = resources.files("ledger").joinpath("data", "catalogue.json").read_bytes()
    obj: dict[str, Any] = json.loads(data)
    return obj


def _corrupted(edit: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    obj = copy.deepcopy(_shipped())
    edit(obj)
    return obj


def _material(obj: dict[str, Any], material_id: str) -> dict[str, Any]:
    row: dict[str, Any] = next(m for m in obj["materials"] if m["id"] == material_id)
    return row


# -- the shipped catalogue ------------------------------------------------------------------


def test_shipped_catalogue_loads_once_and_is_cached() -> None:
    assert catalogue() is catalogue()
    assert catalogue().version == 1


def test_catalogue_covers_at_least_45_materials_and_18_processes() -> None:
    assert len(catalogue().materials) >= 45
    assert len(catalogue().processes) >= 18


def test_published_ids_are_never_removed_or_renamed() -> None:
    materials = {m.id for m in catalogue().materials}
    processes = {p.id for p in catalogue().processes}
    assert set(PUBLISHED_MATERIALS) <= materials, set(PUBLISHED_MATERIALS) - materials
    assert set(PUBLISHED_PROCESSES) <= processes, set(PUBLISHED_PROCESSES) - processes


def test_every_row_cites_a_declared_source() -> None:
    cat = catalogue()
    for row in (*cat.materials, *cat.processes):
        assert row.sources, row.id
        assert all(s in cat.sources for s in row.sources), row.id


def test_every_scheme_a_material_lists_is_declared() -> None:
    cat = catalogue()
    for material in cat.materials:
        assert set(material.schemes) <= set(cat.schemes), material.id


def test_efficiencies_are_decimal_strings_within_the_unit_interval() -> None:
    for material in catalogue().materials:
        efficiency = material.recycling_efficiency
        assert isinstance(efficiency.feedstock, str)
        assert isinstance(efficiency.end_of_life, str)
        assert Decimal(0) < efficiency.e_f <= 1, material.id
        assert Decimal(0) <= efficiency.e_c <= 1, material.id


def test_catalogue_covers_each_family_the_issue_names() -> None:
    categories = {m.category for m in catalogue().materials}
    assert categories == set(CATEGORIES)
    feedstocks = {m.feedstock for m in catalogue().materials}
    assert {"virgin", "recycled", "bio-based"} <= feedstocks


def test_process_steps_are_cbv_business_steps() -> None:
    for process in catalogue().processes:
        assert process.epcis_biz_step is None or process.epcis_biz_step in BIZ_STEPS
    assert "transforming" not in BIZ_STEPS  # not a CBV 2.0 business step


def test_circular_stage_processes_are_marked_circular() -> None:
    circular = catalogue().select_processes(stage="circular")
    assert {p.id for p in circular} >= {"repair", "mechanical-recycling", "chemical-recycling"}
    assert all(p.circular for p in circular)


# -- look-ups and filters -------------------------------------------------------------------


def test_lookup_by_id_finds_rows_and_answers_none_for_unknown_ids() -> None:
    cat = catalogue()
    silk = cat.material("silk-mulberry")
    assert silk is not None and silk.category == "fibre-animal" and silk.cycle == "biological"
    tanning = cat.process("tanning-vegetable")
    assert tanning is not None and tanning.stage == "leather"
    assert cat.material("unobtainium") is None
    assert cat.process("teleporting") is None


def test_filter_by_category_keeps_only_that_category_in_catalogue_order() -> None:
    cat = catalogue()
    leathers = cat.select_materials(category="leather")
    assert leathers and all(m.category == "leather" for m in leathers)
    assert list(leathers) == [m for m in cat.materials if m.category == "leather"]


def test_filters_combine() -> None:
    found = catalogue().select_materials(category="fibre-animal", cycle="biological", scheme="GRS")
    assert {m.id for m in found} >= {"wool-recycled", "cashmere-recycled"}
    assert all(m.feedstock == "recycled" for m in found)


def test_unknown_filter_values_select_nothing() -> None:
    assert catalogue().select_materials(category="plastic") == ()
    assert catalogue().select_materials(scheme="NOPE") == ()
    assert catalogue().select_processes(stage="teleporting") == ()


# -- corrupted copies are refused -----------------------------------------------------------


def test_unmodified_copy_validates() -> None:
    assert Catalogue.from_json(_shipped()) == catalogue()


def test_duplicate_material_id_is_refused() -> None:
    obj = _corrupted(lambda o: o["materials"].append(copy.deepcopy(o["materials"][0])))
    with pytest.raises(FormatError, match="duplicate id 'silk-mulberry'"):
        Catalogue.from_json(obj)


def test_duplicate_process_id_is_refused() -> None:
    obj = _corrupted(lambda o: o["processes"][1].update(id=o["processes"][0]["id"]))
    with pytest.raises(FormatError, match="processes: duplicate id"):
        Catalogue.from_json(obj)


def test_unknown_source_is_refused_with_the_row_named() -> None:
    obj = _corrupted(lambda o: _material(o, "wool-recycled").update(sources=["made-up-2099"]))
    with pytest.raises(FormatError, match=r"\(wool-recycled\): sources: unknown source"):
        Catalogue.from_json(obj)


def test_row_without_sources_is_refused() -> None:
    obj = _corrupted(lambda o: o["processes"][0].update(sources=[]))
    with pytest.raises(FormatError, match=r"processes\[0\] \(sericulture-reeling\)\.sources"):
        Catalogue.from_json(obj)


def test_undeclared_scheme_is_refused() -> None:
    obj = _corrupted(lambda o: _material(o, "cotton").update(schemes=["Organic-ish"]))
    with pytest.raises(FormatError, match="unknown scheme 'Organic-ish'"):
        Catalogue.from_json(obj)


def test_scheme_listed_twice_is_refused() -> None:
    obj = _corrupted(lambda o: _material(o, "cotton").update(schemes=["Fairtrade", "Fairtrade"]))
    with pytest.raises(FormatError, match="lists Fairtrade more than once"):
        Catalogue.from_json(obj)


@pytest.mark.parametrize("value", ["1.5", "-0.1", "0.12345", ".8", "0,8", "80%", ""])
def test_efficiency_outside_unit_interval_or_malformed_is_refused(value: str) -> None:
    def edit(o: dict[str, Any]) -> None:
        _material(o, "brass")["recycling_efficiency"]["end_of_life"] = value

    with pytest.raises(FormatError, match=r"\(brass\)\.recycling_efficiency\.end_of_life"):
        Catalogue.from_json(_corrupted(edit))


def test_zero_feedstock_efficiency_is_refused_because_the_mci_divides_by_it() -> None:
    def edit(o: dict[str, Any]) -> None:
        _material(o, "brass")["recycling_efficiency"]["feedstock"] = "0"

    with pytest.raises(FormatError, match="MCI divides by E_F"):
        Catalogue.from_json(_corrupted(edit))


def test_efficiency_as_json_number_is_refused() -> None:
    def edit(o: dict[str, Any]) -> None:
        _material(o, "brass")["recycling_efficiency"]["feedstock"] = 0.95

    with pytest.raises(FormatError, match="decimal strings"):
        Catalogue.from_json(_corrupted(edit))


def test_unknown_field_is_refused() -> None:
    obj = _corrupted(lambda o: _material(o, "linen").update(colour="natural"))
    with pytest.raises(FormatError, match=r"\(linen\)\.colour: Extra inputs"):
        Catalogue.from_json(obj)


def test_category_outside_the_closed_set_is_refused() -> None:
    obj = _corrupted(lambda o: _material(o, "linen").update(category="fibre-vegetable"))
    with pytest.raises(FormatError, match=r"\(linen\)\.category"):
        Catalogue.from_json(obj)


def test_biz_step_outside_cbv_is_refused() -> None:
    obj = _corrupted(lambda o: o["processes"][0].update(epcis_biz_step="transforming"))
    with pytest.raises(FormatError, match="epcis_biz_step"):
        Catalogue.from_json(obj)


def test_malformed_id_is_refused() -> None:
    obj = _corrupted(lambda o: o["materials"][0].update(id="Silk Mulberry"))
    with pytest.raises(FormatError, match=r"materials\[0\] \(Silk Mulberry\)\.id"):
        Catalogue.from_json(obj)


def test_source_year_must_be_an_integer() -> None:
    obj = _corrupted(lambda o: o["sources"]["gots-7"].update(year="2023"))
    with pytest.raises(FormatError, match=r"sources\.gots-7\.year"):
        Catalogue.from_json(obj)


def test_duplicate_member_names_in_the_file_are_refused() -> None:
    # json.loads would keep the last of two "gots-7" sources silently; the loader refuses both.
    text = json.dumps(_shipped()).replace('"gots-7": {', '"gots-7": {}, "gots-7": {', 1)
    with pytest.raises(FormatError, match="duplicate member name 'gots-7'"):
        Catalogue.from_bytes(text.encode("utf-8"))


def test_bytes_that_are_not_json_are_refused() -> None:
    with pytest.raises(FormatError, match="catalogue"):
        Catalogue.from_bytes(b"{not json")
