"""passports.qr: what a phone reads back from the PNG and the SVG is the URI, exactly.

The oracle is a real decoder (zxing-cpp); the SVG is rasterized by resvg first, as a browser
would draw it.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
import resvg_py
import zxingcpp
from PIL import Image

from ledger.errors import FormatError, LimitError
from passports.qr import (
    MAX_SCALE,
    MAX_URI_LENGTH,
    QUIET_ZONE,
    qr_modules,
    qr_png,
    qr_svg,
    verify_qr_uri,
)

ITEM = "https://id.example.org/01/09506000134352/21/GXHD2LJAYBSI2WBWCSGA"
_BASE = "https://passports.spola.example/01/09506000134352/10/"
URIS = [
    ITEM,
    "https://id.example.org/01/09506000134352",
    "https://id.example.org/01/09506000134352/10/LOT-2026%2F11",
    "https://id.example.org/01/09506000134352/21/A1?linkType=all&lang=it",
    "http://localhost:8000/01/09506000134352/21/x",
    # The longest URI accepted: alphanumeric mode (version 15), byte mode (version 18).
    _BASE + "L" * (MAX_URI_LENGTH - len(_BASE)),
    _BASE + "l" * (MAX_URI_LENGTH - len(_BASE)),
]
_SVG = "{http://www.w3.org/2000/svg}"
_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def _decode(image: Image.Image) -> zxingcpp.Barcode:
    """The one QR code in ``image``; fails if there is none or more than one."""
    found = zxingcpp.read_barcodes(image.convert("L"), formats=_QR)
    assert len(found) == 1, f"expected one QR code, decoded {len(found)}"
    return found[0]


def _png_image(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png))


def _rasterize(svg: bytes) -> Image.Image:
    return Image.open(io.BytesIO(resvg_py.svg_to_bytes(svg_string=svg.decode("utf-8"))))


@pytest.mark.parametrize("uri", URIS)
def test_png_decodes_to_the_exact_uri(uri: str) -> None:
    assert _decode(_png_image(qr_png(uri))).text == uri


@pytest.mark.parametrize("uri", URIS)
def test_rasterized_svg_decodes_to_the_exact_uri(uri: str) -> None:
    assert _decode(_rasterize(qr_svg(uri))).text == uri


def test_decoded_uri_is_byte_for_byte_the_input() -> None:
    barcode = _decode(_png_image(qr_png(ITEM)))
    assert barcode.bytes == ITEM.encode("ascii")


@pytest.mark.parametrize("render", [qr_png, qr_svg], ids=["png", "svg"])
def test_error_correction_is_level_m(render: Callable[[str], bytes]) -> None:
    image = _png_image(render(ITEM)) if render is qr_png else _rasterize(render(ITEM))
    assert _decode(image).ec_level == "M"


def test_png_has_one_module_per_scale_pixels_and_the_quiet_zone() -> None:
    scale = 5
    image = _png_image(qr_png(ITEM, scale=scale)).convert("L")
    size = len(qr_modules(ITEM)) + 2 * QUIET_ZONE
    assert image.size == (size * scale, size * scale)
    margin = QUIET_ZONE * scale
    pixels = image.load()
    assert pixels is not None
    edge = size * scale
    border = [
        pixels[x, y]
        for x in range(edge)
        for y in range(edge)
        if min(x, y) < margin or max(x, y) >= edge - margin
    ]
    assert set(border) == {255}, "quiet zone is not all white"
    # The top-left finder pattern starts right where the quiet zone ends.
    assert pixels[margin, margin] == 0


def test_svg_quiet_zone_is_painted_white_not_transparent() -> None:
    image = _rasterize(qr_svg(ITEM)).convert("RGBA")
    module = image.width // (len(qr_modules(ITEM)) + 2 * QUIET_ZONE)
    for x, y in [(0, 0), (image.width - 1, image.height - 1), (QUIET_ZONE * module - 1, 0)]:
        assert image.getpixel((x, y)) == (255, 255, 255, 255)
    assert image.getpixel((QUIET_ZONE * module, QUIET_ZONE * module)) == (0, 0, 0, 255)


def test_svg_is_standalone_accessible_and_one_path() -> None:
    uri = "https://id.example.org/01/09506000134352/21/A1?linkType=all&lang=it"
    root = ET.fromstring(qr_svg(uri))
    size = len(qr_modules(uri)) + 2 * QUIET_ZONE
    assert root.tag == f"{_SVG}svg"
    assert root.get("role") == "img"
    assert root.get("viewBox") == f"0 0 {size} {size}"
    assert root.get("width") == root.get("height") == str(size * 8)
    title = root.find(f"{_SVG}title")
    assert title is not None and title.text is not None and uri in title.text
    assert len(root.findall(f"{_SVG}path")) == 1
    assert len(root.findall(f"{_SVG}rect")) == 1  # the background only: modules are the path


def test_svg_stays_compact() -> None:
    assert len(qr_svg(ITEM)) < 8_000


@pytest.mark.parametrize("render", [qr_png, qr_svg], ids=["png", "svg"])
def test_same_uri_gives_the_same_bytes(render: Callable[[str], bytes]) -> None:
    assert render(ITEM) == render(ITEM)


def test_different_uris_give_different_symbols() -> None:
    other = ITEM[:-1] + "B"
    assert qr_modules(ITEM) != qr_modules(other)
    assert _decode(_png_image(qr_png(other))).text != ITEM


BAD_URIS = {
    "empty": "",
    "relative": "/01/09506000134352",
    "scheme_relative": "//id.example.org/01/09506000134352",
    "urn": "urn:spola:item:GXHD2LJAYBSI2WBWCSGA",
    "ftp": "ftp://id.example.org/01/09506000134352",
    "javascript": "javascript:alert(1)",
    "no_host": "https:///01/09506000134352",
    "space": "https://id.example.org/01/0950 6000134352",
    "newline": "https://id.example.org/01/09506000134352\n",
    "non_ascii": "https://id.example.org/01/09506000134352/10/caffè",
    "bad_port": "https://id.example.org:99999999999/01",
    "too_long": _BASE + "L" * (MAX_URI_LENGTH - len(_BASE) + 1),
}


@pytest.mark.parametrize("uri", BAD_URIS.values(), ids=BAD_URIS.keys())
@pytest.mark.parametrize("render", [qr_png, qr_svg, qr_modules, verify_qr_uri])
def test_uri_unfit_for_a_passport_qr_is_refused(render: Callable[[str], object], uri: str) -> None:
    with pytest.raises(FormatError):
        render(uri)


@pytest.mark.parametrize("scale", [0, -1, MAX_SCALE + 1])
def test_png_scale_out_of_bounds_is_refused(scale: int) -> None:
    with pytest.raises(LimitError):
        qr_png(ITEM, scale=scale)
