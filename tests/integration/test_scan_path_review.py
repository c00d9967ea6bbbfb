"""The consumer's scan path, end to end: the printed label's QR code, read by a real decoder, leads
to the passport it was printed for, whatever GS1 character set 82 puts in the serial or lot.

A brand issues passports for items whose serials together hold all 82 characters GS1 allows
(AI 21), two serials that differ only after a ``?`` (``Q`` and ``Q?1``), and a batch whose lot is
20 characters that must each be percent-encoded. Its labels are printed as ``spola labels``
prints them, rasterized by PDFium and decoded by zxing-cpp; each decoded text is then requested
from the resolver, which must answer the passport whose own URI is exactly that text. The
resolver's answers to odd requests a phone or a GS1 client may send (a trailing slash, an
escaped ``#``, the GS1-Conformant Resolver's link type spellings) are checked on the same site.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp

from ledger.identifiers import CSET_82, QUALIFIER_MAX, DigitalLink
from tests.integration.api_support import Api, assert_problem, running_api
from tests.integration.test_cli import Operator, _one_line_error
from tests.supply import item, make, material, passport, process, take

pytestmark = pytest.mark.integration

GTIN = "08000000001016"
_ALL = "".join(sorted(CSET_82))
# Every CSET 82 character in some serial, 20 at a time ("." and ".." alone cannot be a segment).
SERIALS = [_ALL[i : i + QUALIFIER_MAX] for i in range(0, len(_ALL), QUALIFIER_MAX)]
# Two items whose serials differ only after a '?', a lone '?', and a serial that reads like an
# escape: each label must open its own passport.
SERIALS += ["Q", "Q?1", "?", "%231"]
# The longest lot, every character percent-encoded in the URI (three bytes each).
LOT = ('"%&<>?/' * 3)[:QUALIFIER_MAX]
ITEMS = [DigitalLink(GTIN, serial=s) for s in SERIALS]
BATCH = DigitalLink(GTIN, lot=LOT)
SUBJECTS = [*ITEMS, BATCH]
LINKSET = {"Accept": "application/linkset+json"}


def silk_passports(
    api: Api, items: Sequence[DigitalLink], batch: DigitalLink, name: Callable[[DigitalLink], str]
) -> None:
    """A brand in Como, ``maison``, makes ``batch`` and ``items`` from one silk lot and issues a
    passport for each of them and for the batch, ``name`` naming its product."""
    works = {"id": "main", "name": "Opificio", "town": "Como", "region": "Lombardia",
             "country": "IT", "lat": "45.8081", "lon": "9.0852"}  # fmt: skip
    brand = api.enrol("maison", name="Maison", roles=["supplier", "brand"], facilities=[works])
    silk = "urn:spola:lot:maison:S1"
    pieces = [item(link.path()) for link in items]
    made = process([take(silk, "20")], outputs=[make(batch.path(), "10")], items=pieces)
    events = [material(silk, "100"), made]
    events += [passport(link.path(), name(link)) for link in [*items, batch]]
    for event in events:
        (receipt,) = api.accept([brand.sign(event)])
        assert receipt["applied"], receipt["violation"]


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """The app over one brand's passports for ``ITEMS`` and ``BATCH``."""
    with running_api(database_url, tmp_path / "home") as api:
        silk_passports(api, ITEMS, BATCH, _name)
        yield api


def _name(link: DigitalLink) -> str:
    """The product name of ``link``'s passport: the batch's is in Chinese, as a brand selling in
    China may register it."""
    return f"Foulard {link.serial}" if link.serial is not None else f"真丝围巾 {link.lot}"


def _operator(api: Api, tmp_path: Path) -> Operator:
    """The operator's CLI on the site's home and database."""
    return Operator(api.settings.home, api.settings.database_url, tmp_path, [])


def _scanned(pdf: Path) -> list[str]:
    """The text of every QR code on the sheet, as a phone's decoder reads it."""
    found: list[str] = []
    for page in pdfium.PdfDocument(pdf):
        image = page.render(scale=4, grayscale=True).to_pil()
        found += [code.text for code in zxingcpp.read_barcodes(image)]
    return found


def _anchor(api: Api, uri: str) -> str:
    """The URI of the passport the resolver answers for ``uri`` (the linkset's anchor)."""
    path = uri.removeprefix(api.settings.public_base_url)
    response = api.client.get(path, headers=LINKSET)
    assert response.status_code == 200, (uri, response.text)
    anchor: str = response.json()["linkset"][0]["anchor"]
    return anchor


def test_every_label_scans_to_the_passport_it_was_printed_for(site: Api, tmp_path: Path) -> None:
    out = tmp_path / "labels.pdf"
    run = _operator(site, tmp_path).spola("labels", "--out", str(out))
    assert run.code == 0, run
    scanned = _scanned(out)
    base = site.settings.public_base_url
    assert sorted(scanned) == sorted(link.uri(base) for link in SUBJECTS)
    for uri in scanned:
        assert _anchor(site, uri) == uri
    # The batch's name cannot be set in the PDF core fonts: the brand is told, in one line.
    # (The other line on stderr says the test's base URL is not one a phone reaches.)
    (warning,) = [line for line in run.stderr.splitlines() if "PUBLIC_BASE_URL" not in line]
    assert f"1 of {len(SUBJECTS)} labels" in warning and BATCH.uri(base) in warning


