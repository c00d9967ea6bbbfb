"""Printable label sheets: passport labels in, an A4 PDF out.

This module owns the sheet: the grid (3 columns by 8 rows on A4 portrait, a page per 24
labels), and what each label shows: the passport's QR code, drawn as vector modules with its
quiet zone kept clear, the product name and the serial (or lot) in text, inside a light grey
outline to cut along. The QR symbol itself
comes from ``passports.qr``; writing the file is the CLI's business. Same labels, same bytes: the
PDF carries a fixed creation date.

Each QR code is printed with modules of at least GS1's minimum X-dimension (``MIN_X_DIMENSION``),
so a phone reads it from the garment: a URI too long for that in the label's square is refused,
saying so, rather than printed too fine.

Text is set in the PDF core fonts, which carry Windows-1252 only; characters outside it are
folded to their unaccented letter, or shown as ``?``. A sheet where that happens logs one
warning naming how many labels it concerns and the first of them (``unprintable`` says which
characters of a text are lost).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from fpdf import FPDF

from ledger.errors import FormatError, LimitError
from passports.qr import QUIET_ZONE, dark_runs, qr_modules, qr_size, verify_qr_uri

Modules = tuple[tuple[bool, ...], ...]  # a QR symbol's modules, dark as True (passports.qr)

logger = logging.getLogger(__name__)

__all__ = [
    "COLUMNS",
    "MAX_LABELS",
    "MAX_TEXT_LENGTH",
    "MIN_X_DIMENSION",
    "ROWS",
    "Label",
    "label_sheet",
    "label_text",
    "unprintable",
]

COLUMNS = 3
ROWS = 8
# 10 000 labels are 417 pages; a larger run is printed in batches.
MAX_LABELS = 10_000
# From this many labels on, worker processes make the QR codes (starting them costs more than
# a few codes); each is handed this many at a time.
PARALLEL_FROM = 200
_CHUNK = 32
MAX_TEXT_LENGTH = 200
# GS1 General Specifications, symbol specification tables: the smallest module (X-dimension), in
# mm, of a QR code carrying a GS1 Digital Link URI, read by a consumer's phone or a scanner.
MIN_X_DIMENSION = 0.396

# Geometry in millimetres. A4 is 210 x 297; the margins leave room for a printer's unprintable
# edge, and a 66 x 34 mm cell for each label.
_PAGE_WIDTH, _PAGE_HEIGHT = 210.0, 297.0
_MARGIN_X, _MARGIN_Y = 6.0, 12.5
_CELL_WIDTH = (_PAGE_WIDTH - 2 * _MARGIN_X) / COLUMNS
_CELL_HEIGHT = (_PAGE_HEIGHT - 2 * _MARGIN_Y) / ROWS
_PADDING = 2.0
# The QR code with its quiet zone: 30 mm takes 75 modules of MIN_X_DIMENSION, so a symbol of
# at most 67 modules (version 12: about 280 characters of URI), 21.7 to 26.0 mm wide.
_QR_BOX = 30.0
_MAX_MODULES = int(_QR_BOX / MIN_X_DIMENSION) - 2 * QUIET_ZONE
_TEXT_X = _PADDING + _QR_BOX + 1.0
_TEXT_WIDTH = _CELL_WIDTH - _TEXT_X - _PADDING
_PRODUCT_FONT, _PRODUCT_SIZE, _PRODUCT_LINES = ("Helvetica", 8.0, 4)
_SERIAL_FONT, _SERIAL_SIZE, _SERIAL_LINES = ("Courier", 7.0, 2)
_LINE_SPACING = 1.25
_PT = 25.4 / 72
_GUIDE_GREY = 210

# The core fonts' encoding, and the creation date that keeps the output reproducible.
_ENCODING = "cp1252"
_CREATED = datetime(2000, 1, 1, tzinfo=UTC)
_ELLIPSIS = "\u2026"
# Character widths in mm by (family, style, size): the core fonts' 256 characters at most.
_WIDTHS: dict[tuple[str, str, float], dict[str, float]] = {}


def _check_text(name: str, text: str) -> None:
    if not text.strip():
        raise FormatError(f"label {name} is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise FormatError(f"label {name} is {len(text)} characters; at most {MAX_TEXT_LENGTH}")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise FormatError(f"label {name} contains control or unassigned characters")


def _check_density(uri: str) -> None:
    """Refuse ``uri`` if its QR code, in the label's square, would have modules under GS1's
    minimum X-dimension: a phone could not be counted on to read it."""
    modules = qr_size(uri)
    if modules > _MAX_MODULES:
        module = _QR_BOX / (modules + 2 * QUIET_ZONE)
        raise FormatError(
            f"label URI of {len(uri)} characters needs a QR code of {modules} modules: on the "
            f"{_QR_BOX:.0f} mm label each would be {module:.3f} mm, under GS1's minimum "
            f"X-dimension of {MIN_X_DIMENSION} mm; shorten the URI (its base URL)"
        )


def label_text(text: str) -> str:
    """``text`` as one printable line for a label: line breaks, tabs and other control
    characters become spaces, invisible format characters (a soft hyphen, a zero-width joiner,
    a bidi mark) are dropped, runs of spaces are one, and a text longer than a label takes is
    cut with an ellipsis. A product name the ledger holds may carry any of these; one of them
    must not keep a whole sheet from printing."""
    out: list[str] = []
    for ch in text:
        kind = unicodedata.category(ch)
        if kind == "Cf":
            continue
        out.append(" " if kind in ("Cc", "Zl", "Zp") else "?" if kind[0] == "C" else ch)
    line = " ".join("".join(out).split())
    if len(line) > MAX_TEXT_LENGTH:
        line = line[: MAX_TEXT_LENGTH - 1].rstrip() + _ELLIPSIS
    return line or "?"


@dataclass(frozen=True, slots=True)
class Label:
    """One passport label: the URI its QR code encodes, the product name and the serial or lot."""

    uri: str
    product: str
    serial: str

    def __post_init__(self) -> None:
        verify_qr_uri(self.uri)
        _check_density(self.uri)
        _check_text("product", self.product)
        _check_text("serial", self.serial)


def _printable(text: str) -> str:
    """``text`` in Windows-1252: other characters folded to their base letter, else ``?``.

    Composed first (NFC), so an accent typed as a combining mark joins its letter (``a`` and
    U+0300 print as ``à``); a combining mark with no composed form is dropped, not a ``?``."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            ch.encode(_ENCODING)
            out.append(ch)
        except UnicodeEncodeError:
            folded = unicodedata.normalize("NFKD", ch).encode(_ENCODING, "ignore").decode(_ENCODING)
            out.append(folded or ("" if unicodedata.category(ch) == "Mn" else "?"))
    return "".join(out)


