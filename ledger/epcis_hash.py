"""The EPCIS Event Hash ID (GS1 CBV 2.0): a syntax-independent fingerprint of one EPCIS event.

``event_hash`` builds the event's canonical *pre-hash string* and returns its SHA-256 digest in
the RFC 6920 ``ni`` form CBV 2.0 prescribes: ``ni:///sha-256;{hex}?ver=CBV2.0``. The steps follow
the algorithm GS1 published with CBV 2.0 (the rules of the README of
github.com/RalphTro/epcis-event-hash-generator, numbered below as there), and where that text
leaves room, the output of its reference implementation, which is what other parties recompute:

- fields in the canonical property order (rule 1), ``key=value`` (rule 3), no separators
  (rule 2), absent fields left out (rule 4), values trimmed (rule 5);
- lists sorted as strings (rules 10-12); a source, destination or business transaction is
  written type first (rule 13);
- CBV terms written as GS1 Web URIs, whether given as ``urn:epcglobal:cbv:`` URNs (rule 14),
  CURIEs (rule 15) or bare JSON terms (rule 16);
- EPC URIs and GS1 Digital Link URIs as constrained canonical Digital Link URIs (rules 17-18,
  ``ledger.epcis_identifiers``);
- numbers without trailing zeros (rules 6-7), timestamps in UTC with milliseconds (rules 8-9);
- ILMD and user extensions as ``{namespace}name=value``, sorted (rules 19-21).

What the reference implementation does and the rules' table does not say, this module does
too: ``bizTransactionList``, ``sourceList``, ``destinationList``, ``ilmd`` and user extensions
are sorted together after the ordered fields; numbers are compared as IEEE 754 doubles; JSON
booleans are written ``True``/``False``; ``errorDeclaration`` is not hashed. It departs from the
reference implementation only where that one contradicts the rules, depends on JSON member
order, or fails: a timestamp's milliseconds round half up, as rule 9 says (the reference rounds
half to even); type-first order holds whatever the JSON member order; a standard CURIE in a
vocabulary field is expanded (rule 15); bare terms are expanded in vocabulary fields only (the
reference replaces any value of the document that equals a CBV term used elsewhere in it); text
that Python's ``float()`` reads but that is no decimal number (``1_000``, ``inf``) stays text; a
JSON-LD keyword of the ``@context`` (``@base``, ``@vocab``) is no prefix (the reference expands
``@base:x`` as if it were one); a JSON ``null`` is no value, so the field is absent (the
reference writes ``None``).
spola's exports meet these cases only through free text (a product name, a reason) that equals a
CBV term or reads as a Python number; its tests check that the two agree everywhere else.

Pure standard library: an auditor recomputes an export's event IDs with no other dependency.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ledger.epcis_identifiers import canonical_identifier

HASH_VERSION: Final = "CBV2.0"
CBV: Final = "https://ref.gs1.org/cbv/"
GS1_VOC: Final = "https://gs1.org/voc/"
# Prefixes of the standard context, expanded in vocabulary values (rule 15).
STANDARD_PREFIXES: Final[Mapping[str, str]] = {
    "cbv": CBV,
    "gs1": GS1_VOC,
    "epcis": "https://ref.gs1.org/epcis/",
}
# Rule 14: URN-based CBV vocabulary and the Web URI that replaces each prefix.
_CBV_URNS: Final = (
    ("urn:epcglobal:cbv:bizstep:", CBV + "BizStep-"),
    ("urn:epcglobal:cbv:disp:", CBV + "Disp-"),
    ("urn:epcglobal:cbv:btt:", CBV + "BTT-"),
    ("urn:epcglobal:cbv:sdt:", CBV + "SDT-"),
    ("urn:epcglobal:cbv:er:", CBV + "ER-"),
)
# Fields never hashed: the ID itself, what the capturing system adds, and the JSON-LD context.
_IGNORED: Final = frozenset({"@context", "type", "eventID", "recordTime", "errorDeclaration"})
_TYPED_LISTS: Final[Mapping[str, tuple[str, str]]] = {
    # list name: (member holding the identifier, vocabulary of its ``type``)
    "bizTransactionList": ("bizTransaction", CBV + "BTT-"),
    "sourceList": ("source", CBV + "SDT-"),
    "destinationList": ("destination", CBV + "SDT-"),
}

Namespaces = Mapping[str, str]


# -- values -------------------------------------------------------------------------------------

_NUMBER: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_TIMESTAMP: Final = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)


def canonical_number(text: str) -> str:
    """Rules 6-7: ``"12.50"`` → ``"12.5"``, ``"1.0"`` → ``"1"``; other text unchanged.

    The value is read as an IEEE 754 double, as the reference implementation reads it.
    """
    if not _NUMBER.fullmatch(text):
        return text
    number = float(text)
    if not math.isfinite(number):
        return text
    return str(int(number)) if number.is_integer() else repr(number)


def canonical_timestamp(text: str) -> str:
    """Rules 8-9: UTC, milliseconds, ``Z``; the 3rd decimal rounds up when the 4th is 5-9."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return text
    day, clock, fraction, offset = match.groups()
    offset = "+00:00" if offset in ("Z", "z") else offset
    digits = (fraction or "").ljust(4, "0")
    millis = int(digits[:3]) + (1 if digits[3] >= "5" else 0)
    try:
        instant = datetime.fromisoformat(f"{day}T{clock}{offset}").astimezone(UTC)
        instant += timedelta(milliseconds=millis)
    except (ValueError, OverflowError):  # not a real instant, or one past 9999-12-31 in UTC
        return text
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def _text(value: Any, ns: Namespaces) -> str:
    """A JSON value as the text the pre-hash string holds, before canonicalisation."""
    if isinstance(value, str):
        prefix, colon, rest = value.partition(":")
        return ns[prefix] + rest if colon and prefix in ns else value  # rule 15
    return str(value)  # numbers as Python writes them; booleans True/False (reference)