def test_labels_too_dense_for_a_phone_are_refused_in_one_line(site: Api, tmp_path: Path) -> None:
    # A long base URL makes every code denser: at about 300 characters the label's modules would
    # fall under GS1's minimum X-dimension.
    base = "https://passports.maison.example/" + "p" * 240
    out = tmp_path / "dense.pdf"
    run = _operator(site, tmp_path).spola_with(
        {"SPOLA_PUBLIC_BASE_URL": base}, "labels", "--out", str(out)
    )
    _one_line_error(run, "X-dimension", "0.396 mm")
    assert not out.exists()


def test_a_serial_with_a_question_mark_is_not_read_as_its_prefix(site: Api) -> None:
    for serial in ["Q?1", "?"]:
        uri = DigitalLink(GTIN, serial=serial).uri(site.settings.public_base_url)
        assert _anchor(site, uri) == uri
    # The ledger's own spelling of the path, as events write it, names the same item.
    page = site.client.get(DigitalLink(GTIN, serial="Q?1").path(), headers=LINKSET)
    assert page.json()["linkset"][0]["anchor"].endswith("/21/Q%3F1")


def test_the_passport_api_reads_a_question_mark_as_the_serials_own(site: Api) -> None:
    # The JSON route, the QR codes and the bundle take the same path as the resolver: the
    # serial 'Q?1' is /21/Q%3F1 there too, never the passport of 'Q'.
    for serial in ["Q?1", "?"]:
        link = DigitalLink(GTIN, serial=serial)
        path = link.uri("").removeprefix("/")
        answer = site.client.get(f"/v1/passports/{path}")
        assert answer.status_code == 200, answer.text
        assert _name(link) in answer.text and answer.json()["subject"] == link.path()
        qr = site.client.get(f"/v1/passports/{path}/qr.svg")
        assert qr.status_code == 200, qr.text
    hashed = site.client.get(f"/v1/passports/01/{GTIN}/21/Q%23x")
    assert_problem(hashed, 400, "bad-request", "outside GS1 CSET 82", "'#'")


def test_an_escaped_hash_is_refused_not_cut_off(site: Api) -> None:
    # 'Q%23x' is the serial 'Q#x', outside CSET 82: it must not open the passport of 'Q'.
    for path in [f"/01/{GTIN}/21/Q%23x", f"/01/{GTIN}/10/L%231/21/Q"]:
        answer = site.client.get(path, headers=LINKSET)
        assert_problem(answer, 400, "bad-identifier", "outside GS1 CSET 82", "'#'")


def test_a_trailing_slash_opens_the_same_passport(site: Api) -> None:
    uri = ITEMS[0].uri(site.settings.public_base_url)
    assert _anchor(site, uri + "/") == uri
    page = site.client.get(uri.removeprefix(site.settings.public_base_url) + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # An empty value is still said to be empty, not hidden by the slash.
    json = {"Accept": "application/json"}  # a browser is refused with a page
    empty = site.client.get(f"/01/{GTIN}/21/", headers=json)
    assert_problem(empty, 400, "bad-identifier", "is empty")
    assert_problem(site.client.get(f"/01/{GTIN}/21//", headers=json), 400, "bad-identifier")


def test_gs1_link_type_spellings_are_understood(site: Api) -> None:
    base = site.settings.public_base_url
    uri = ITEMS[0].uri(base)
    path = uri.removeprefix(base)
    # GS1-Conformant Resolver: 'linkset' asks for the linkset ('all' is its older name) ...
    answer = site.client.get(path, params={"linkType": "linkset"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/linkset+json"
    assert answer.json()["linkset"][0]["anchor"] == uri
    # ... and a link type may be written as its full GS1 Web Vocabulary URI.
    for full, target in [
        ("https://gs1.org/voc/pip", uri),
        ("https://gs1.org/voc/sustainabilityInfo", f"{base}/v1/passports{path}"),
    ]:
        answer = site.client.get(path, params={"linkType": full}, follow_redirects=False)
        assert answer.status_code == 307, answer.text
        assert answer.headers["location"] == target


@pytest.mark.parametrize(
    "link_type", ["gs1:recallStatus", "", "https://gs1.org/voc/", "http://gs1.org/voc/pip"]
)
def test_a_link_type_not_served_is_named_in_the_refusal(site: Api, link_type: str) -> None:
    path = ITEMS[0].uri(site.settings.public_base_url).removeprefix(site.settings.public_base_url)
    answer = site.client.get(
        path, params={"linkType": link_type}, headers={"Accept": "application/json"},
        follow_redirects=False,
    )  # fmt: skip
    assert "location" not in answer.headers
    assert_problem(answer, 404, "not-found", f"linkType {link_type!r} is not served", "gs1:pip")
