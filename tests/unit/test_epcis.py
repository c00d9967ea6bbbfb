"""EPCIS 2.0 export: the mapping of each event type, the CBV 2.0 event hash, the schema.

Two oracles (``tests/epcis_oracle.py``): GS1's EPCIS 2.0 JSON schema, and GS1's reference
implementation of the event hash, which must compute every exported ``eventID`` exactly as
``ledger.epcis_hash`` does, for the official examples and for generated events alike.

The hash algorithm on its own, against GS1's examples: ``test_epcis_hash.py``.
"""

from __future__ import annotations

import copy
import json
import math
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import canonical_bytes
from ledger.catalogue import BIZ_STEPS
from ledger.epcis import (
    CONTEXT,
    SPOLA_NAMESPACE,
    document_chunks,
    epc,
    epcis_document,
    quantity,
    time_bound,
    to_epcis_event,
)
from ledger.epcis_hash import (
    canonical_number,
    event_hash,
)
from ledger.errors import FormatError
from ledger.events import encode_event
from ledger.feed import payload_digest
from ledger.identifiers import CSET_82, DigitalLink, gtin_check_digit
from tests.epcis_oracle import reference_hashes, schema_errors, vectors_dir
from tests.supply import GOTS_CLAIM

MILL = "urn:spola:actor:seteria"
DYER = "urn:spola:actor:tintoria"
GLN_MILL, GLN_MILL_WORKS = "8012345000012", "8012345000029"
ACTORS: dict[str, dict[str, Any]] = {
    MILL: {"id": MILL, "gln": GLN_MILL, "facilities": [{"id": "main", "gln": GLN_MILL_WORKS}]},
    DYER: {"id": DYER, "facilities": [{"id": "main"}, {"id": "lab"}]},
}
LOT = "urn:spola:lot:seteria:S26-0142"
FABRIC = "/01/09506000134352/10/S26.01"
SCARF = "/01/09506000134352/21/8F3KQ2M7XW"
CERT = {
    "scheme": "GOTS",
    "id": "CU-GOTS-824511",
    "issuer": "ICEA",
    "valid_from": "2020-01-01",
    "valid_until": "2099-12-31",
}
CREATED = "2026-11-26T10:00:00.000Z"


def payload(
    actor: str, fields: dict[str, Any], time: str = "2026-11-26T09:30:00Z"
) -> dict[str, Any]:
    """A signed-ready payload, checked by the event models as admission checks it."""
    header = {"v": 1, "actor": actor, "seq": 0, "prev": None, "time": time}
    loaded: dict[str, Any] = json.loads(encode_event(header | fields))
    return loaded


def q(value: str, unit: str = "KGM") -> dict[str, str]:
    return {"value": value, "unit": unit}


MATERIAL = payload(
    MILL,
    {
        "type": "material",
        "lot": LOT,
        "material": "silk-mulberry",
        "quantity": q("100.50"),
        "facility": "main",
        "feedstock": {"recycled": "0.10", "reused": "0", "renewable": "1"},
        "claim": GOTS_CLAIM,
        "certificates": [CERT],
    },
)
WEAVING = payload(
    MILL,
    {
        "type": "process",
        "process": "weaving",
        "facility": "main",
        "inputs": [{"lot": LOT, "quantity": q("50")}],
        "outputs": [
            {
                "lot": FABRIC,
                "material": "silk-mulberry",
                "quantity": q("120", "MTR"),
                "mass_per_unit": q("0.4"),
            }
        ],
        "energy_kwh": "12.5",
        "chemicals": [{"name": "sizing", "quantity": q("1"), "zdhc_mrsl_compliant": True}],
        "workforce": {"workers": 4, "hours": "32", "women": 3},
    },
)
HANDOVER = payload(
    MILL,
    {
        "type": "handover",
        "id": "DDT/2026/7",
        "to": DYER,
        "lines": [{"lot": FABRIC, "quantity": q("100", "MTR")}, {"item": SCARF}],
        "from_facility": "main",
        "to_facility": "lab",
        "transport": {"mode": "road", "distance_km": "42.5"},
    },
)
ACCEPTED = payload(
    DYER,
    {
        "type": "receipt",
        "handover": {"sender": MILL, "id": "DDT/2026/7"},
        "accepted": True,
        "facility": "main",
    },
)
REJECTED = payload(
    DYER,
    {
        "type": "receipt",
        "handover": {"sender": MILL, "id": "DDT/2026/7"},
        "accepted": False,
        "reason": "wrong colour",
    },
)


