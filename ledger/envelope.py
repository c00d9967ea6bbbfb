"""DSSE v1 envelopes: the signed wrapper around every event (DESIGN.md, Formats → Envelope).

This module owns the Pre-Authentication Encoding (DSSE ``protocol.md``), the strict parsing of
the JSON envelope (DSSE ``envelope.md``), its one canonical byte form (RFC 8785: the exact bytes
of a log entry, DESIGN.md, Formats → Log), and signing and verifying with Ed25519 keys.

It leaves out what the payload means: ``verify_envelope`` checks a signature over the PAE and
nothing else. The caller checks ``payload_type`` and parses ``payload`` only after verifying
(DSSE ``protocol.md`` → "To verify": verify, then check the type, then parse).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, Final

from ledger.canonical import canonical_bytes, parse_json
from ledger.errors import FormatError, LimitError, SignatureError
from ledger.keys import PrivateKey, PublicKey
from ledger.note import decode_base64

EVENT_PAYLOAD_TYPE: Final = "application/vnd.spola.event+json"
DEFAULT_MAX_BYTES: Final = 256 * 1024
MAX_SIGNATURES: Final = 16
_MAX_DEPTH: Final = 4  # {"signatures": [{"sig": …}]} is three levels deep

_ENVELOPE_MEMBERS: Final = frozenset({"payload", "payloadType", "signatures"})
_SIGNATURE_MEMBERS: Final = frozenset({"keyid", "sig"})
_STANDARD_ALPHABET: Final = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_URL_SAFE_ALPHABET: Final = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_TO_STANDARD: Final = str.maketrans("-_", "+/")
# The canonical bytes of a one-signature envelope whose type and key id need no JSON escape
# (printable ASCII but quote and backslash): every entry spola logs. Such an envelope is
# written without a JSON encoder, and such bytes are parsed without a JSON parser and known to
# be canonical without encoding them again; anything else takes the JSON path, which says what
# is wrong. ``tests/unit/test_fast_readers.py`` holds the two paths to the same answer.
_PLAIN: Final = r"[ !#-\[\]-~]+"  # a JSON string's text that needs no escape
_PLAIN_TEXT: Final = re.compile(_PLAIN)
_CANONICAL_ONE_SIGNATURE: Final = re.compile(
    rb'\{"payload":"([A-Za-z0-9+/]*={0,2})","payloadType":"(%b)",'
    rb'"signatures":\[\{"keyid":"(%b)","sig":"([A-Za-z0-9+/]*={0,2})"\}\]\}'
    % (_PLAIN.encode(), _PLAIN.encode())
)
_ONE_SIGNATURE_TEMPLATE: Final = (
    b'{"payload":"%b","payloadType":"%b","signatures":[{"keyid":"%b","sig":"%b"}]}'
)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE ``protocol.md`` → PAE: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.

    LEN is the ASCII decimal byte length with no leading zeros; the type is UTF-8 encoded first,
    so a non-ASCII type counts bytes, not characters.
    """
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


def _decode_base64(value: object, what: str) -> bytes:
    """Decode DSSE base64: standard or URL-safe alphabet, padding optional.

    DSSE ``protocol.md``: "Either standard or URL-safe base64 encodings are allowed. Signers may
    use either, and verifiers MUST accept either." One string may not mix the two alphabets, and
    non-zero pad bits are refused (RFC 4648 §3.5), so each byte string has one text per alphabet.
    """
    if not isinstance(value, str):
        raise FormatError(f"{what} must be a base64 string, not {type(value).__name__}")
    if _STANDARD_ALPHABET.fullmatch(value):
        text = value
    elif _URL_SAFE_ALPHABET.fullmatch(value):
        text = value.translate(_TO_STANDARD)
    else:
        raise FormatError(f"{what} is not base64")
    body = text.rstrip("=")
    if len(body) % 4 == 1 or (body != text and len(text) % 4 != 0):
        raise FormatError(f"{what} is not base64")
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"{what} is not base64") from exc
    if base64.b64encode(raw).decode("ascii").rstrip("=") != body:
        raise FormatError(f"{what} is not canonical base64 (non-zero pad bits)")
    return raw


