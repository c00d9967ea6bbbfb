"""Event payloads: the common header every event carries and the registry event types.

An event payload is one JSON object in RFC 8785 form, signed inside a DSSE envelope. This module
turns the already-verified payload bytes into frozen pydantic models and refuses anything the
formats in docs/formats.md do not allow. It defines the header and the registry events
(``actor``, ``key``); ``ledger.supply`` defines the supply-chain events (material, process,
handover, receipt, lifecycle) on top of the header and registers them in ``EVENT_MODELS``.

Signature checks happen before this module sees a byte; feed and registry rules live in
``ledger.feed`` and ``ledger.registry``.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from ledger.canonical import canonical_bytes, parse_canonical_object
from ledger.errors import FormatError
from ledger.identifiers import gtin_check_digit
from ledger.keys import PublicKey, key_id

FORMAT_VERSION: Final = 1
OPERATOR_ACTOR: Final = "urn:spola:actor:operator"

_RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
# RFC 8785 §3.2.2.2 writes U+0000 as this escape, so a payload without it holds no NUL.
_NUL_ESCAPE: Final = b"\\u0000"


def event_time_now() -> str:
    """The current instant as an event ``time``: RFC 3339 UTC, whole seconds, ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_time(value: str) -> str:
    # RFC 3339 §5.6 with the "Z" offset only: one spelling per instant keeps payloads canonical.
    if not _RFC3339_UTC.match(value):
        raise ValueError("must be RFC 3339 UTC, e.g. 2026-11-26T09:30:00Z")
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError as exc:
        raise ValueError(f"is not a real date and time ({exc})") from None
    return value


def _day(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a real date (YYYY-MM-DD)") from None
    return value


def _gln(value: str) -> str:
    # A GS1 GLN: 13 ASCII digits (the pattern) whose last is the mod-10 check digit of a GTIN.
    expected = gtin_check_digit(value[:-1])
    if int(value[-1]) != expected:
        raise ValueError(f"GLN {value} has check digit {value[-1]}, expected {expected}")
    return value


def _decimal(low: str, high: str) -> Any:
    def check(value: str) -> str:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError("must be a decimal string such as '45.8081'") from None
        if not number.is_finite() or not Decimal(low) <= number <= Decimal(high):
            raise ValueError(f"must lie between {low} and {high}")
        return value

    return check


ActorId = Annotated[str, StringConstraints(pattern=r"^urn:spola:actor:[a-z0-9][a-z0-9-]{0,62}$")]
KeyId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
HexHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Day = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$"), AfterValidator(_day)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# A certificate scheme (GOTS, RWS, LWG...): named by supply events and by self-assessments.
Scheme = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]
Latitude = Annotated[str, StringConstraints(max_length=20), AfterValidator(_decimal("-90", "90"))]
Longitude = Annotated[
    str, StringConstraints(max_length=20), AfterValidator(_decimal("-180", "180"))
]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
# [0-9], not \d: \d also matches other scripts' decimal digits, which no GS1 key allows.
Gln = Annotated[str, StringConstraints(pattern=r"^[0-9]{13}$"), AfterValidator(_gln)]
Role = Literal[
    "operator", "supplier", "brand", "certifier", "repairer", "recycler", "retailer", "logistics"
]


class StrictModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Event(StrictModel):
    """The header common to every event (DESIGN.md, Formats → Event payload)."""

    type_name: ClassVar[str] = ""

    v: Literal[1]
    type: str
    actor: ActorId
    seq: int = Field(ge=0, le=2**53 - 1)
    prev: HexHash | None
    time: Annotated[str, AfterValidator(_utc_time)]


class Facility(StrictModel):
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    name: Text
    town: Text
    region: Text | None = None
    country: Country
    lat: Latitude
    lon: Longitude
    gln: Gln | None = None


class ActorEvent(Event):
    """Registers an actor, or updates its profile. Signed by the operator."""

    type_name: ClassVar[str] = "actor"

    type: Literal["actor"]
    op: Literal["register", "update"]
    id: ActorId
    name: Text
    roles: list[Role] = Field(min_length=1, max_length=8)
    country: Country
    region: Text | None = None
    gln: Gln | None = None
    facilities: list[Facility] = Field(default_factory=list, max_length=64)


