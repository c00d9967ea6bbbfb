"""passports.labels: every label on the printed sheet scans back to its passport's URI.

Pages are rasterized by PDFium (the engine in Chrome's PDF viewer) and every QR code on them is
decoded by zxing-cpp; the text is read back through PDFium's text layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pypdfium2 as pdfium
import pytest
import zxingcpp

from ledger.errors import FormatError, LimitError
from passports import labels as labels_module
from passports.labels import (
    COLUMNS,
    MAX_LABELS,
    MAX_TEXT_LENGTH,
    ROWS,
    Label,
    label_sheet,
    label_text,
)

PER_PAGE = COLUMNS * ROWS
_DPI = 150
_A4_POINTS = (595.28, 841.89)
_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def _labels(count: int) -> list[Label]:
    return [
        Label(
            uri=f"https://id.example.org/01/09506000134352/21/GXHD2LJAYBSI2WBW{n:04d}",
            product=f"Borsa tote in pelle, modello {n}",
            serial=f"GXHD2LJAYBSI2WBW{n:04d}",
        )
        for n in range(count)
    ]


@dataclass(frozen=True)
class _Page:
    """What a reader gets from one printed page: its size, the codes it scans, its text."""

    size: tuple[float, float]
    barcodes: list[zxingcpp.Barcode]
    text: str


def _read(pdf: bytes) -> list[_Page]:
    document = pdfium.PdfDocument(pdf)
    try:
        return [_read_page(page) for page in document]
    finally:
        document.close()


def _read_page(page: pdfium.PdfPage) -> _Page:
    image = page.render(scale=_DPI / 72, grayscale=True).to_pil()
    barcodes = zxingcpp.read_barcodes(image, formats=_QR)
    text: str = page.get_textpage().get_text_range()
    return _Page(size=page.get_size(), barcodes=barcodes, text=" ".join(text.split()))


@pytest.fixture(scope="module")
def thirty() -> tuple[list[Label], bytes]:
    labels = _labels(30)
    return labels, label_sheet(labels)


def test_every_label_on_every_page_scans_to_its_uri(thirty: tuple[list[Label], bytes]) -> None:
    labels, pdf = thirty
    pages = _read(pdf)
    assert len(pages) == 2
    for number, page in enumerate(pages):
        expected = {label.uri for label in labels[number * PER_PAGE : (number + 1) * PER_PAGE]}
        decoded = [barcode.text for barcode in page.barcodes]
        assert len(decoded) == len(expected)
        assert set(decoded) == expected


def test_label_codes_keep_error_correction_m(thirty: tuple[list[Label], bytes]) -> None:
    page = _read(thirty[1])[0]
    assert {barcode.ec_level for barcode in page.barcodes} == {"M"}


def test_printed_symbol_is_at_least_20_mm_wide(thirty: tuple[list[Label], bytes]) -> None:
    page = _read(thirty[1])[0]
    assert page.barcodes
    for barcode in page.barcodes:
        corners = barcode.position
        width_px = math.dist(
            (corners.top_left.x, corners.top_left.y), (corners.top_right.x, corners.top_right.y)
        )
        assert width_px / _DPI * 25.4 >= 20.0


def test_product_and_serial_are_printed_as_text(thirty: tuple[list[Label], bytes]) -> None:
    labels, pdf = thirty
    last_page = _read(pdf)[-1]
    for label in labels[PER_PAGE:]:
        assert label.product in last_page.text
        assert label.serial in last_page.text


def test_sheet_is_a4_portrait(thirty: tuple[list[Label], bytes]) -> None:
    for page in _read(thirty[1]):
        assert page.size == pytest.approx(_A4_POINTS, abs=0.01)


@pytest.mark.parametrize("count", [1, PER_PAGE, PER_PAGE + 1, 2 * PER_PAGE + 1])
def test_a_page_holds_one_grid_of_labels(count: int) -> None:
    assert len(_read(label_sheet(_labels(count)))) == math.ceil(count / PER_PAGE)


def test_same_labels_give_the_same_bytes() -> None:
    labels = _labels(3)
    assert label_sheet(labels) == label_sheet(labels)


def test_long_product_name_is_cut_with_an_ellipsis_and_keeps_the_serial() -> None:
    name = "Giacca doppiopetto in lana vergine cardata " * 4
    label = Label(uri="https://id.example.org/01/09506000134352", product=name, serial="LOT7")
    page = _read(label_sheet([label, *_labels(2)]))[0]
    assert "\u2026" in page.text
    assert "LOT7" in page.text
    assert len(page.barcodes) == 3  # the codes still scan


def test_densest_symbol_still_scans_from_the_sheet() -> None:
    base = "https://passports.spola.example/01/09506000134352/10/"
    uri = base + "l" * (280 - len(base))
    page = _read(label_sheet([Label(uri=uri, product="Borsa", serial="L1")] * 3))[0]
    assert [barcode.text for barcode in page.barcodes] == [uri] * 3


def test_text_outside_windows_1252_is_folded_not_refused() -> None:
    label = Label(
        uri="https://id.example.org/01/09506000134352/10/A1",
        product="Borsa — Łódź “Ciòccolato”",
        serial="A1",
    )
    page = _read(label_sheet([label]))[0]
    assert "Borsa — ?ódz “Ciòccolato”" in page.text
    assert [barcode.text for barcode in page.barcodes] == [label.uri]


def test_a_product_name_with_breaks_and_invisible_characters_prints_on_one_line() -> None:
    name = "Foulard\tseta\r\nstampata a mano\u2028Como\u00ad\u200d  \u202eLario\x00"
    label = Label(
        uri="https://id.example.org/01/09506000134352/10/A1",
        product=label_text(name),
        serial="A1",
    )
    assert label.product == "Foulard seta stampata a mano Como Lario"
    page = _read(label_sheet([label]))[0]
    assert "Foulard seta stampata a mano Como Lario" in page.text
    assert [barcode.text for barcode in page.barcodes] == [label.uri]


def test_a_product_name_longer_than_a_label_takes_is_cut_not_refused() -> None:
    printed = label_text("Giacca " * 100)
    assert len(printed) == MAX_TEXT_LENGTH and printed.endswith("\u2026")
    assert label_text("\n\u00ad") == "?"  # nothing printable left: still a label


def test_empty_sheet_is_refused() -> None:
    with pytest.raises(FormatError):
        label_sheet([])


def test_more_labels_than_one_run_are_refused() -> None:
    with pytest.raises(LimitError):
        label_sheet(_labels(1) * (MAX_LABELS + 1))


BAD_LABELS = {
    "not_http": ("urn:spola:item:1", "Borsa", "1"),
    "relative_uri": ("/01/09506000134352", "Borsa", "1"),
    "empty_product": ("https://id.example.org/01/09506000134352", "  ", "1"),
    "empty_serial": ("https://id.example.org/01/09506000134352", "Borsa", ""),
    "control_character": ("https://id.example.org/01/09506000134352", "Bor\x00sa", "1"),
    "newline_in_serial": ("https://id.example.org/01/09506000134352", "Borsa", "1\n2"),
    "huge_product": ("https://id.example.org/01/09506000134352", "B" * 201, "1"),
}


@pytest.mark.parametrize("fields", BAD_LABELS.values(), ids=BAD_LABELS.keys())
def test_label_unfit_to_print_is_refused(fields: tuple[str, str, str]) -> None:
    with pytest.raises(FormatError):
        Label(*fields)


def test_codes_made_by_worker_processes_give_the_same_sheet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each QR code costs ~6 ms (all eight masks are tried): a long sheet has its codes made in
    # worker processes, and is the very sheet one process draws.
    labels = _labels(30)
    alone = label_sheet(labels)
    started: list[int] = []
    real = labels_module.ProcessPoolExecutor

    def recording(max_workers: int) -> Any:
        started.append(max_workers)
        return real(max_workers=max_workers)

    monkeypatch.setattr(labels_module, "ProcessPoolExecutor", recording)
    monkeypatch.setattr(labels_module, "PARALLEL_FROM", 10)
    assert label_sheet(labels, jobs=2) == alone
    assert started == [2]
    assert label_sheet(labels[:9], jobs=2) == label_sheet(labels[:9])  # too few: no workers
    assert started == [2]
