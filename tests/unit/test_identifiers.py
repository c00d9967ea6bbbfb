"""GS1 Digital Link identifiers, spola URNs and unguessable serials."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.identifiers import (
    CSET_82,
    DigitalLink,
    IdentifierError,
    actor_urn,
    gtin_check_digit,
    new_serial,
    normalize_gtin,
)

GS1_EXAMPLE = "09506000134352"  # the GTIN of GS1's own Digital Link examples


@pytest.mark.parametrize(
    ("text", "gtin14"),
    [
        ("09506000134352", "09506000134352"),
        ("9506000134352", "09506000134352"),  # GTIN-13
        ("4006381333931", "04006381333931"),  # GTIN-13 (EAN)
        ("036000291452", "00036000291452"),  # GTIN-12 (UPC-A)
        ("96385074", "00000096385074"),  # GTIN-8
    ],
)
def test_gtins_normalise_to_fourteen_digits(text: str, gtin14: str) -> None:
    assert normalize_gtin(text) == gtin14


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("09506000134353", "check digit 3, expected 2"),
        ("09506000134", "must be 8, 12, 13 or 14 digits"),
        ("0950600013435X", "must be 8, 12, 13 or 14 digits"),
        ("٠٩٥٠٦٠٠٠١٣٤٣٥٢", "must be 8, 12, 13 or 14 digits"),  # Arabic-Indic digits
    ],
)
def test_bad_gtins_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason):
        normalize_gtin(text)


@given(st.text("0123456789", min_size=13, max_size=13))
def test_exactly_one_check_digit_makes_a_valid_gtin(body: str) -> None:
    valid = [d for d in "0123456789" if _is_valid(body + d)]
    assert valid == [str(gtin_check_digit(body))]


def _is_valid(gtin: str) -> bool:
    try:
        normalize_gtin(gtin)
    except IdentifierError:
        return False
    return True


def test_model_batch_and_item_paths() -> None:
    model = DigitalLink.parse(f"https://id.example.com/01/{GS1_EXAMPLE}")
    batch = DigitalLink.parse(f"/01/{GS1_EXAMPLE}/10/ABC123")
    item = DigitalLink.parse(f"https://id.example.com/01/{GS1_EXAMPLE}/10/L1/21/S%2F1?linkType=all")
    assert (model.granularity, batch.granularity, item.granularity) == ("model", "batch", "item")
    assert item == DigitalLink(GS1_EXAMPLE, lot="L1", serial="S/1")
    assert item.path() == f"/01/{GS1_EXAMPLE}/10/L1/21/S%2F1"
    assert item.uri("https://id.example.com/") == f"https://id.example.com{item.path()}"


def test_a_uri_percent_encodes_what_gs1_and_rfc_3986_require() -> None:
    # GS1 Digital Link URI syntax: every CSET 82 character that is not unreserved in RFC 3986
    # is percent-encoded in a URI; the ledger's own spelling keeps most of them as they are.
    link = DigitalLink(GS1_EXAMPLE, lot="A<1>", serial="\"!%&'()*+,/:;=?")
    assert link.path() == f"/01/{GS1_EXAMPLE}/10/A<1>/21/\"!%25%26'()*+,%2F:;=%3F"
    assert link.uri("https://id.example.com") == (
        f"https://id.example.com/01/{GS1_EXAMPLE}/10/A%3C1%3E"
        "/21/%22%21%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3D%3F"
    )
    assert DigitalLink.parse(link.uri("https://id.example.com")) == link
    assert DigitalLink.parse(link.path()) == link


def test_a_resolver_path_prefix_is_allowed() -> None:
    assert DigitalLink.parse(f"https://brand.example/dpp/01/{GS1_EXAMPLE}/21/X").serial == "X"


def test_short_gtins_in_a_path_are_normalised() -> None:
    assert DigitalLink.parse("/01/9506000134352").gtin == GS1_EXAMPLE


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (f"/01/{GS1_EXAMPLE}/21/S1/10/L1", "out of order"),
        (f"/01/{GS1_EXAMPLE}/10/L1/22/V", "out of order"),
        (f"/01/{GS1_EXAMPLE}/10/L1/10/L2", "AI 10 \\(lot\\) is given twice"),
        (f"/01/{GS1_EXAMPLE}/17/261231", "not a key qualifier"),
        (f"/01/{GS1_EXAMPLE}/21", "alternate AI and value"),
        (f"/01/{GS1_EXAMPLE}/21", "AI 21 \\(serial\\) has no value"),
        (f"/01/{GS1_EXAMPLE}/10/L1/21", "AI 21 \\(serial\\) has no value"),
        # A sub-resource the API does not serve (…/local-alternatives misspelled): named.
        (f"/01/{GS1_EXAMPLE}/21/S1/alternatives", "'alternatives' after the last value"),
        (f"/01/{GS1_EXAMPLE}/21/S1/alternatives", "alternate AI and value"),
        (f"/01/{GS1_EXAMPLE}/21/{'A' * 21}", "longer than 20"),
        (f"/01/{GS1_EXAMPLE}/21/caf%C3%A9", "outside GS1 CSET 82"),
        (f"/01/{GS1_EXAMPLE}/21/a%20b", "outside GS1 CSET 82"),
        (f"/01/{GS1_EXAMPLE}/21/%FF", "not UTF-8"),
        (f"/01/{GS1_EXAMPLE}/21/", "empty"),
        (f"/01/{GS1_EXAMPLE}/10/%2E%2E", "cannot stand in a URI path"),
        ("/01/09506000134353", "check digit"),
        ("/gtin/09506000134352", "no /01/"),
    ],
)
def test_bad_digital_links_are_refused_with_the_reason(path: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason):
        DigitalLink.parse(path)


@given(
    st.text(sorted(CSET_82), min_size=1, max_size=20),
    st.text(sorted(CSET_82), min_size=1, max_size=20),
)
def test_every_cset82_value_survives_the_round_trip(lot: str, serial: str) -> None:
    if {lot, serial} & {".", ".."}:
        return
    link = DigitalLink(GS1_EXAMPLE, lot=lot, serial=serial)
    uri = link.uri("https://id.example.com")
    assert DigitalLink.parse(uri) == link
    assert DigitalLink.parse(link.path()) == link
    unreserved = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    assert set(uri.split("/01/", 1)[1]) <= unreserved | set("/%")


def test_serials_are_unguessable_and_valid_gs1_values() -> None:
    serials = {new_serial() for _ in range(1000)}
    assert len(serials) == 1000
    for serial in serials:
        assert len(serial) == 20 and set(serial) <= CSET_82  # 20 base32 chars = 100 >= 96 bits
        DigitalLink(GS1_EXAMPLE, serial=serial)


def test_actor_urns() -> None:
    assert actor_urn("setificio-lariano") == "urn:spola:actor:setificio-lariano"
    with pytest.raises(IdentifierError, match="lowercase letters"):
        actor_urn("Setificio Lariano")