def unprintable(text: str) -> str:
    """The characters of ``text`` a label cannot show as written: each that prints as ``?`` or
    not at all, once, in order of appearance (letters folded to their unaccented form are not
    among them)."""
    lost: dict[str, None] = {}
    for ch in unicodedata.normalize("NFC", text):
        if _printable(ch) in ("", "?") and ch != "?":
            lost[ch] = None
    return "".join(lost)


def _draw_qr(pdf: FPDF, modules: Modules, x: float, y: float) -> None:
    """The symbol in a ``_QR_BOX`` square at (x, y), its quiet zone left blank."""
    module = _QR_BOX / (len(modules) + 2 * QUIET_ZONE)
    origin_x, origin_y = x + QUIET_ZONE * module, y + QUIET_ZONE * module
    pdf.set_fill_color(0)
    for row, column, length in dark_runs(modules):
        pdf.rect(
            origin_x + column * module,
            origin_y + row * module,
            length * module,
            module,
            style="F",
        )


def _width(pdf: FPDF, text: str) -> float:
    """``text``'s width in the current font: the sum of its characters' widths, as the core
    fonts (no kerning, no shaping) measure it. Each character is measured by fpdf2 once per
    font and size, so a sheet of thousands of long names is not thousands of calls per label."""
    table = _WIDTHS.setdefault((pdf.font_family, pdf.font_style, pdf.font_size_pt), {})
    total = 0.0
    for ch in text:
        width = table.get(ch)
        if width is None:
            width = table[ch] = pdf.get_string_width(ch)
        total += width
    return total


def _break_word(pdf: FPDF, word: str) -> list[str]:
    """``word`` cut into pieces that each fit the text column."""
    pieces = [""]
    used = 0.0
    for ch in word:
        width = _width(pdf, ch)
        if pieces[-1] and used + width > _TEXT_WIDTH:
            pieces.append("")
            used = 0.0
        pieces[-1] += ch
        used += width
    return pieces


def _wrap(pdf: FPDF, text: str, *, by_word: bool) -> list[str]:
    """Greedy line breaking in the current font: at spaces, or anywhere if ``by_word`` is off."""
    words = text.split() if by_word else [" ".join(text.split())]
    lines: list[str] = []
    for word in words:
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and _width(pdf, candidate) <= _TEXT_WIDTH:
            lines[-1] = candidate
        else:
            lines.extend(_break_word(pdf, word))
    return lines


