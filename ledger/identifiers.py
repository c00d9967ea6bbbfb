"""Identifiers: GS1 Digital Link paths for products, batches and items; spola URNs; serials.

A brand with a GS1 company prefix names a model ``/01/{gtin}``, a batch ``/01/{gtin}/10/{lot}``
and an item ``/01/{gtin}/21/{serial}`` (GS1 Digital Link URI syntax 1.x, uncompressed form).
This module parses and formats those paths and refuses, with a reason, what GS1 does not allow:
a GTIN of the wrong length or check digit, qualifiers out of the order 22 → 10 → 21 or given
twice, lot and serial values outside GS1's character set 82 or longer than 20 characters, a
control character anywhere (``control_character`` names it). Item serials made here are
unguessable (96 random bits).

It is pure standard library, like the rest of the core: a GS1 library would have to become a
dependency of every terminal and verifier install.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote, urlsplit

from ledger.errors import FormatError

# GS1 General Specifications, figure 7.11-1: the 82 characters allowed in AIs such as 10 and 21.
CSET_82: Final = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
QUALIFIER_MAX: Final = 20  # AI 22, 10 and 21: X..20
QUALIFIERS: Final = (("22", "cpv"), ("10", "lot"), ("21", "serial"))  # the only order allowed
# The ledger's spelling of a value in a path (what events must write): '%', '/', '&', '?' are
# percent-encoded, the rest of CSET 82 is kept as is. Frozen: it is the identity of logged lots
# and items, so changing it would give one lot two spellings.
_SAFE: Final = "!\"'()*+,-.:;<=>_"
_SLUG: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_KEY_NAMES: Final = {"01": "GTIN", **dict(QUALIFIERS)}  # each AI a Digital Link path may hold
# C0 controls and DEL: outside CSET 82 and every URN id, so no identifier holds one.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_NAMES: Final = {
    "\x00": "a NUL character", "\t": "a tab", "\n": "a line feed", "\r": "a carriage return",
    "\x1b": "an ESC character", "\x7f": "a DEL character",
}  # fmt: skip


# GS1 Digital Link URI syntax: the primary keys a path may start with, by AI. spola's resolver
# serves GTINs (01); a label of another key pointed at it is told what it serves.
PRIMARY_KEYS: Final = {
    "00": "SSCC", "01": "GTIN", "253": "GDTI", "255": "GCN", "401": "GINC", "402": "GSIN",
    "414": "GLN", "417": "party GLN", "8003": "GRAI", "8004": "GIAI", "8006": "ITIP",
    "8010": "CPID", "8013": "GMN", "8017": "GSRN (provider)", "8018": "GSRN (recipient)",
}  # fmt: skip


def other_primary_key(path: str) -> str | None:
    """``AI n (name)`` when ``path`` is a Digital Link path of a GS1 primary key other than a
    GTIN (``/414/{gln}``, ``/00/{sscc}`` …) with a value after it; else None."""
    ai, _, value = path.lstrip("/").partition("/")
    if ai == "01" or ai not in PRIMARY_KEYS or not value:
        return None
    return f"AI {ai} ({PRIMARY_KEYS[ai]})"


class IdentifierError(FormatError):
    """An identifier GS1 or spola does not allow; the message says which part and why."""


def gtin_check_digit(body: str) -> int:
    """GS1 mod-10 check digit of ``body`` (a GTIN, GLN… without its last digit): weights
    3, 1, 3, … from the digit next to the check digit leftwards."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalize_gtin(text: str) -> str:
    """A GTIN-8, -12, -13 or -14 as the 14 digits Digital Link and EPCIS use."""
    if not text.isascii() or not text.isdigit() or len(text) not in (8, 12, 13, 14):
        raise IdentifierError(f"GTIN {text!r} must be 8, 12, 13 or 14 digits")
    gtin = text.zfill(14)
    expected = gtin_check_digit(gtin[:-1])
    if int(gtin[-1]) != expected:
        raise IdentifierError(f"GTIN {text} has check digit {gtin[-1]}, expected {expected}")
    return gtin