def _canonical(value: Any, ns: Namespaces) -> str:
    text = _text(value, ns).strip()
    for urn, web in _CBV_URNS:
        text = text.replace(urn, web)
    text = canonical_number(text)
    return canonical_identifier(text) or text


def _vocabulary(prefix: str) -> Callable[[Any, Namespaces], str]:
    """Rule 16: a bare JSON term (``shipping``) stands for ``{prefix}{term}``; rule 15: so does
    a CURIE of the standard context (``cbv:BizStep-shipping``)."""

    def expand(value: Any, ns: Namespaces) -> str:
        if isinstance(value, str):
            value = value.strip()
            curie, colon, rest = value.partition(":")
            if value and not colon:
                value = prefix + value
            elif curie in STANDARD_PREFIXES and not rest.startswith("//"):
                value = STANDARD_PREFIXES[curie] + rest
        return _canonical(value, ns)

    return expand


def _timestamp(value: Any, ns: Namespaces) -> str:
    return canonical_timestamp(_text(value, ns).strip())


# -- the pre-hash string ---------------------------------------------------------------------


def namespaces(context: Any) -> dict[str, str]:
    """The prefixes a JSON-LD ``@context`` (a URL, an object, or a list of them) declares.

    User extensions name their namespaces through these; a value that starts with one of them
    is expanded too (rule 15). The standard context's own prefixes expand vocabulary values only.
    """
    found: dict[str, str] = {}
    for part in context if isinstance(context, list) else [context]:
        if isinstance(part, Mapping):
            found.update(
                (k, v) for k, v in part.items() if isinstance(v, str) and not k.startswith("@")
            )
    return found


def _key(name: str, ns: Namespaces) -> str:
    prefix, colon, local = name.partition(":")
    return "{" + ns[prefix] + "}" + local if colon and prefix in ns else name