def _draw_text(
    pdf: FPDF, text: str, x: float, y: float, *, font: str, size: float, lines: int
) -> float:
    """``text`` wrapped to the text column, at most ``lines`` lines; returns the y below it."""
    pdf.set_font(font, size=size)
    height = size * _PT * _LINE_SPACING
    wrapped = _wrap(pdf, _printable(text), by_word=font != _SERIAL_FONT)
    if len(wrapped) > lines:
        last = wrapped[lines - 1]
        while last and _width(pdf, last + _ELLIPSIS) > _TEXT_WIDTH:
            last = last[:-1]
        wrapped = [*wrapped[: lines - 1], last.rstrip() + _ELLIPSIS]
    for line in wrapped:
        pdf.set_xy(x, y)
        pdf.cell(_TEXT_WIDTH, height, line)
        y += height
    return y


def _draw_label(pdf: FPDF, label: Label, modules: Modules, x: float, y: float) -> None:
    pdf.set_draw_color(_GUIDE_GREY)
    pdf.rect(x, y, _CELL_WIDTH, _CELL_HEIGHT)
    _draw_qr(pdf, modules, x + _PADDING, y + (_CELL_HEIGHT - _QR_BOX) / 2)
    text_x = x + _TEXT_X
    below = _draw_text(
        pdf,
        label.product,
        text_x,
        y + _PADDING + 1.0,
        font=_PRODUCT_FONT,
        size=_PRODUCT_SIZE,
        lines=_PRODUCT_LINES,
    )
    _draw_text(
        pdf,
        label.serial,
        text_x,
        below + 1.0,
        font=_SERIAL_FONT,
        size=_SERIAL_SIZE,
        lines=_SERIAL_LINES,
    )


def _warn_unprintable(labels: Sequence[Label]) -> None:
    """One warning for the sheet if any label's text loses characters in the core fonts."""
    lossy = [
        (label, lost)
        for label in labels
        if (lost := unprintable(label.product) + unprintable(label.serial))
    ]
    if lossy:
        first, lost = lossy[0]
        logger.warning(
            "%d of %d labels have characters the PDF core fonts cannot print (shown as '?' or "
            "left out): the first is %s (%r)",
            len(lossy),
            len(labels),
            first.uri,
            lost[:8],
        )


def _new_document() -> FPDF:
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.core_fonts_encoding = _ENCODING
    pdf.set_creation_date(_CREATED)
    pdf.set_title("Product passport labels")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(0, 0)
    pdf.c_margin = 0
    pdf.set_line_width(0.1)
    return pdf


def _codes(uris: Sequence[str], jobs: int) -> Iterator[Modules]:
    """Each URI's QR modules, in order: made by ``jobs`` worker processes for a long sheet
    (each code costs milliseconds: the library tries all eight masks), else here."""
    if jobs <= 1 or len(uris) < PARALLEL_FROM:
        yield from map(qr_modules, uris)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(qr_modules, uris, chunksize=_CHUNK)


def label_sheet(
    labels: Sequence[Label],
    progress: Callable[[int, int], None] | None = None,
    *,
    jobs: int = 1,
) -> bytes:
    """A PDF of ``labels`` on A4 sheets, row by row, a new page after every ``COLUMNS * ROWS``;
    ``progress(done, total)`` is called after each label drawn. ``jobs`` worker processes
    make the QR codes of a sheet of ``PARALLEL_FROM`` labels or more; the PDF is the same."""
    if not labels:
        raise FormatError("no labels to print")
    if len(labels) > MAX_LABELS:
        raise LimitError(f"{len(labels)} labels; at most {MAX_LABELS} in one sheet")
    _warn_unprintable(labels)
    pdf = _new_document()
    per_page = COLUMNS * ROWS
    codes = _codes([label.uri for label in labels], jobs)
    for index, (label, modules) in enumerate(zip(labels, codes, strict=True)):
        slot = index % per_page
        if slot == 0:
            pdf.add_page()
        row, column = divmod(slot, COLUMNS)
        x, y = _MARGIN_X + column * _CELL_WIDTH, _MARGIN_Y + row * _CELL_HEIGHT
        _draw_label(pdf, label, modules, x, y)
        if progress is not None:
            progress(index + 1, len(labels))
    return bytes(pdf.output())
