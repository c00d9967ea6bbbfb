"""The CBV 2.0 event hash: GS1's examples hash as the reference implementation hashes them,
and each canonicalisation rule holds on its own (timestamps, numbers, identifiers).

The official examples carry ``eventID`` values computed by drafts of the algorithm that came
before CBV 2.0's (the reference implementation gives other hashes for them), so they are used
as events to hash, not as known answers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.epcis_hash import (
    canonical_number,
    canonical_timestamp,
    event_hash,
    pre_hash_string,
)
from ledger.epcis_identifiers import canonical_identifier
from tests.epcis_oracle import reference_hashes, reference_prehashes, vectors_dir

EXAMPLES = sorted(p.name for p in (vectors_dir() / "examples").glob("*.jsonld"))


def _example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((vectors_dir() / "examples" / name).read_text())
    # One example redefines `cbvmda`, a protected term of the EPCIS context, which the reference
    # implementation's JSON-LD processor (rightly) refuses; without it the event is the same.
    document["@context"] = [
        c for c in document["@context"] if not (isinstance(c, dict) and "cbvmda" in c)
    ]
    return document


def test_the_shared_examples_are_there() -> None:
    assert len(EXAMPLES) >= 7, vectors_dir()


@pytest.mark.parametrize("name", EXAMPLES)
def test_event_hash_equals_the_reference_on_gs1_examples(name: str) -> None:
    document = _example(name)
    events = document["epcisBody"]["eventList"]
    mine = [pre_hash_string(e, context=document["@context"]) for e in events]
    assert mine == reference_prehashes(document)
    assert [event_hash(e, context=document["@context"]) for e in events] == reference_hashes(
        document
    )


def test_epc_uris_and_digital_links_hash_alike() -> None:
    urns = _example("Example_9.6.4-TransformationEvent.jsonld")["epcisBody"]["eventList"][0]
    links = _example("Example_9.6.4-TransformationEventWithDigitalLink.jsonld")
    assert event_hash(urns) == event_hash(links["epcisBody"]["eventList"][0])


@pytest.mark.parametrize(
    ("given_time", "canonical"),
    [
        ("2026-01-18T11:04:03.1415Z", "2026-01-18T11:04:03.142Z"),  # rule 9's own example
        ("2026-01-18T11:04:03Z", "2026-01-18T11:04:03.000Z"),
        ("2005-04-03T20:33:31.116000-06:00", "2005-04-04T02:33:31.116Z"),
        ("2026-01-18T11:04:03.0005Z", "2026-01-18T11:04:03.001Z"),  # half up, as rule 9 says
        ("2026-12-31T23:59:59.9996Z", "2027-01-01T00:00:00.000Z"),
        ("yesterday", "yesterday"),
        # Instants datetime cannot hold once in UTC and rounded stay as written (they raised).
        ("9999-12-31T23:59:59.9995Z", "9999-12-31T23:59:59.9995Z"),
        ("0001-01-01T00:30:00+01:00", "0001-01-01T00:30:00+01:00"),
    ],
)
def test_timestamps_are_utc_with_milliseconds(given_time: str, canonical: str) -> None:
    assert canonical_timestamp(given_time) == canonical


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        *[("12.50", "12.5"), ("1.0", "1"), ("+3", "3"), ("0.3434", "0.3434"), ("1e2", "100")],
        *[("1_000", "1_000"), ("inf", "inf"), ("S26.01", "S26.01")],  # text, whatever float() says
    ],
)
def test_numbers_lose_trailing_zeros_and_text_stays_text(text: str, canonical: str) -> None:
    assert canonical_number(text) == canonical


@pytest.mark.parametrize(
    ("identifier", "canonical"),
    [
        ("urn:epc:id:sgtin:0614141.107346.2017", "https://id.gs1.org/01/10614141073464/21/2017"),
        (
            "urn:epc:class:lgtin:4012345.012345.998877",
            "https://id.gs1.org/01/04012345123456/10/998877",
        ),
        ("urn:epc:id:sgln:0614141.07346.1234", "https://id.gs1.org/414/0614141073467/254/1234"),
        ("urn:epc:id:sgln:0614141.07346.0", "https://id.gs1.org/414/0614141073467"),
        ("urn:epc:id:sscc:0614141.1234567890", "https://id.gs1.org/00/106141412345678908"),
        (
            "https://brand.example/01/9506000134352/10/L1?x=1",
            "https://id.gs1.org/01/09506000134352/10/L1",
        ),
        (
            "https://id.gs1.org/01/09506000134352/22/V2/10/L1/21/S1",
            "https://id.gs1.org/01/09506000134352/21/S1",
        ),
        (
            "https://id.gs1.org/gtin/09506000134352/ser/S1",
            "https://id.gs1.org/01/09506000134352/21/S1",
        ),
    ],
)
def test_identifiers_become_constrained_canonical_digital_links(
    identifier: str, canonical: str
) -> None:
    assert canonical_identifier(identifier) == canonical


@pytest.mark.parametrize(
    "identifier",
    [
        "urn:spola:lot:seteria:S26-0142",
        "https://id.gs1.org/01/09506000134352/10/A%2FB",
        "https://example.com/about",
        "12.5",
    ],
)
def test_other_identifiers_stay_as_they_are(identifier: str) -> None:
    assert canonical_identifier(identifier) is None