def _members(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _generic(name: str, value: Any, ns: Namespaces) -> list[str]:
    """Rules 19-21: a member outside the canonical order, one string per list member."""
    out = []
    for member in _members(value):
        if isinstance(member, Mapping):
            body = _generic_object(member, ns)
        elif isinstance(member, list):
            body = "".join(sorted(s for v in member for s in _generic("", v, ns)))
        else:
            body = "=" + _canonical(member, ns) if _text(member, ns).strip() else ""
        out.append(name + body)
    return out


def _generic_object(obj: Mapping[str, Any], ns: Namespaces) -> str:
    return "".join(sorted(s for k, v in obj.items() for s in _generic(_key(k, ns), v, ns)))


def _typed_list(name: str, value: Any, ns: Namespaces) -> str:
    member, vocabulary = _TYPED_LISTS[name]
    entries = []
    for entry in _members(value):
        if not isinstance(entry, Mapping):
            continue
        text = ""
        if "type" in entry:
            text += "type=" + _vocabulary(vocabulary)(entry["type"], ns)
        if member in entry:
            text += f"{member}=" + _canonical(entry[member], ns)
        entries.append(text)
    return name + "".join(sorted(entries))


# A renderer turns one field (name, JSON value) into its substring of the pre-hash string.
Render = Callable[[str, Any, Namespaces], str]
Order = Sequence[tuple[str, Render]]


def _scalar(convert: Callable[[Any, Namespaces], str] = _canonical) -> Render:
    def render(name: str, value: Any, ns: Namespaces) -> str:
        text = convert(value, ns)
        return f"{name}={text}" if text else ""

    return render


def _each(render: Render) -> Render:
    """A field that may repeat (a JSON list): one substring per value, sorted (rule 11)."""

    def render_all(name: str, value: Any, ns: Namespaces) -> str:
        return "".join(sorted(filter(None, (render(name, v, ns) for v in _members(value)))))

    return render_all


def _list_of(element: str, render: Render) -> Render:
    """``epcList`` → ``epcList`` + sorted ``epc=…``; ``quantityList`` likewise (rules 11-12)."""

    def render_list(name: str, value: Any, ns: Namespaces) -> str:
        body = _each(render)(element, value, ns)
        return name + body if body else ""

    return render_list


def _object(order: Order, *, extensions: bool) -> Render:
    """A structured field: its members in ``order``, then (rule 21) its user extensions."""
    known = {name for name, _ in order}

    def render(name: str, value: Any, ns: Namespaces) -> str:
        if not isinstance(value, Mapping):
            return ""
        body = _ordered(value, order, ns)
        if extensions:
            rest = (
                s for k, v in value.items() if k not in known for s in _generic(_key(k, ns), v, ns)
            )
            body += "".join(sorted(rest))
        return name + body if body else ""

    return render


def _ordered(obj: Mapping[str, Any], order: Order, ns: Namespaces) -> str:
    return "".join(
        render(name, obj[name], ns) for name, render in order if obj.get(name) is not None
    )


_SCALAR = _scalar()
_TIME = _scalar(_timestamp)
_EPCS = _list_of("epc", _SCALAR)
_QUANTITIES = _list_of(
    "quantityElement",
    _object((("epcClass", _SCALAR), ("quantity", _SCALAR), ("uom", _SCALAR)), extensions=False),
)
_DISPOSITIONS = _each(_scalar(_vocabulary(CBV + "Disp-")))
_PLACE = _object((("id", _SCALAR),), extensions=True)
_SENSOR_METADATA = _object(
    (
        ("time", _TIME),
        ("startTime", _TIME),
        ("endTime", _TIME),
        ("deviceID", _SCALAR),
        ("deviceMetadata", _SCALAR),
        ("rawData", _SCALAR),
        ("dataProcessingMethod", _SCALAR),
        ("bizRules", _SCALAR),
    ),
    extensions=True,
)
_SENSOR_REPORT = _object(
    (
        ("type", _scalar(_vocabulary(GS1_VOC))),
        ("exception", _scalar(_vocabulary(GS1_VOC))),
        ("deviceID", _SCALAR),
        ("deviceMetadata", _SCALAR),
        ("rawData", _SCALAR),
        ("dataProcessingMethod", _SCALAR),
        ("time", _TIME),
        ("microorganism", _SCALAR),
        ("chemicalSubstance", _SCALAR),
        ("value", _SCALAR),
        ("component", _scalar(_vocabulary(CBV + "Comp-"))),
        ("stringValue", _SCALAR),
        ("booleanValue", _SCALAR),
        ("hexBinaryValue", _SCALAR),
        ("uriValue", _SCALAR),
        ("minValue", _SCALAR),
        ("maxValue", _SCALAR),
        ("meanValue", _SCALAR),
        ("sDev", _SCALAR),
        ("percRank", _SCALAR),
        ("percValue", _SCALAR),
        ("uom", _SCALAR),
        ("coordinateReferenceSystem", _SCALAR),
    ),
    extensions=True,
)
_SENSOR_ELEMENTS = _list_of(
    "sensorElement",
    _object(
        (("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _each(_SENSOR_REPORT))),
        extensions=True,
    ),
)

# The canonical property order, sequence 2-23 (1 is the event type).
EVENT_ORDER: Final[Order] = (
    ("eventTime", _TIME),
    ("eventTimeZoneOffset", _SCALAR),
    ("certificationInfo", _each(_SCALAR)),
    ("parentID", _SCALAR),
    ("epcList", _EPCS),
    ("inputEPCList", _EPCS),
    ("childEPCs", _EPCS),
    ("quantityList", _QUANTITIES),
    ("childQuantityList", _QUANTITIES),
    ("inputQuantityList", _QUANTITIES),
    ("outputEPCList", _EPCS),
    ("outputQuantityList", _QUANTITIES),
    ("action", _SCALAR),
    ("transformationID", _SCALAR),
    ("bizStep", _scalar(_vocabulary(CBV + "BizStep-"))),
    ("disposition", _scalar(_vocabulary(CBV + "Disp-"))),
    (
        "persistentDisposition",
        _object((("set", _DISPOSITIONS), ("unset", _DISPOSITIONS)), extensions=False),
    ),
    ("readPoint", _PLACE),
    ("bizLocation", _PLACE),
    ("sensorElementList", _SENSOR_ELEMENTS),
)
_ORDERED_NAMES: Final = frozenset(name for name, _ in EVENT_ORDER)


def pre_hash_string(event: Mapping[str, Any], *, context: Any = None) -> str:
    """The canonical pre-hash string of one EPCIS event (JSON-LD, as a parsed object).

    ``context`` is the ``@context`` of the document the event came in; the prefixes it declares
    name the namespaces of user extensions. An event's own ``@context`` adds to it.
    """
    ns = namespaces(context) | namespaces(event.get("@context"))
    ordered = _ordered(event, EVENT_ORDER, ns)
    rest: list[str] = []
    for name, value in event.items():
        if name in _IGNORED or name in _ORDERED_NAMES or value is None:
            continue
        if name in _TYPED_LISTS:
            rest.append(_typed_list(name, value, ns))
        else:
            rest.extend(_generic(_key(name, ns), value, ns))
    return f"eventType={event.get('type', '')}" + ordered + "".join(sorted(rest))


def event_hash(event: Mapping[str, Any], *, context: Any = None) -> str:
    """The CBV 2.0 EPCIS Event Hash ID: ``ni:///sha-256;{hex}?ver=CBV2.0``."""
    digest = hashlib.sha256(pre_hash_string(event, context=context).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver={HASH_VERSION}"
