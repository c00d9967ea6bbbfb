"""EPCIS 2.0 export: each refusal and guard of the mapping and of the CBV 2.0 event hash.

Every test here stops a mistake someone downstream would see: an event whose ``eventID`` an
auditor recomputing it with GS1's reference implementation cannot reproduce, a party named by
its URN when its profile gives a GLN, a malformed payload that fails with an internal error
instead of saying what is wrong. The HTTP side: tests/integration/test_epcis_refusals_mutation.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.epcis import CONTEXT, actors_named, epcis_document, subject_id, to_epcis_event
from ledger.epcis_hash import canonical_number, namespaces, pre_hash_string
from ledger.errors import FormatError
from tests.epcis_oracle import reference_hashes, reference_prehashes
from tests.unit.test_epcis import (
    ACCEPTED,
    ACTORS,
    DYER,
    HANDOVER,
    MATERIAL,
    MILL,
    lifecycle,
    payload,
    q,
)

CREATED = "2026-11-26T10:00:00.000Z"


def observed(epc: str) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-01-01T00:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc],
        "action": "OBSERVE",
    }


@pytest.mark.parametrize(
    "epc",
    [
        "urn:epc:id:sgtin:0614141.107346.2017",  # 13 digits: a GTIN, a Digital Link
        "urn:epc:id:sgtin:0614141.1234567.1",  # 14 digits: no GTIN, stays as written
        "urn:epc:id:sgtin:0614141.11234.1",  # 12 digits: likewise
        "urn:epc:id:sscc:0614141.12345678901",  # 18 digits: no SSCC
        "urn:epc:id:sgln:0614141.12345.0",  # extension 0: the GLN alone
        "urn:epc:id:sgln:0614141.12345.5",
        "urn:epc:class:lgtin:4012345.012345.998877",
        "https://example.com/01/9506000134352/21/x?y=1",  # 13-digit GTIN, a query string
        "https://example.com/01/09506000134352/22/v/10/L/21/S",  # a CPV, a lot under a serial
        "https://id.gs1.org/01/09506000134352/10/L/21/S",
        "https://example.com/gtin/09506000134352/lot/AB",  # short names
        "https://example.com/01/09506000134352/10/A(B",  # a character no canonical form has
        "https://ex.com/01/095060001343521/21/A",  # 15 digits: no GTIN
    ],
)
def test_identifiers_hash_as_the_reference_canonicalises_them(epc: str) -> None:
    """Rules 17-18: which EPC URIs and Digital Links become canonical Digital Links, and which
    stay as written, decides the event hash another party recomputes."""
    event = observed(epc)
    document = epcis_document([event], CREATED)
    assert pre_hash_string(event, context=CONTEXT) == reference_prehashes(document)[0]


def test_a_malformed_payload_of_an_exported_type_is_a_format_error() -> None:
    broken = {**MATERIAL, "quantity": q("-1")}
    with pytest.raises(FormatError, match=r"^material event: "):
        to_epcis_event(1, broken, ACTORS)


def test_every_party_of_an_event_has_its_profile_read() -> None:
    """The buyer of a sale, the receiver of a handover, the sender a receipt answers: each is
    named by its GLN when its profile gives one, so the store must read their profiles."""
    assert actors_named(lifecycle("sale", to=MILL)) == {DYER, MILL}
    assert actors_named(HANDOVER) == {MILL, DYER}
    assert actors_named(ACCEPTED) == {DYER, MILL}


@pytest.mark.parametrize("text", ["1e999", "-1E400", "1e309"])
def test_a_number_beyond_a_double_stays_as_written(text: str) -> None:
    """Free text (a repair's description) may read as a number no double holds; the reference
    implementation fails on it (docs/formats.md), so the event hash keeps the text rather than
    writing ``inf``, which would give two different texts one hash."""
    assert canonical_number(text) == text
    assert canonical_number("1e308") == str(int(float("1e308")))


@pytest.mark.parametrize("text", ["spola:logIndex", "spola:", "cbv:BizStep-shipping"])
def test_free_text_naming_a_declared_prefix_hashes_as_the_reference_does(text: str) -> None:
    """Rule 15: a value that starts with a prefix of the document's ``@context`` is expanded
    (``spola:x`` is ``urn:spola:ns:epcis:x``), whatever field holds it."""
    events = to_epcis_event(1, lifecycle("repair", description=text), ACTORS)
    document = epcis_document(events, CREATED)
    assert [e["eventID"] for e in events] == reference_hashes(document)


def test_an_empty_business_step_or_disposition_is_left_out_as_the_reference_does() -> None:
    event = observed("urn:spola:lot:seteria:S26-0142") | {"bizStep": "", "disposition": " "}
    document = epcis_document([event], CREATED)
    assert pre_hash_string(event, context=CONTEXT) == reference_prehashes(document)[0]
    assert "BizStep-" not in pre_hash_string(event, context=CONTEXT)


def test_a_place_is_the_facility_named_not_another_with_a_gln() -> None:
    """Of an actor's facilities only one may have a GLN: an event at another is read at that
    other facility, never at the one whose GLN happens to be known."""
    actors = {
        DYER: {"id": DYER, "facilities": [{"id": "main", "gln": "8012345000029"}, {"id": "lab"}]}
    }
    (event,) = to_epcis_event(1, lifecycle("repair", description="x", facility="lab"), actors)
    assert event["readPoint"] == {"id": "urn:spola:facility:tintoria:lab"}
    (event,) = to_epcis_event(1, lifecycle("repair", description="x", facility="main"), actors)
    assert event["readPoint"] == {"id": "https://id.gs1.org/414/8012345000029"}


@pytest.mark.parametrize("kind", ["sale", "rental", "repair", "recycling"])
def test_an_event_without_a_facility_has_no_place(kind: str) -> None:
    """No facility signed, no ``readPoint``: never a made-up ``…:None`` location."""
    extra = {"until": "2027-01-31"} if kind == "rental" else {}
    extra |= {"description": "hem"} if kind == "repair" else {}
    for event in to_epcis_event(1, lifecycle(kind, **extra), ACTORS):
        assert "readPoint" not in event and "bizLocation" not in event, event


@pytest.mark.parametrize("step", ["cbv://x", "gs1://shipping"])
def test_a_uri_whose_scheme_is_a_standard_prefix_is_no_curie(step: str) -> None:
    event = observed("urn:spola:lot:seteria:S26-0142") | {"bizStep": step}
    document = epcis_document([event], CREATED)
    assert pre_hash_string(event, context=CONTEXT) == reference_prehashes(document)[0]
    assert f"bizStep={step}" in pre_hash_string(event, context=CONTEXT)


def test_json_ld_keywords_of_the_context_are_no_prefixes() -> None:
    """``@base`` or ``@vocab`` in a ``@context`` are JSON-LD keywords, not prefixes: a value
    ``@base:y`` stays as written (the reference implementation expands it)."""
    context = [CONTEXT[0], {"spola": "urn:spola:ns:epcis:", "@base": "urn:b:", "@vocab": "urn:v:"}]
    assert namespaces(context) == {"spola": "urn:spola:ns:epcis:"}
    event = observed("urn:spola:lot:seteria:S26-0142") | {"spola:x": "@base:y"}
    assert "{urn:spola:ns:epcis:}x=@base:y" in pre_hash_string(event, context=context)


def test_a_malformed_digital_link_filter_says_which_filter_when_told() -> None:
    bad = "/01/09506000134353/10/X"  # check digit 3, not 2
    with pytest.raises(FormatError, match=r"^GTIN 09506000134353 has check digit 3"):
        subject_id(bad)
    with pytest.raises(FormatError, match=r"^query\.lot: GTIN 09506000134353 has check digit 3"):
        subject_id(bad, "query.lot")
    assert subject_id("https://id.gs1.org/01/09506000134352/10/X", "lot") == (
        "/01/09506000134352/10/X"
    )


def test_a_handover_without_transport_or_distance_has_neither() -> None:
    """A transport is optional, and so is its distance: no ``null`` member, no failure."""
    bare = {k: v for k, v in HANDOVER.items() if k != "transport"}
    (event,) = to_epcis_event(3, bare, ACTORS)
    assert "spola:transportMode" not in event and "spola:distanceKm" not in event
    road = HANDOVER | {"transport": {"mode": "road"}}
    (event,) = to_epcis_event(3, road, ACTORS)
    assert event["spola:transportMode"] == "road" and "spola:distanceKm" not in event


def test_an_accepted_receipt_without_a_facility_lands_where_the_handover_went() -> None:
    """The receiver signed no facility: the goods arrived at the handover's ``to_facility``."""
    fields = {k: v for k, v in ACCEPTED.items() if k != "facility"}
    (event,) = to_epcis_event(4, payload(DYER, fields), ACTORS, handover=HANDOVER)
    assert {"type": "location", "destination": "urn:spola:facility:tintoria:lab"} in event[
        "destinationList"
    ]
    assert "readPoint" not in event


@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_extension_hashes_as_the_reference_does(value: str) -> None:
    """Rule 20: a member with no value is written by its name alone, never ``name=``."""
    event = observed("urn:spola:lot:seteria:S26-0142") | {"spola:x": value}
    event |= {"ilmd": {"spola:y": value}}
    document = epcis_document([event], CREATED)
    assert pre_hash_string(event, context=CONTEXT) == reference_prehashes(document)[0]


@pytest.mark.parametrize(
    "extra",
    [{"quantityList": []}, {"childEPCs": []}, {"readPoint": {}}, {"bizLocation": {}}],
)
def test_an_empty_list_or_place_is_left_out_as_the_reference_does(extra: dict[str, Any]) -> None:
    event = observed("urn:spola:lot:seteria:S26-0142") | extra
    document = epcis_document([event], CREATED)
    assert pre_hash_string(event, context=CONTEXT) == reference_prehashes(document)[0]


@pytest.mark.parametrize("field", ["bizStep", "disposition", "readPoint", "parentID", "spola:x"])
def test_a_null_field_hashes_as_an_absent_one(field: str) -> None:
    """Rule 4: an absent field is left out, and JSON ``null`` is no value (the reference
    writes ``None``; spola's exports never hold a null, which the schema refuses)."""
    event = observed("urn:spola:lot:seteria:S26-0142")
    assert pre_hash_string(event | {field: None}) == pre_hash_string(event)


def test_a_resale_names_no_seller_and_a_sale_names_its_seller() -> None:
    """A resale may be signed by a retailer for a private owner, who is never named: only a
    sale names its signer as the owning party that sells."""
    (resale,) = to_epcis_event(9, lifecycle("resale", to=MILL), ACTORS)
    assert "sourceList" not in resale
    (sale,) = to_epcis_event(9, lifecycle("sale"), ACTORS)
    assert sale["sourceList"] == [{"type": "owning_party", "source": DYER}]


def test_a_rental_names_the_lender_and_the_return_date() -> None:
    (rental,) = to_epcis_event(9, lifecycle("rental", until="2027-01-31"), ACTORS)
    assert rental["sourceList"] == [{"type": "possessing_party", "source": DYER}]
    assert rental["spola:until"] == "2027-01-31"


def test_a_take_back_hands_the_item_to_the_collector_at_its_facility() -> None:
    (taken,) = to_epcis_event(9, lifecycle("take-back", facility="lab"), ACTORS)
    assert taken["destinationList"] == [
        {"type": "owning_party", "destination": DYER},
        {"type": "possessing_party", "destination": DYER},
        {"type": "location", "destination": "urn:spola:facility:tintoria:lab"},
    ]


@pytest.mark.parametrize(
    "text",
    [
        "ftp://example.com/01/09506000134352/21/A",  # not http(s): no Digital Link
        "https://example.com/01/09506000134352/21/A#x",  # a fragment: likewise
        "//example.com/01/09506000134352/21/A",
        "https://example.com/01/09506000134352/21",  # a key without its value
        "https://example.com/01/09506000134352/10/L/21",
        "  hem restitched  ",  # rule 5: trimmed
        " https://example.com/01/9506000134352/21/x ",
        "http://localhost/01/09506000134352/21/A",  # a host without a dot: no Digital Link
        "https://example.com/shop/01/x/01/09506000134352/21/A",  # the first key has no GTIN
        "https://example.com/01/x/01/09506000134352/21/A",
        "https://id.gs1.org/01/09506000134352/shop/00/106141412345678908",
        "https://example.com/401/ABC",  # a key, but no four digits after it
        "https://example.com/8004/0614141ABC",
    ],
)
def test_free_text_that_almost_is_a_digital_link_hashes_as_the_reference_does(text: str) -> None:
    """Any actor writes any text in a repair's description; the hash reads every value as a
    possible identifier and must neither fail (one such event would break the whole export)
    nor canonicalise what the reference leaves alone."""
    events = to_epcis_event(1, lifecycle("repair", description=text), ACTORS)
    document = epcis_document(events, CREATED)
    assert [e["eventID"] for e in events] == reference_hashes(document)


def test_a_repair_carries_its_description() -> None:
    (repair,) = to_epcis_event(9, lifecycle("repair", description="hem restitched"), ACTORS)
    assert repair["spola:description"] == "hem restitched"


def test_a_rental_is_read_at_the_lender_but_the_item_is_not_kept_there() -> None:
    """The rented item leaves: the lender's facility is where the rental was read, never the
    business location the item is at afterwards."""
    (rental,) = to_epcis_event(9, lifecycle("rental", until="2027-01-31", facility="lab"), ACTORS)
    assert rental["readPoint"] == {"id": "urn:spola:facility:tintoria:lab"}
    assert "bizLocation" not in rental