def control_character(text: str) -> str | None:
    """The first C0 control character or DEL in ``text``, named with its percent-escape
    (``a line feed (%0A)``); None when it holds none."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    char = found.group()
    return f"{_CONTROL_NAMES.get(char, 'a control character')} (%{ord(char):02X})"


def check_qualifier(value: str, what: str) -> str:
    if not value:
        raise IdentifierError(f"{what} is empty")
    if len(value) > QUALIFIER_MAX:
        raise IdentifierError(f"{what} {value!r} is longer than {QUALIFIER_MAX} characters")
    bad = sorted(set(value) - CSET_82)
    if bad:
        raise IdentifierError(f"{what} {value!r} has characters outside GS1 CSET 82: {bad}")
    return value


@dataclass(frozen=True)
class DigitalLink:
    """The identifier part of a GS1 Digital Link URI (no domain, no query)."""

    gtin: str
    cpv: str | None = None  # AI 22, consumer product variant
    lot: str | None = None  # AI 10, batch or lot
    serial: str | None = None  # AI 21, serial number

    def __post_init__(self) -> None:
        if normalize_gtin(self.gtin) != self.gtin:
            raise IdentifierError(f"GTIN {self.gtin} must be given as 14 digits")
        for ai, name in QUALIFIERS:
            value = getattr(self, name)
            if value is not None:
                check_qualifier(value, f"AI {ai} ({name})")
                if value in (".", ".."):
                    # URL parsers collapse these path segments (even percent-encoded).
                    raise IdentifierError(f"AI {ai} ({name}) {value!r} cannot stand in a URI path")

    @property
    def granularity(self) -> str:
        """``item`` (serialized), ``batch`` (lot, no serial) or ``model``."""
        if self.serial is not None:
            return "item"
        return "batch" if self.lot is not None else "model"

    @classmethod
    def parse(cls, uri: str) -> DigitalLink:
        """Parse an uncompressed Digital Link URI or path, e.g. ``/01/09506000134352/21/A1``."""
        if len(uri) > 2048:
            raise IdentifierError("Digital Link URI is longer than 2048 characters")
        # urlsplit() drops tabs and line breaks (WHATWG URL): "A\nB" would name the serial "AB".
        if (control := control_character(uri)) is not None:
            raise IdentifierError(f"Digital Link URI holds {control}, which no GS1 value may")
        try:
            segments = urlsplit(uri).path.split("/")
        except ValueError as exc:  # urlsplit: "Invalid IPv6 URL" for an unclosed "[" host
            raise IdentifierError(f"Digital Link URI is not a URI: {exc}") from None
        if "01" not in segments:
            raise IdentifierError("no /01/{gtin} in the Digital Link path")
        tail = segments[segments.index("01") :]  # a resolver may put a path prefix before it
        if len(tail) % 2:
            last = tail[-1]
            if last in _KEY_NAMES:
                raise IdentifierError(
                    f"AI {last} ({_KEY_NAMES[last]}) has no value: a Digital Link path must "
                    "alternate AI and value"
                )
            raise IdentifierError(
                f"{last[:40]!r} after the last value is no AI of it: a Digital Link path must "
                "alternate AI and value (/01/{gtin}/21/{serial})"
            )
        try:
            pairs = [
                (tail[i], unquote(tail[i + 1], errors="strict")) for i in range(0, len(tail), 2)
            ]
        except UnicodeDecodeError:
            raise IdentifierError(
                "Digital Link path has percent-encoding that is not UTF-8"
            ) from None
        values: dict[str, str] = {}
        order = ["01"] + [ai for ai, _ in QUALIFIERS]
        position = -1
        for ai, value in pairs:
            if ai not in order:
                raise IdentifierError(f"AI {ai} is not a key qualifier of GTIN (01)")
            if ai in values:
                raise IdentifierError(
                    f"AI {ai} ({_KEY_NAMES[ai]}) is given twice: a Digital Link names one of each"
                )
            if order.index(ai) <= position:
                raise IdentifierError(
                    f"AI {ai} out of order: qualifiers follow 01 as 22, then 10, then 21"
                )
            position = order.index(ai)
            values[ai] = value
        return cls(
            gtin=normalize_gtin(values["01"]),
            cpv=values.get("22"),
            lot=values.get("10"),
            serial=values.get("21"),
        )

    def path(self) -> str:
        """The uncompressed Digital Link path in the ledger's spelling (``_SAFE``)."""
        return self._path(_SAFE)

    def _path(self, safe: str) -> str:
        out = f"/01/{self.gtin}"
        for ai, name in QUALIFIERS:
            value = getattr(self, name)
            if value is not None:
                out += f"/{ai}/{quote(value, safe=safe)}"
        return out

    def uri(self, base: str) -> str:
        """``base`` (``https://id.example.com``) and the path as a URI carries it: what a QR
        code, a label or a link encodes.

        GS1 Digital Link URI syntax percent-encodes every CSET 82 character that is not
        unreserved in RFC 3986 (``! " % & ' ( ) * + , / : ; < = > ?``); ``"``, ``<`` and ``>``
        may not appear in a URI at all. ``parse`` reads this form and the ledger's alike.
        """
        return base.rstrip("/") + self._path(safe="")


def new_serial() -> str:
    """An unguessable item serial: 96 random bits as 20 base32 characters (within CSET 82)."""
    return base64.b32encode(secrets.token_bytes(12)).decode("ascii").rstrip("=")


def actor_urn(slug: str) -> str:
    """``urn:spola:actor:{slug}`` for an actor without a GS1 company prefix."""
    if not _SLUG.match(slug):
        raise IdentifierError(
            f"actor slug {slug!r} must be 1-63 lowercase letters, digits or '-', "
            "starting with a letter or digit"
        )
    return f"urn:spola:actor:{slug}"