def lifecycle(kind: str, **extra: Any) -> dict[str, Any]:
    return payload(DYER, {"type": "lifecycle", "kind": kind, "item": SCARF} | extra)


def export(index: int, p: dict[str, Any], handover: dict[str, Any] | None = None) -> list[Any]:
    return to_epcis_event(index, p, ACTORS, handover=handover)


def all_events() -> list[dict[str, Any]]:
    events = export(1, MATERIAL) + export(2, WEAVING) + export(3, HANDOVER)
    events += export(4, ACCEPTED, HANDOVER) + export(5, REJECTED, HANDOVER)
    for i, (kind, extra) in enumerate(LIFECYCLE_EXTRA.items()):
        events += export(10 + i, lifecycle(kind, **extra))
    return events


LIFECYCLE_EXTRA: dict[str, dict[str, Any]] = {
    "sale": {},
    "resale": {"to": MILL},
    "rental": {"until": "2027-01-31"},
    "repair": {"description": "stitching renewed", "facility": "main"},
    "take-back": {"facility": "lab"},
    "recycling": {
        "outputs": [
            {"lot": "urn:spola:lot:tintoria:R1", "material": "silk-recycled", "quantity": q("0.15")}
        ]
    },
}


# -- event IDs of exported events ------------------------------------------------------------


def test_hash_ignores_member_order_and_list_order() -> None:
    for event in all_events():
        shuffled = {k: (list(reversed(v)) if isinstance(v, list) else v) for k, v in event.items()}
        reordered = dict(reversed(list(shuffled.items())))
        assert event_hash(reordered, context=CONTEXT) == event["eventID"]


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def test_changing_any_value_changes_the_hash() -> None:
    for event in all_events():
        for path in _leaves(event):
            if path[0] in ("eventID", "type"):
                continue
            changed = copy.deepcopy(event)
            parent = changed
            for part in path[:-1]:
                parent = parent[part]
            old = parent[path[-1]]
            parent[path[-1]] = old + 1 if isinstance(old, int | float) else old + "Z"
            assert event_hash(changed, context=CONTEXT) != event["eventID"], path


# -- the mapping -------------------------------------------------------------------------------


def test_material_is_commissioned_with_its_lot_data_in_ilmd() -> None:
    (event,) = export(7, MATERIAL)
    assert (event["type"], event["action"]) == ("ObjectEvent", "ADD")
    assert (event["bizStep"], event["disposition"]) == ("commissioning", "active")
    assert event["quantityList"] == [{"epcClass": LOT, "quantity": 100.5, "uom": "KGM"}]
    assert (
        event["readPoint"]
        == event["bizLocation"]
        == {"id": f"https://id.gs1.org/414/{GLN_MILL_WORKS}"}
    )
    assert event["eventTime"] == "2026-11-26T09:30:00Z"
    assert event["eventTimeZoneOffset"] == "+00:00"
    assert event["ilmd"] == {
        "spola:material": "silk-mulberry",
        "spola:feedstock": {"spola:recycled": "0.10", "spola:reused": "0", "spola:renewable": "1"},
        "spola:claim": {
            "spola:model": "segregated",
            "spola:scheme": "GOTS",
            "spola:certifiedFraction": "1",
        },
    }
    assert event["spola:certificate"][0]["spola:id"] == "CU-GOTS-824511"
    assert event["spola:logIndex"] == 7
    assert event["spola:actor"] == MILL
    assert event["spola:payloadDigest"] == "sha-256:" + payload_digest(canonical_bytes(MATERIAL))


@pytest.mark.parametrize(
    ("process", "biz_step"),
    [("weaving", "commissioning"), ("sewing", "assembling"), ("repair", "repairing")],
)
def test_process_is_a_transformation_with_the_catalogue_business_step(
    process: str, biz_step: str
) -> None:
    (event,) = export(2, {**WEAVING, "process": process})
    assert event["type"] == "TransformationEvent"
    assert event["bizStep"] == biz_step
    assert event["inputQuantityList"] == [{"epcClass": LOT, "quantity": 50, "uom": "KGM"}]
    assert event["outputQuantityList"] == [
        {"epcClass": "https://id.gs1.org" + FABRIC, "quantity": 120, "uom": "MTR"}
    ]
    assert event["ilmd"]["spola:lot"][0]["spola:massPerUnit"] == {
        "spola:value": "0.4",
        "spola:unit": "KGM",
    }
    assert event["spola:process"] == process
    assert event["spola:chemical"][0]["spola:zdhcMrsl"] == "compliant"