def _encode_base64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")  # signers write standard, padded base64


@dataclass(frozen=True)
class Signature:
    """One DSSE signature. ``keyid`` is an unauthenticated hint; "" means it was omitted."""

    keyid: str
    sig: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.keyid, str):
            raise FormatError("signature keyid must be a string")
        if not isinstance(self.sig, bytes):
            raise FormatError("signature sig must be bytes")

    @classmethod
    def from_json(cls, obj: object, *, what: str = "signature") -> Signature:
        if not isinstance(obj, dict):
            raise FormatError(f"{what} must be a JSON object")
        if unknown := sorted(set(obj) - _SIGNATURE_MEMBERS):
            raise FormatError(f"{what} has unknown member {unknown[0][:40]!r}")
        if "sig" not in obj:
            raise FormatError(f"{what}.sig is missing")
        keyid = obj.get("keyid", "")  # DSSE envelope.md: "Empty fields may be omitted."
        if not isinstance(keyid, str):
            raise FormatError(f"{what}.keyid must be a string")
        return cls(keyid=keyid, sig=_decode_base64(obj["sig"], f"{what}.sig"))

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"sig": _encode_base64(self.sig)}
        if self.keyid:
            obj["keyid"] = self.keyid
        return obj


@dataclass(frozen=True)
class Envelope:
    """A DSSE v1 JSON envelope: the payload bytes exactly as signed, and their signatures."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.payload_type, str) or not self.payload_type:
            raise FormatError("payloadType must be a non-empty string")
        if not isinstance(self.payload, bytes):
            raise FormatError("payload must be bytes")
        if not isinstance(self.signatures, tuple) or not all(
            isinstance(s, Signature) for s in self.signatures
        ):
            raise FormatError("signatures must be a tuple of Signature")
        if not self.signatures:
            raise FormatError("signatures must not be empty")
        if len(self.signatures) > MAX_SIGNATURES:
            raise LimitError(
                f"signatures has {len(self.signatures)} entries, over the limit of {MAX_SIGNATURES}"
            )

    @classmethod
    def from_json(cls, obj: object) -> Envelope:
        """Strictly decode a parsed JSON envelope (DSSE ``envelope.md``)."""
        if not isinstance(obj, dict):
            raise FormatError("envelope must be a JSON object")
        if unknown := sorted(set(obj) - _ENVELOPE_MEMBERS):
            raise FormatError(f"envelope has unknown member {unknown[0][:40]!r}")
        if missing := sorted(_ENVELOPE_MEMBERS - set(obj)):
            raise FormatError(f"envelope is missing member {missing[0]!r}")
        payload_type = obj["payloadType"]
        if not isinstance(payload_type, str) or not payload_type:
            raise FormatError("payloadType must be a non-empty string")
        payload = _decode_base64(obj["payload"], "payload")
        signatures = obj["signatures"]
        if not isinstance(signatures, list):
            raise FormatError("signatures must be a list")
        if not signatures:
            raise FormatError("signatures must not be empty")
        if len(signatures) > MAX_SIGNATURES:
            raise LimitError(
                f"signatures has {len(signatures)} entries, over the limit of {MAX_SIGNATURES}"
            )
        return cls(
            payload_type=payload_type,
            payload=payload,
            signatures=tuple(
                Signature.from_json(s, what=f"signatures[{i}]") for i, s in enumerate(signatures)
            ),
        )

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Envelope:
        """Parse untrusted envelope bytes (any valid JSON layout; see ``to_bytes``)."""
        return cls._read(data, max_bytes)[0]

    @classmethod
    def from_entry(
        cls, data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> tuple[Envelope, bool]:
        """Parse untrusted envelope bytes; and whether they are its canonical bytes (a log entry).

        The bytes of a log entry must be exactly ``to_bytes()`` of the envelope they parse to;
        bytes the canonical reader takes are, without encoding the envelope again.
        """
        envelope, canonical = cls._read(data, max_bytes)
        return envelope, canonical or envelope.to_bytes() == data

    @classmethod
    def _read(cls, data: bytes, max_bytes: int) -> tuple[Envelope, bool]:
        # The envelope, and whether the canonical reader took it (else the JSON path did).
        if len(data) > max_bytes:
            raise LimitError(f"envelope is {len(data)} bytes, over the limit of {max_bytes}")
        canonical = cls._from_canonical(data)
        if canonical is not None:
            return canonical, True
        obj = parse_json(data, max_bytes=max_bytes, max_depth=_MAX_DEPTH, what="envelope")
        return cls.from_json(obj), False

    @classmethod
    def _from_canonical(cls, data: bytes) -> Envelope | None:
        match = _CANONICAL_ONE_SIGNATURE.fullmatch(data)
        if match is None:
            return None
        payload_text, payload_type, keyid, sig_text = match.groups()
        try:  # the standard alphabet, padded, as to_bytes writes it
            payload = decode_base64(payload_text.decode("ascii"), "payload")
            sig = decode_base64(sig_text.decode("ascii"), "sig")
        except FormatError:
            return None
        signature = Signature(keyid=keyid.decode("ascii"), sig=sig)
        return cls(payload_type.decode("ascii"), payload, (signature,))

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as its parts (the verifier's worker processes send envelopes back): a tenth
        # of the bytes and time of a dataclass pickle, and rebuilt through the checks above.
        parts = tuple((s.keyid, s.sig) for s in self.signatures)
        return (_envelope_from_parts, (self.payload_type, self.payload, parts))

    def to_json(self) -> dict[str, Any]:
        return {
            "payload": _encode_base64(self.payload),
            "payloadType": self.payload_type,
            "signatures": [s.to_json() for s in self.signatures],
        }

    def to_bytes(self) -> bytes:
        """RFC 8785 bytes of ``to_json()``: exactly the bytes of the log entry."""
        if len(self.signatures) == 1:
            signature = self.signatures[0]
            if _PLAIN_TEXT.fullmatch(self.payload_type) and _PLAIN_TEXT.fullmatch(signature.keyid):
                return _ONE_SIGNATURE_TEMPLATE % (
                    binascii.b2a_base64(self.payload, newline=False),
                    self.payload_type.encode("ascii"),
                    signature.keyid.encode("ascii"),
                    binascii.b2a_base64(signature.sig, newline=False),
                )
        return canonical_bytes(self.to_json(), floats=False)  # strings and lists only

    def signed_message(self) -> bytes:
        """The bytes every signature covers: PAE(UTF8(payloadType), payload)."""
        return pae(self.payload_type, self.payload)


def _envelope_from_parts(
    payload_type: str, payload: bytes, signatures: tuple[tuple[str, bytes], ...]
) -> Envelope:
    return Envelope(payload_type, payload, tuple(Signature(k, sig) for k, sig in signatures))


def sign_envelope(
    payload: bytes, key: PrivateKey, *, payload_type: str = EVENT_PAYLOAD_TYPE
) -> Envelope:
    """DSSE ``protocol.md`` → "To sign": sign PAE(type, body); keyid is the key's spola key id."""
    if not payload_type:
        raise FormatError("payloadType must be a non-empty string")
    signature = Signature(keyid=key.public_key.key_id, sig=key.sign(pae(payload_type, payload)))
    return Envelope(payload_type=payload_type, payload=payload, signatures=(signature,))


def verify_envelope(envelope: Envelope, public_key: PublicKey) -> None:
    """Accept the envelope if a signature by ``public_key`` verifies over its PAE.

    DSSE ``protocol.md`` → "To verify": KEYID "MUST NOT be used for security decisions; it may
    only be used to narrow the selection of possible keys to try". So signatures that name this
    key, and signatures that name none, are tried; a failing one is skipped, not fatal.
    """
    wanted = public_key.key_id
    message = envelope.signed_message()
    for signature in envelope.signatures:
        if signature.keyid not in ("", wanted):
            continue
        try:
            public_key.verify(message, signature.sig)
        except SignatureError:
            continue
        return
    raise signature_refused(wanted)


def signature_refused(key_id: str) -> SignatureError:
    """The error for an envelope no signature by ``key_id`` verifies (here, or checked before)."""
    return SignatureError(f"no signature by key {key_id} verifies over the envelope")
