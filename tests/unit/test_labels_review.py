"""passports.labels, reviewed as a phone and a brand meet the printed sheet.

A phone reads a QR code on a garment label only if its modules are large enough: GS1 General
Specifications' symbol specification tables set the minimum X-dimension (module width) of a QR code
carrying a GS1 Digital Link URI at 0.396 mm. The label's QR square is fixed, so a long URI makes
smaller modules: the sheet must refuse, saying why, a URI whose code would print below it, and
every code it does print must measure at least that on the page (PDFium renders, zxing-cpp finds
the symbol). Product names in scripts the PDF core fonts lack must print, and the loss must be
said, not left for the brand to find on the printed roll.
"""

from __future__ import annotations

import logging
import math

import pypdfium2 as pdfium
import pytest
import zxingcpp

from ledger.errors import FormatError
from passports.labels import MIN_X_DIMENSION, Label, label_sheet, unprintable
from passports.qr import MAX_URI_LENGTH, QUIET_ZONE, qr_modules, qr_size

_DPI = 300
_BASE = "https://passports.spola.example/01/09506000134352/10/"
_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def _uri(length: int) -> str:
    """A byte-mode URI of ``length`` characters (lower case letters defeat alphanumeric mode)."""
    return _BASE + "l" * (length - len(_BASE))


def _width(n: int) -> int:
    """The drawn symbol's width in modules, quiet zone included, for ``_uri(n)``."""
    return len(qr_modules(_uri(n))) + 2 * QUIET_ZONE


def _densest_printable() -> str:
    """The longest ``_uri`` whose drawn symbol, quiet zone included, fits 30 mm at 0.396 mm a
    module: found by bisection over the lengths (a longer URI never takes a smaller symbol),
    each probe drawn in full."""
    fits, too_long = len(_BASE) + 1, MAX_URI_LENGTH + 1
    assert _width(fits) * 0.396 <= 30
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if _width(middle) * 0.396 <= 30:
            fits = middle
        else:
            too_long = middle
    return _uri(fits)


def test_a_uri_whose_code_would_print_below_gs1_minimum_is_refused_saying_why() -> None:
    too_dense = _uri(len(_densest_printable()) + 1)
    with pytest.raises(FormatError, match=r"X-dimension.*0\.396 mm"):
        Label(uri=too_dense, product="Borsa", serial="L1")
    with pytest.raises(FormatError, match="X-dimension"):
        Label(uri=_uri(MAX_URI_LENGTH), product="Borsa", serial="L1")


def test_every_printed_code_has_modules_at_least_gs1_minimum() -> None:
    short = "https://id.example.org/01/09506000134352/21/GXHD2LJAYBSI2WBWCSGA"
    densest = _densest_printable()
    labels = [Label(uri=uri, product="Borsa", serial="L1") for uri in (short, densest)]
    pdf = label_sheet(labels)
    document = pdfium.PdfDocument(pdf)
    try:
        image = document[0].render(scale=_DPI / 72, grayscale=True).to_pil()
    finally:
        document.close()
    codes = zxingcpp.read_barcodes(image, formats=_QR)
    assert sorted(code.text for code in codes) == sorted([short, densest])
    for code in codes:
        corners = code.position
        side_px = math.dist(
            (corners.top_left.x, corners.top_left.y), (corners.top_right.x, corners.top_right.y)
        )
        modules = len(qr_modules(code.text))
        # The corners are the outer edge of the finder patterns: the symbol's whole width.
        assert side_px / _DPI * 25.4 / modules >= MIN_X_DIMENSION - 0.005, code.text


SCRIPTS = {
    "chinese": "真丝围巾 手工印花",
    "japanese": "シルクスカーフ",
    "arabic": "وشاح حرير",
    "cyrillic": "Шёлковый платок",
    "greek": "Μεταξωτό μαντήλι",
    "devanagari": "रेशमी दुपट्टा",
    "emoji": "Borsa \U0001f45c",
}


@pytest.mark.parametrize("name", SCRIPTS.values(), ids=SCRIPTS.keys())
def test_a_name_the_core_fonts_lack_prints_and_the_loss_is_said(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    uri = "https://id.example.org/01/09506000134352/21/A1"
    label = Label(uri=uri, product=name, serial="A1")
    assert unprintable(name)  # what will not print as written
    with caplog.at_level(logging.WARNING, logger="passports.labels"):
        pdf = label_sheet([label, Label(uri=uri + "2", product="Borsa", serial="A12")])
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0]
        image = page.render(scale=4, grayscale=True).to_pil()
        text = page.get_textpage().get_text_range()
    finally:
        document.close()
    assert sorted(c.text for c in zxingcpp.read_barcodes(image, formats=_QR)) == [uri, uri + "2"]
    assert "A1" in text and "?" in text
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # one line for the sheet, naming the first label concerned
    message = warnings[0].getMessage()
    assert "1 of 2 labels" in message and uri in message


def test_a_sheet_the_core_fonts_print_whole_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    label = Label(
        uri="https://id.example.org/01/09506000134352/21/A1",
        product="Borsa — Ciòccolato “Como” Œuvre",
        serial="A1",
    )
    assert unprintable(label.product) == ""
    with caplog.at_level(logging.WARNING, logger="passports.labels"):
        label_sheet([label])
    assert not caplog.records


@pytest.mark.parametrize("length", [len(_BASE) + 1, 100, 200, 279, 280, 300, MAX_URI_LENGTH])
@pytest.mark.parametrize("upper", [False, True], ids=["byte_mode", "alphanumeric_mode"])
def test_the_size_checked_is_the_size_drawn(length: int, upper: bool) -> None:
    uri = "https://" + _uri(length).removeprefix("https://").upper() if upper else _uri(length)
    assert qr_size(uri) == len(qr_modules(uri))