def test_process_making_items_lists_them_as_output_epcs() -> None:
    making = {
        **WEAVING,
        "outputs": [],
        "items": [{"id": SCARF, "product": "Foulard", "mass": q("0.2")}],
    }
    (event,) = export(2, making)
    assert event["outputEPCList"] == ["https://id.gs1.org" + SCARF]
    assert "outputQuantityList" not in event
    assert event["ilmd"]["spola:item"][0]["spola:product"] == "Foulard"


def test_handover_ships_from_sender_to_receiver() -> None:
    (event,) = export(3, HANDOVER)
    assert (event["action"], event["bizStep"], event["disposition"]) == (
        "OBSERVE",
        "shipping",
        "in_transit",
    )
    assert event["epcList"] == ["https://id.gs1.org" + SCARF]
    assert event["quantityList"][0]["epcClass"] == "https://id.gs1.org" + FABRIC
    assert event["readPoint"] == {"id": f"https://id.gs1.org/414/{GLN_MILL_WORKS}"}
    assert "bizLocation" not in event  # in transit: at no business location
    assert event["bizTransactionList"] == [
        {"type": "desadv", "bizTransaction": "urn:spola:handover:seteria:DDT/2026/7"}
    ]
    assert event["sourceList"] == [
        {"type": "owning_party", "source": f"https://id.gs1.org/417/{GLN_MILL}"},
        {"type": "possessing_party", "source": f"https://id.gs1.org/417/{GLN_MILL}"},
        {"type": "location", "source": f"https://id.gs1.org/414/{GLN_MILL_WORKS}"},
    ]
    assert event["destinationList"] == [
        {"type": "owning_party", "destination": DYER},
        {"type": "possessing_party", "destination": DYER},
        {"type": "location", "destination": "urn:spola:facility:tintoria:lab"},
    ]
    assert (event["spola:transportMode"], event["spola:distanceKm"]) == ("road", "42.5")


def test_accepted_receipt_receives_the_handed_over_lines() -> None:
    (shipped,) = export(3, HANDOVER)
    (event,) = export(4, ACCEPTED, HANDOVER)
    assert (event["bizStep"], event["disposition"]) == ("receiving", "in_progress")
    assert (event["epcList"], event["quantityList"]) == (
        shipped["epcList"],
        shipped["quantityList"],
    )
    assert event["bizTransactionList"] == shipped["bizTransactionList"]
    assert event["bizLocation"] == {"id": "urn:spola:facility:tintoria:main"}
    assert event["destinationList"][-1] == {
        "type": "location",
        "destination": "urn:spola:facility:tintoria:main",
    }


def test_rejected_receipt_returns_the_goods_to_the_sender() -> None:
    (event,) = export(5, REJECTED, HANDOVER)
    assert (event["bizStep"], event["disposition"]) == ("receiving", "returned")
    assert event["sourceList"] == [{"type": "possessing_party", "source": DYER}]
    assert event["destinationList"][0] == {
        "type": "possessing_party",
        "destination": f"https://id.gs1.org/417/{GLN_MILL}",
    }
    assert event["spola:reason"] == "wrong colour"


def test_a_receipt_is_exported_with_the_handover_it_answers() -> None:
    with pytest.raises(FormatError, match="handover"):
        export(4, ACCEPTED)
    other = {**HANDOVER, "id": "DDT/2026/8"}
    with pytest.raises(FormatError, match="DDT/2026/7"):
        export(4, ACCEPTED, other)


def test_registry_events_are_not_exported() -> None:
    actor = payload(
        "urn:spola:actor:operator",
        {
            "type": "actor",
            "op": "register",
            "id": MILL,
            "name": "Seteria",
            "roles": ["supplier"],
            "country": "IT",
        },
    )
    with pytest.raises(FormatError, match="not exported"):
        export(1, actor)


