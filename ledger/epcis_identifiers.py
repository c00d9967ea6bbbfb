"""Canonical GS1 identifiers for the CBV 2.0 event hash (rules 17-18 of the algorithm).

Every way EPCIS lets an event name a GS1 key becomes one *constrained canonical* GS1 Digital
Link URI, so that one object hashes alike whatever the capturing system wrote:

- EPC URIs (``urn:epc:id:sgtin:…``), EPC class URIs (``urn:epc:class:lgtin:…``) and EPC pattern
  URIs (``urn:epc:idpat:sgtin:…``) become the Digital Link of the same key (GS1 EPC Tag Data
  Standard, GS1 Digital Link URI syntax §4.11), characters a Digital Link encodes encoded;
- a Digital Link URI moves to ``https://id.gs1.org``, loses its query string and its consumer
  product variant, keeps only the finest level of identification (a serial drops the lot), and
  its GTIN is written with 14 digits.

What comes out must have one of the forms rule 18 lists, written with the characters the
reference implementation accepts unencoded; anything else (a spola URN, a percent-encoded lot,
an EPC scheme not listed here such as ``cpi`` or ``itip``) is left as it is. Parsing and
checking Digital Links for the ledger itself is ``ledger.identifiers``.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

from ledger.identifiers import gtin_check_digit

GS1_RESOLVER: Final = "https://id.gs1.org"

_EPC_CHAR: Final = r"(?:%[0-9A-Fa-f]{2}|[!'()*+,.0-9:;=A-Za-z_-])"
_DL_PERCENT: Final = {c: f"%{ord(c):02X}" for c in "!()*+,:"}


def _encode(value: str) -> str:
    """GS1 Digital Link 1.2 table 7-1: characters an EPC URI keeps that a DL path encodes."""
    return "".join(_DL_PERCENT.get(c, c) for c in value)


# EPC URI schemes (after ``urn:epc:``): company prefix, reference and the rest; how many digits
# prefix and reference fill (0: any); how the GS1 key is formed; the Digital Link path.
_P, _R = r"(\d{6,12})", r"(\d{0,12})"
_EPC: Final = tuple(
    (re.compile(f"urn:epc:{scheme}:{pattern}"), width, key, path)
    for scheme, pattern, width, key, path in (
        ("id:sgtin", rf"{_P}\.{_R}\.({_EPC_CHAR}{{1,20}})", 13, "gtin", "/01/{key}/21/{rest}"),
        ("class:lgtin", rf"{_P}\.{_R}\.({_EPC_CHAR}{{1,20}})", 13, "gtin", "/01/{key}/10/{rest}"),
        ("idpat:sgtin", rf"{_P}\.{_R}\.\*()", 13, "gtin", "/01/{key}"),
        ("id:sscc", rf"{_P}\.{_R}()", 17, "gtin", "/00/{key}"),
        ("id:sgln", rf"{_P}\.{_R}\.({_EPC_CHAR}{{1,20}})", 12, "check", "/414/{key}/254/{rest}"),
        ("id:pgln", rf"{_P}\.{_R}()", 12, "check", "/417/{key}"),
        ("id:grai", rf"{_P}\.{_R}\.({_EPC_CHAR}{{1,16}})", 12, "check0", "/8003/{key}{rest}"),
        ("id:giai", rf"{_P}\.({_EPC_CHAR}{{1,24}})()", 0, "plain", "/8004/{key}"),
        ("id:gsrn", rf"{_P}\.{_R}()", 17, "check", "/8018/{key}"),
        ("id:gsrnp", rf"{_P}\.{_R}()", 17, "check", "/8017/{key}"),
        ("id:gdti", rf"{_P}\.{_R}\.({_EPC_CHAR}{{1,17}})", 12, "check", "/253/{key}{rest}"),
        ("id:sgcn", rf"{_P}\.{_R}\.(\d{{1,12}})", 12, "check", "/255/{key}{rest}"),
        ("id:ginc", rf"{_P}\.({_EPC_CHAR}{{1,24}})()", 0, "plain", "/401/{key}"),
        ("id:gsin", rf"{_P}\.{_R}()", 16, "check", "/402/{key}"),
    )
)


def _epc_link(value: str) -> str | None:
    """Rule 17 (GS1 EPC Tag Data Standard §6 and Digital Link §4.11): EPC URI → Digital Link."""
    for pattern, width, key_kind, path in _EPC:
        match = pattern.fullmatch(value)
        if match is None or (width and len(match[1]) + len(match[2]) != width):
            continue
        prefix, reference, rest = match.groups()
        if key_kind == "gtin":  # the indicator or extension digit leads, then the check digit
            key = _check(reference[:1] + prefix + reference[1:])
        elif key_kind in ("check", "check0"):
            key = _check(("0" if key_kind == "check0" else "") + prefix + reference)
        else:
            key = prefix + _encode(reference)
        if path.endswith("/254/{rest}") and rest == "0":  # a GLN without extension
            return GS1_RESOLVER + path.removesuffix("/254/{rest}").format(key=key)
        return GS1_RESOLVER + path.format(key=key, rest=_encode(rest))
    return None


def _check(body: str) -> str:
    return body + str(gtin_check_digit(body))


# GS1 Digital Link: primary keys in the order the reference looks for them, short names, and the
# constrained canonical forms (rule 18, III) with the characters a path may hold unencoded.
_DL_KEYS: Final = (
    "00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006", "8010",
    "8017", "8018",
)  # fmt: skip
_DL_SHORT: Final = {
    "gtin": "01", "itip": "8006", "cpid": "8010", "gln": "414", "party": "417",
    "gsrnp": "8017", "gsrn": "8018", "gcn": "255", "sscc": "00", "gdti": "253",
    "ginc": "401", "gsin": "402", "grai": "8003", "giai": "8004", "cpv": "22",
    "lot": "10", "ser": "21",
}  # fmt: skip
_V: Final = r"[\"'\-.0-9;-?A-Z_a-z]"
_DL_FORMS: Final = re.compile(
    "|".join(
        (
            r"/00/\d{18}",
            rf"/01/\d{{14}}(?:/(?:21|10)/{_V}{{0,20}}|/235/{_V}{{0,28}})?",
            rf"/253/\d{{13}}{_V}{{0,17}}",
            r"/255/\d{13}\d{0,12}",
            rf"/401/{_V}{{0,30}}",
            r"/402/\d{17}",
            rf"/414/\d{{13}}(?:/254/{_V}{{0,20}})?",
            r"/417/\d{13}",
            rf"/8003/\d{{14}}{_V}{{0,16}}",
            rf"/8004/{_V}{{0,30}}",
            rf"/8006/\d{{18}}(?:/(?:21|10)/{_V}{{0,20}})?",
            r"/8010/[#\-/0-9A-Z]{0,30}(?:/8011/\d{0,12})?",
            r"/8017/\d{18}",
            r"/8018/\d{18}",
        )
    )
)


def _constrained_link(uri: str) -> str | None:
    try:
        parts = urlsplit(uri)
    except ValueError:  # "http://[x].y", a netloc NFKC breaks up: no URI, so no Digital Link
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        return None
    segments = [_DL_SHORT.get(s, s) for s in parts.path.split("/")]
    keyed = [
        i
        for i in range(len(segments) - 1)
        if segments[i] in _DL_KEYS and re.match(r"\d{4}[^/]", segments[i + 1])
    ]
    if not keyed:
        return None  # no primary key followed by four digits: no Digital Link
    # As the reference does: a URI on id.gs1.org that opens with a key keeps it; any other one
    # starts at the first key in _DL_KEYS order, whatever follows that key (and then fails the
    # constrained forms below if it is not the key's value).
    on_resolver = parts.scheme == "https" and parts.netloc == "id.gs1.org"
    if on_resolver and keyed[0] == 1:
        start = 1
    else:
        start = next(i for key in _DL_KEYS for i in range(len(segments) - 1) if segments[i] == key)
    tail = segments[start:]
    if len(tail) % 2:
        return None
    pairs = dict(zip(tail[2::2], tail[3::2], strict=True))
    pairs.pop("22", None)  # rule 18 III: no consumer product variant
    if "21" in pairs:
        pairs.pop("10", None)  # the most fine-granular level only
    key, value = tail[0], tail[1]
    if key == "01" and len(value) in (8, 12, 13):
        value = value.zfill(14)
    path = f"/{key}/{value}" + "".join(f"/{ai}/{v}" for ai, v in pairs.items())
    return GS1_RESOLVER + path if _DL_FORMS.fullmatch(path) else None


def canonical_identifier(value: str) -> str | None:
    """Rules 17-18: the constrained canonical GS1 Digital Link URI for an EPC URI, EPC class or
    pattern URI, or Digital Link URI; None when ``value`` is none of these (it stays as it is)."""
    if value.startswith("urn:epc:"):
        return _epc_link(value)
    return _constrained_link(value) if "." in value else None