class KeyEvent(Event):
    """Adds, rotates or revokes a signing key of ``subject`` (one key per terminal).

    - ``add``: signed by the operator; ``key_id`` and ``public_key`` name the new key.
    - ``rotate``: signed by the key named in ``replaces`` (or by the operator); the new key
      takes its place and the replaced key stops being valid after this entry.
    - ``revoke``: signed by the operator or by any valid key of ``subject``; ``key_id`` names
      the key that stops being valid.
    """

    type_name: ClassVar[str] = "key"

    type: Literal["key"]
    op: Literal["add", "rotate", "revoke"]
    subject: ActorId
    key_id: KeyId
    public_key: Annotated[str, StringConstraints(min_length=44, max_length=44)] | None = None
    replaces: KeyId | None = None
    reason: Text | None = None

    def new_public_key(self) -> PublicKey:
        """The key this event introduces (add, rotate), checked against ``key_id``."""
        if self.public_key is None:
            raise FormatError(f"key {self.op} needs public_key")
        key = PublicKey.from_base64(self.public_key)
        if key_id(key.raw) != self.key_id:
            raise FormatError("key_id is not the SHA-256 of public_key")
        return key


EVENT_MODELS: dict[str, type[Event]] = {model.type_name: model for model in (ActorEvent, KeyEvent)}


EXPLAINED_ERRORS = 5  # faulty fields a refusal names one by one; the rest are counted


def _explain(exc: ValidationError) -> str:
    errors = exc.errors()
    named = [
        f"{'.'.join(str(part) for part in error['loc']) or 'payload'}: {error['msg']}"
        for error in errors[:EXPLAINED_ERRORS]
    ]
    more = f" (and {len(errors) - len(named)} more)" if len(errors) > len(named) else ""
    return "; ".join(named) + more


def parse_event(payload: bytes) -> Event:
    """Parse verified payload bytes into the event model for its ``type``.

    Raises FormatError naming the first offending field.
    """
    obj = parse_canonical_object(payload)
    if _NUL_ESCAPE in payload and _holds_nul(obj):
        # Text columns on PostgreSQL cannot hold U+0000: refused here, on every engine, rather
        # than failing the append there and being stored on SQLite.
        raise FormatError("payload: a string holds U+0000 (NUL), which no field allows")
    kind = obj.get("type")
    models = _models()
    model = models.get(kind) if isinstance(kind, str) else None
    if model is None:
        known = ", ".join(sorted(models))
        raise FormatError(f"type: unknown event type {kind!r} (known: {known})")
    try:
        event = model.model_validate(obj)
    except ValidationError as exc:
        raise FormatError(f"{kind} event: {_explain(exc)}") from None
    if isinstance(event, KeyEvent):
        _check_key_event_shape(event)
    return event


def _holds_nul(value: Any) -> bool:
    stack = [value]
    while stack:  # iterative: the payload may be nested up to the parser's depth limit
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _check_key_event_shape(event: KeyEvent) -> None:
    if event.op in ("add", "rotate"):
        event.new_public_key()
    elif event.public_key is not None:
        raise FormatError("key event: public_key: not allowed for revoke")
    if (event.op == "rotate") != (event.replaces is not None):
        raise FormatError("key event: replaces: required for rotate and only for rotate")


def encode_event(fields: dict[str, Any]) -> bytes:
    """The RFC 8785 payload bytes for ``fields``, validated as ``parse_event`` will read them."""
    payload = canonical_bytes(fields)
    parse_event(payload)
    return payload


@functools.cache
def _models() -> dict[str, type[Event]]:
    """Every event model by type. The other models build on the header above and register
    themselves in EVENT_MODELS when imported; they are imported at the first parse, not when
    this module is, since they import it: ``import ledger.supply`` first would otherwise find
    itself half-initialised."""
    import ledger.assessment  # noqa: PLC0415
    import ledger.directory_event  # noqa: PLC0415
    import ledger.passport  # noqa: PLC0415
    import ledger.supply  # noqa: F401, PLC0415

    return EVENT_MODELS
