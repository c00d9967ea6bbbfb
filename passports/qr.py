"""QR codes for product passports: a passport's URI in, PNG or SVG bytes out.

This module owns the symbol: which URIs may be encoded, the error-correction level, the quiet
zone and the two renderings (PNG for labels and downloads, SVG for the web). It does no I/O and
knows nothing of passports themselves: the caller builds the uncompressed GS1 Digital Link URI on
the public base URL and hands it over. HTTP lives in ``api/``; the printable sheet in
``passports.labels``, which draws the modules from ``qr_modules``.

The symbol follows ISO/IEC 18004: error correction level M (about 15 % of the codewords
recoverable, enough for a scuffed label), a quiet zone of four modules on every side (section
6.3.8), the smallest version that fits. The same URI always yields the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from functools import lru_cache
from urllib.parse import urlsplit
from xml.sax.saxutils import escape  # nosec B406 # escapes what we write; parses no XML

import qrcode
from qrcode.image.pure import PyPNGImage

from ledger.errors import FormatError, LimitError

__all__ = [
    "MAX_SCALE",
    "MAX_URI_LENGTH",
    "QUIET_ZONE",
    "qr_modules",
    "qr_png",
    "qr_size",
    "qr_svg",
    "verify_qr_uri",
]

# A Digital Link URI is well under 100 characters; 512 leaves room for a long base URL and still
# fits a version-18 symbol, which a phone reads from a screen. A printed label takes fewer: its
# square keeps modules of GS1's minimum size only up to version 12 (``passports.labels``).
MAX_URI_LENGTH = 512
# ISO/IEC 18004 section 6.3.8: four light modules around the symbol.
QUIET_ZONE = 4
# Pixels per module in the PNG: 8 reads well on screens; 32 is a poster.
MAX_SCALE = 32
# Pixels per module of the SVG's intrinsic size (it scales freely; this is only its default).
_SVG_PIXELS_PER_MODULE = 8

_ALLOWED_SCHEMES = ("http", "https")


def verify_qr_uri(uri: str) -> None:
    """Raise ``FormatError`` unless ``uri`` is an absolute http(s) URI fit for a QR code.

    Only printable ASCII without spaces is accepted: a URI's other characters are
    percent-encoded (RFC 3986 section 2.1), and a QR byte segment carries no charset of its own,
    so anything else could be read back differently by a phone.
    """
    if len(uri) > MAX_URI_LENGTH:
        raise FormatError(f"URI is {len(uri)} characters; at most {MAX_URI_LENGTH} are encoded")
    if not uri or not all("!" <= ch <= "~" for ch in uri):
        raise FormatError("URI must be printable ASCII without spaces (percent-encode the rest)")
    try:
        parts = urlsplit(uri)
        _ = parts.port  # parsed lazily: a port out of range raises only here
    except ValueError as error:
        raise FormatError(f"URI does not parse: {error}") from error
    if parts.scheme not in _ALLOWED_SCHEMES or not parts.netloc:
        raise FormatError("URI must be absolute http or https")


def _symbol(uri: str, *, scale: int = 1) -> qrcode.QRCode[PyPNGImage]:
    verify_qr_uri(uri)
    symbol = qrcode.QRCode(
        version=None,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=scale,
        border=QUIET_ZONE,
        image_factory=PyPNGImage,
    )
    symbol.add_data(uri)
    symbol.make(fit=True)
    return symbol


@lru_cache(maxsize=4096)
def qr_size(uri: str) -> int:
    """The symbol's width in modules for ``uri``, without the quiet zone: ``17 + 4 * version``.

    Only the version is chosen (the masks are not tried), so a caller can check a symbol's
    printed size before drawing it."""
    verify_qr_uri(uri)
    symbol = qrcode.QRCode(version=None, error_correction=qrcode.constants.ERROR_CORRECT_M)
    symbol.add_data(uri)
    version: int = symbol.best_fit()
    return 17 + 4 * version


@lru_cache(maxsize=4096)  # pure and deterministic: a label's code is drawn once per process
def qr_modules(uri: str) -> tuple[tuple[bool, ...], ...]:
    """The symbol's modules for ``uri``, dark as ``True``, without the quiet zone.

    For renderers that draw the symbol themselves (the label sheet); they must keep
    ``QUIET_ZONE`` light modules around it.
    """
    symbol = _symbol(uri)
    return tuple(tuple(bool(module) for module in row) for row in symbol.modules)


@lru_cache(maxsize=1024)
def qr_png(uri: str, *, scale: int = 8) -> bytes:
    """A 1-bit greyscale PNG of the QR code for ``uri``, ``scale`` pixels per module."""
    if not 1 <= scale <= MAX_SCALE:
        raise LimitError(f"scale must be between 1 and {MAX_SCALE} pixels per module")
    image = _symbol(uri, scale=scale).make_image()
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def dark_runs(modules: tuple[tuple[bool, ...], ...]) -> Iterator[tuple[int, int, int]]:
    """(row, first column, length) of every horizontal run of dark modules, quiet zone excluded:
    what a renderer draws as one rectangle."""
    for y, row in enumerate(modules):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            yield y, start, x - start


def _svg_path(modules: tuple[tuple[bool, ...], ...]) -> str:
    """One path over all dark modules: a rectangle per horizontal run, in module units."""
    q = QUIET_ZONE
    return "".join(f"M{x + q} {y + q}h{n}v1h-{n}z" for y, x, n in dark_runs(modules))


@lru_cache(maxsize=1024)
def qr_svg(uri: str) -> bytes:
    """A standalone SVG of the QR code for ``uri``, UTF-8, with its own white quiet zone.

    The background is painted, so the quiet zone survives on a dark page; the dark modules are a
    single path, drawn with crisp edges.
    """
    modules = qr_modules(uri)
    size = len(modules) + 2 * QUIET_ZONE
    pixels = size * _SVG_PIXELS_PER_MODULE
    title = escape(uri)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{pixels}" '
        f'height="{pixels}" viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f"<title>QR code: {title}</title>"
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{_svg_path(modules)}"/>'
        "</svg>\n"
    )
    return svg.encode("utf-8")