@pytest.mark.parametrize(
    ("kind", "biz_step", "disposition"),
    [
        ("sale", "retail_selling", "retail_sold"),
        ("resale", "accepting", None),
        ("rental", "other", None),
        ("repair", "repairing", "available"),
        ("take-back", "collecting", "returned"),
    ],
)
def test_lifecycle_kinds_map_to_cbv_steps(
    kind: str, biz_step: str, disposition: str | None
) -> None:
    (event,) = export(9, lifecycle(kind, **LIFECYCLE_EXTRA[kind]))
    assert (event["type"], event["action"]) == ("ObjectEvent", "OBSERVE")
    assert event["epcList"] == ["https://id.gs1.org" + SCARF]
    assert (event["bizStep"], event.get("disposition")) == (biz_step, disposition)
    assert event["spola:lifecycle"] == kind


def test_sale_to_a_person_names_nobody_and_sale_to_an_actor_names_the_buyer() -> None:
    (to_person,) = export(9, lifecycle("sale"))
    (to_actor,) = export(9, lifecycle("sale", to=MILL))
    assert to_person["sourceList"] == [{"type": "owning_party", "source": DYER}]
    assert "destinationList" not in to_person
    assert to_actor["destinationList"] == [
        {"type": "owning_party", "destination": f"https://id.gs1.org/417/{GLN_MILL}"}
    ]


def test_recycling_transforms_the_item_into_lots_and_ends_it() -> None:
    made, ended = export(9, lifecycle("recycling", **LIFECYCLE_EXTRA["recycling"]))
    assert made["type"] == "TransformationEvent"
    assert made["inputEPCList"] == ["https://id.gs1.org" + SCARF]
    assert made["outputQuantityList"] == [
        {"epcClass": "urn:spola:lot:tintoria:R1", "quantity": 0.15, "uom": "KGM"}
    ]
    assert (ended["action"], ended["bizStep"], ended["disposition"]) == (
        "DELETE",
        "destroying",
        "destroyed",
    )
    assert made["eventID"] != ended["eventID"]
    assert made["spola:logIndex"] == ended["spola:logIndex"] == 9


def test_recycling_without_lots_only_ends_the_item() -> None:
    (ended,) = export(9, lifecycle("recycling"))
    assert ended["action"] == "DELETE"


def test_unknown_profiles_fall_back_to_urns() -> None:
    (event,) = to_epcis_event(1, MATERIAL, {})
    assert event["readPoint"] == {"id": "urn:spola:facility:seteria:main"}


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("12", 12),
        ("100.50", 100.5),
        ("0.1", 0.1),
        (str(2**53), 2**53),
        (str(2**53 + 1), float(2**53 + 1)),
        ("12345678901234567890.123456789", 12345678901234567890.123456789),
    ],
)
def test_quantities_are_json_numbers(text: str, number: int | float) -> None:
    converted = quantity(text)
    assert converted == number and type(converted) is type(number)
    assert float(Decimal(text)) == converted  # the nearest double, never a truncation


def test_digital_links_become_uris_on_id_gs1_org() -> None:
    assert epc(FABRIC) == "https://id.gs1.org/01/09506000134352/10/S26.01"
    assert (
        epc('/01/09506000134352/10/A"<B>') == "https://id.gs1.org/01/09506000134352/10/A%22%3CB%3E"
    )
    assert epc(LOT) == LOT


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_spola_facts_live_in_the_declared_namespace_and_no_vocab() -> None:
    document = epcis_document(all_events(), CREATED)
    assert document["@context"] == [
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        {"spola": SPOLA_NAMESPACE},
    ]
    assert "@vocab" not in json.dumps(document)
    standard = set(
        json.loads((vectors_dir() / "epcis-context-root.jsonld").read_text())["@context"]
    )
    standard |= {
        "set",
        "unset",
        "source",
        "destination",
        "bizTransaction",
        "epcClass",
        "quantity",
        "uom",
        "id",
    }
    ours = _keys(document["epcisBody"]) - standard
    assert ours and all(k.startswith("spola:") for k in ours), sorted(ours)


def test_every_mapped_event_validates_and_hashes_as_the_reference_does() -> None:
    events = all_events()
    document = epcis_document(events, CREATED)
    assert schema_errors(document) == []
    assert [e["eventID"] for e in events] == reference_hashes(document)
    assert len({e["eventID"] for e in events}) == len(events)


