"""EPCIS 2.0 export, review findings: the mapping and the CBV 2.0 event hash on their own.

The HTTP side of the same findings, on both engines: tests/integration/test_epcis_review.py.
"""

from __future__ import annotations

import pytest

from ledger.epcis import epc, epcis_document, to_epcis_event
from ledger.epcis_identifiers import GS1_RESOLVER, canonical_identifier
from ledger.identifiers import DigitalLink
from tests.epcis_oracle import reference_hashes, schema_errors
from tests.unit.test_epcis import ACTORS, CREATED, lifecycle

BROKEN_URLS = [
    "http://[fornitore].it/reclamo/42",  # brackets that hold no IPv6 address
    "https://[2001:db8::1/foto.jpg",  # an unclosed bracket
    "https://fornitore.it\uff03reclamo",  # a netloc that NFKC turns into a '#'
]


@pytest.mark.parametrize("text", BROKEN_URLS)
def test_text_that_urlsplit_refuses_is_no_identifier(text: str) -> None:
    assert canonical_identifier(text) is None


@pytest.mark.parametrize("text", BROKEN_URLS)
def test_free_text_that_urlsplit_refuses_hashes_as_the_reference_does(text: str) -> None:
    events = to_epcis_event(1, lifecycle("repair", description=text), ACTORS)
    document = epcis_document(events, CREATED)
    assert schema_errors(document) == []
    assert [e["eventID"] for e in events] == reference_hashes(document)


@pytest.mark.parametrize(
    "path",
    [
        "/01/09506000134352/10/L+1(a):b'c;d=e!f*g,h",
        '/01/09506000134352/21/Q"<x>%26y%2Fz%3F',
        "/01/09506000134352/10/S26.01_A-B",
    ],
)
def test_a_digital_link_is_exported_as_the_gs1_digital_link_uri(path: str) -> None:
    """GS1 Digital Link 1.2 grammar: only digits, letters, '-', '.', '_' stay as they are."""
    assert epc(path) == DigitalLink.parse(path).uri(GS1_RESOLVER)
    assert DigitalLink.parse(epc(path)).path() == path