def test_document_chunks_stream_the_same_document() -> None:
    events = all_events()
    streamed = json.loads("".join(document_chunks(iter(events), CREATED)))
    assert streamed == epcis_document(events, CREATED)
    assert json.loads("".join(document_chunks(iter([]), CREATED)))["epcisBody"] == {"eventList": []}


# -- generated events against the reference implementation -------------------------------------
#
# The reference implementation reads any text Python's float() reads as a number ("1_000",
# "١٢", and "inf", on which it fails), rounds milliseconds half to even (and fails past .9995),
# and replaces any value equal to a CBV term found elsewhere in the document by that term's
# URI. Rule 6 and rule 9 say otherwise, and spola never writes such values itself, so generated
# free text and times steer clear of those cases; everything else must hash identically.

CBV_TERMS = frozenset(BIZ_STEPS) | {
    "active", "available", "in_progress", "in_transit", "retail_sold", "returned", "destroyed",
    "owning_party", "possessing_party", "location", "desadv",
}  # fmt: skip


def _reference_number(text: str) -> str | None:
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isnan(number):
        return text
    if math.isinf(number):
        return None
    return str(int(number)) if number.is_integer() else str(number)


def _plain_text(text: str) -> bool:
    stripped = text.strip()
    return stripped not in CBV_TERMS and _reference_number(stripped) == canonical_number(stripped)


def _time(day: Any, fraction: str) -> str:
    return day.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def _rounds_alike(time: str) -> bool:
    """The reference: microseconds (truncated), rounded half to even; rule 9: half up."""
    fraction = time[20:-1] if "." in time else ""
    micros = int(fraction.ljust(6, "0")[:6])
    theirs = round(micros, -3)
    ours = int(fraction.ljust(4, "0")[:3]) * 1000 + (
        1000 if fraction.ljust(4, "0")[3] >= "5" else 0
    )
    return theirs == ours and theirs < 1_000_000


slugs = st.from_regex(r"[a-z0-9][a-z0-9-]{0,12}", fullmatch=True)
locals_ = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
gtins = st.from_regex(r"[0-9]{13}", fullmatch=True).map(lambda b: b + str(gtin_check_digit(b)))
qualifiers = st.text(alphabet=sorted(CSET_82), min_size=1, max_size=20).filter(
    lambda v: v not in (".", "..")
)
lots = st.one_of(
    st.builds("urn:spola:lot:{}:{}".format, slugs, locals_),
    st.builds(lambda g, v: DigitalLink(g, lot=v).path(), gtins, qualifiers),
)
items = st.one_of(
    st.builds("urn:spola:item:{}:{}".format, slugs, locals_),
    st.builds(lambda g, v: DigitalLink(g, serial=v).path(), gtins, qualifiers),
)
amounts = st.from_regex(r"[1-9][0-9]{0,14}(\.[0-9]{1,12})?|0\.[0-9]{0,9}[1-9]", fullmatch=True)
fractions = st.from_regex(r"0(\.[0-9]{1,6})?|1", fullmatch=True)
texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=24
).filter(_plain_text)
times = st.builds(
    _time,
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    st.from_regex(r"(\.[0-9]{1,9})?", fullmatch=True),
).filter(_rounds_alike)
certificates = st.lists(
    st.fixed_dictionaries(
        {
            "scheme": st.sampled_from(["GOTS", "GRS", "RWS"]),
            "id": texts.filter(lambda t: len(t) <= 64),
            "issuer": texts,
            "valid_from": st.just("2020-01-01"),
            "valid_until": st.just("2099-12-31"),
        }
    ),
    max_size=2,
)


def _quantity(draw: st.DrawFn) -> dict[str, Any]:
    unit = draw(st.sampled_from(["KGM", "GRM", "TNE", "MTR", "MTK", "H87"]))
    fields: dict[str, Any] = {"quantity": q(draw(amounts), unit)}
    if unit not in ("KGM", "GRM", "TNE"):
        fields["mass_per_unit"] = q(draw(amounts))
    return fields


@st.composite
def supply_chains(
    draw: st.DrawFn,
) -> tuple[dict[str, Any], list[tuple[dict[str, Any], dict[str, Any] | None]]]:
    """Actors (with or without GLNs) and payloads of every type, with generated values."""
    actors = {
        MILL: {"id": MILL, "facilities": [{"id": "main"}]}
        | ({"gln": GLN_MILL} if draw(st.booleans()) else {}),
        DYER: {
            "id": DYER,
            "facilities": [
                {"id": "main"} | ({"gln": GLN_MILL_WORKS} if draw(st.booleans()) else {})
            ],
        },
    }
    lot, made = draw(st.lists(lots, min_size=2, max_size=2, unique=True))
    item = draw(items)
    when = draw(times)
    material = {"type": "material", "lot": lot, "material": "silk-mulberry", "facility": "main"}
    material |= _quantity(draw) | {"certificates": draw(certificates)}
    material["feedstock"] = {
        "recycled": draw(fractions),
        "reused": "0",
        "renewable": draw(fractions),
    }
    process = {
        "type": "process",
        "process": draw(st.sampled_from(["dyeing", "sewing", "weaving", "quality-inspection"])),
        "facility": "main",
        "inputs": [{"lot": lot, "quantity": q(draw(amounts))}],
        "outputs": [{"lot": made, "material": "silk-mulberry"} | _quantity(draw)],
        "items": [{"id": item, "product": draw(texts), "mass": q(draw(amounts))}],
        "chemicals": [{"name": draw(texts), "quantity": q(draw(amounts))}],
        "certificates": draw(certificates),
    }
    handover = {
        "type": "handover",
        "id": draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,20}", fullmatch=True)),
        "to": DYER,
        "lines": [{"lot": made, "quantity": q(draw(amounts))}, {"item": item}],
        "from_facility": "main",
    }
    accepted = draw(st.booleans())
    receipt = {
        "type": "receipt",
        "handover": {"sender": MILL, "id": handover["id"]},
        "accepted": accepted,
    }
    receipt |= {} if accepted else {"reason": draw(texts)}
    kind = draw(st.sampled_from(sorted(LIFECYCLE_EXTRA)))
    end = {"type": "lifecycle", "kind": kind, "item": item} | LIFECYCLE_EXTRA[kind]
    if kind == "repair":
        end["description"] = draw(texts)
    signed_handover = payload(MILL, handover, when)
    return actors, [
        (payload(MILL, material, when), None),
        (payload(MILL, process, draw(times)), None),
        (signed_handover, None),
        (payload(DYER, receipt, draw(times)), signed_handover),
        (payload(DYER, end, draw(times)), None),
    ]


@settings(max_examples=60, deadline=None)
@given(supply_chains())
def test_generated_events_validate_and_hash_as_the_reference_does(
    chain: tuple[dict[str, Any], list[tuple[dict[str, Any], dict[str, Any] | None]]],
) -> None:
    actors, payloads = chain
    events = [
        e for i, (p, h) in enumerate(payloads) for e in to_epcis_event(i + 1, p, actors, handover=h)
    ]
    document = epcis_document(events, CREATED)
    assert schema_errors(document) == []
    assert [e["eventID"] for e in events] == reference_hashes(document)


# -- the since/until filters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-11-26T09:30:00Z", "2026-11-26T09:30:00+00:00"),
        ("2026-11-26t09:30:00z", "2026-11-26T09:30:00+00:00"),  # RFC 3339 §5.6: t and z
        ("2026-11-26T10:30:00.5+01:00", "2026-11-26T09:30:00.500000+00:00"),
    ],
)
def test_time_filters_take_every_rfc3339_spelling(text: str, instant: str) -> None:
    assert time_bound(text, "since") == datetime.fromisoformat(instant)


@pytest.mark.parametrize(
    "text",
    [
        "2026-W48-4T09:30:00Z",  # an ISO 8601 week date
        "20261126T093000Z",  # ISO 8601 basic format
        "2026-11-26T09Z",  # no minutes, no seconds
        "2026-11-26T09:30Z",  # no seconds
        "2026-11-26T09:30:00+0100",  # offset without its colon
        "2026-11-26T09:30:00",  # no offset
        "2026-11-26 09:30:00Z",
    ],
)
def test_time_filters_refuse_what_rfc3339_does_not_define(text: str) -> None:
    with pytest.raises(FormatError, match=r"until: .* is not an RFC 3339 date-time"):
        time_bound(text, "until")
