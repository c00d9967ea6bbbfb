"""Audit bundles: one self-contained file an auditor verifies offline (docs/bundle.md).

This module owns the bundle's line format: a manifest line, then checkpoint, verdicts,
consistency, passport, entry and inclusion records, each one RFC 8785 JSON object on a line of
its own. A whole-ledger bundle (scope ``ledger``) holds every entry in order; a partial one
(scope ``passport``, ``item`` or ``actor``, with its subject) holds some entries, each followed
by its inclusion proof to the head checkpoint, the log key's statement of their verdicts, and
for a passport the documents of its versions.

It reads and writes the manifest, and parses untrusted body lines strictly and within bounds
into the records of ``ledger.bundle_records``, which writes them. It checks nothing a line
claims (signatures, hashes, proofs, verdicts): that is the verifier's job (``verifier``), and
reading the entries out of a database is the store's (``ledger.store.bundle``).

A bundle is read line by line, so memory stays bounded whatever the size of the log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from ledger.bundle_records import (
    ROLE_HEAD,
    ROLE_SINCE,
    CheckpointRecord,
    ConsistencyRecord,
    EntryRecord,
    InclusionRecord,
    PassportRecord,
    Record,
    VerdictsRecord,
    canonical_line,
)
from ledger.canonical import MAX_SAFE_INTEGER, parse_canonical_object
from ledger.checkpoint import MAX_TREE_SIZE
from ledger.errors import FormatError, LimitError
from ledger.hashing import HASH_SIZE
from ledger.note import decode_base64
from ledger.receipt import Violation

BUNDLE_FORMAT: Final = "spola-bundle"
BUNDLE_VERSION: Final = 1
SCOPE_LEDGER: Final = "ledger"  # every entry 0 .. tree_size - 1, in order
SCOPE_PASSPORT: Final = "passport"  # a passport's entries, their dependencies, its versions
SCOPE_ITEM: Final = "item"  # an item's (or lot's) entries and their dependencies
SCOPE_ACTOR: Final = "actor"  # the entries one actor signed and their dependencies
PARTIAL_SCOPES: Final = (SCOPE_PASSPORT, SCOPE_ITEM, SCOPE_ACTOR)
MAX_SUBJECT: Final = 200
MAX_MANIFEST_BYTES: Final = 4 * 1024
# An entry is at most 256 KiB (``ledger.envelope``): base64 makes it 4/3 larger, plus the record.
MAX_LINE_BYTES: Final = 512 * 1024
MAX_PROOF_HASHES: Final = 64
_HEX64: Final = re.compile(r"[0-9a-f]{64}")
# The canonical line of an applied entry, nearly every line of a bundle: matched whole, it is
# read without a JSON parser and is known to be RFC 8785 (members in order, no whitespace, an
# integer in canonical form). Any other line takes the JSON path, which says what is wrong.
_APPLIED_ENTRY_LINE: Final = re.compile(
    rb'\{"applied":true,"chain":"([0-9a-f]{64})","entry":"([A-Za-z0-9+/]*={0,2})",'
    rb'"index":(0|[1-9][0-9]{0,15}),"kind":"entry","violation":null\}\n'
)


def _field(obj: dict[str, Any], name: str, kind: type, what: str) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FormatError(f"{what}: {name!r} must be a {kind.__name__}")
    return value


def _size(obj: dict[str, Any], name: str, what: str) -> int:
    value: int = _field(obj, name, int, what)
    if not 0 <= value <= MAX_TREE_SIZE:
        raise FormatError(f"{what}: {name!r} must be a uint64")
    return value


def _members(obj: dict[str, Any], allowed: set[str], what: str) -> None:
    extra = set(obj) - allowed
    if extra:
        raise FormatError(f"{what}: unknown member {sorted(extra)[0]!r}")


def _parse_line(line: bytes, max_bytes: int, what: str) -> dict[str, Any]:
    if len(line) > max_bytes:
        raise LimitError(f"{what} is {len(line)} bytes, over the limit of {max_bytes}")
    if not line.endswith(b"\n"):
        raise FormatError(f"{what} does not end with a newline")
    return parse_canonical_object(line[:-1], max_bytes=max_bytes, what=what)


@dataclass(frozen=True)
class Manifest:
    """The first line: what the rest of the file holds, and the SHA-256 of its bytes.

    ``subject``, ``inclusion`` and ``passports`` are members of a partial bundle's manifest
    only: a whole-ledger manifest has exactly the members it always had.
    """

    origin: str
    scope: str
    tree_size: int
    entries: int
    checkpoints: int
    consistency: int
    body_sha256: bytes
    subject: str | None = None
    inclusion: int = 0
    passports: int = 0

    @property
    def partial(self) -> bool:
        return self.scope != SCOPE_LEDGER

    def to_line(self) -> bytes:
        obj: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "v": BUNDLE_VERSION,
            "origin": self.origin,
            "scope": self.scope,
            "tree_size": self.tree_size,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "consistency": self.consistency,
            "body_sha256": self.body_sha256.hex(),
        }
        if self.partial:
            obj |= {"subject": self.subject, "inclusion": self.inclusion}
            obj["passports"] = self.passports
        return canonical_line(obj)

    @classmethod
    def from_line(cls, line: bytes) -> Manifest:
        what = "bundle manifest"
        obj = _parse_line(line, MAX_MANIFEST_BYTES, what)
        if obj.get("format") != BUNDLE_FORMAT:
            raise FormatError(f"{what}: not a {BUNDLE_FORMAT} file")
        version = obj.get("v")
        if type(version) is not int or version != BUNDLE_VERSION:  # true == 1 in Python
            raise FormatError(f"{what}: version {version!r} is not {BUNDLE_VERSION}")
        scope = _field(obj, "scope", str, what)
        if scope != SCOPE_LEDGER and scope not in PARTIAL_SCOPES:
            raise FormatError(f"{what}: scope {scope[:32]!r} is not supported")
        allowed = {"format", "v", "origin", "scope", "tree_size", "entries", "checkpoints"}
        allowed |= {"consistency", "body_sha256"}
        partial = {"subject", "inclusion", "passports"} if scope in PARTIAL_SCOPES else set()
        _members(obj, allowed | partial, what)
        digest = _field(obj, "body_sha256", str, what)
        if not _HEX64.fullmatch(digest):
            raise FormatError(f"{what}: body_sha256 must be 64 lowercase hex digits")
        subject = _field(obj, "subject", str, what) if partial else None
        if subject is not None and not 0 < len(subject) <= MAX_SUBJECT:
            raise FormatError(f"{what}: subject must be 1 to {MAX_SUBJECT} characters")
        return cls(
            origin=_field(obj, "origin", str, what),
            scope=scope,
            tree_size=_size(obj, "tree_size", what),
            entries=_size(obj, "entries", what),
            checkpoints=_size(obj, "checkpoints", what),
            consistency=_size(obj, "consistency", what),
            body_sha256=bytes.fromhex(digest),
            subject=subject,
            inclusion=_size(obj, "inclusion", what) if partial else 0,
            passports=_size(obj, "passports", what) if partial else 0,
        )


def _checkpoint(obj: dict[str, Any], what: str) -> CheckpointRecord:
    _members(obj, {"kind", "role", "note"}, what)
    role = _field(obj, "role", str, what)
    if role not in (ROLE_HEAD, ROLE_SINCE):
        raise FormatError(f"{what}: role must be {ROLE_HEAD!r} or {ROLE_SINCE!r}")
    return CheckpointRecord(role=role, note=_field(obj, "note", str, what).encode("utf-8"))


def _verdicts(obj: dict[str, Any], what: str) -> VerdictsRecord:
    _members(obj, {"kind", "note"}, what)
    return VerdictsRecord(note=_field(obj, "note", str, what).encode("utf-8"))


def _proof(obj: dict[str, Any], what: str) -> tuple[bytes, ...]:
    proof = _field(obj, "proof", list, what)
    if len(proof) > MAX_PROOF_HASHES:
        raise LimitError(f"{what}: more than {MAX_PROOF_HASHES} proof hashes")
    hashes = []
    for i, text in enumerate(proof):
        if not isinstance(text, str):
            raise FormatError(f"{what}: proof hash {i} must be base64 text")
        hashes.append(decode_base64(text, f"{what}: proof hash {i}"))
    return tuple(hashes)


def _consistency(obj: dict[str, Any], what: str) -> ConsistencyRecord:
    _members(obj, {"kind", "size1", "size2", "proof"}, what)
    return ConsistencyRecord(
        size1=_size(obj, "size1", what), size2=_size(obj, "size2", what), proof=_proof(obj, what)
    )


def _inclusion(obj: dict[str, Any], what: str) -> InclusionRecord:
    _members(obj, {"kind", "index", "tree_size", "proof"}, what)
    return InclusionRecord(
        index=_size(obj, "index", what),
        tree_size=_size(obj, "tree_size", what),
        proof=_proof(obj, what),
    )


def _passport(obj: dict[str, Any], what: str) -> PassportRecord:
    _members(obj, {"kind", "subject", "version", "document"}, what)
    subject = _field(obj, "subject", str, what)
    if not 0 < len(subject) <= MAX_SUBJECT:
        raise FormatError(f"{what}: subject must be 1 to {MAX_SUBJECT} characters")
    version = _size(obj, "version", what)
    if version < 1:
        raise FormatError(f"{what}: versions count from 1")
    document = decode_base64(_field(obj, "document", str, what), f"{what}: document")
    return PassportRecord(subject=subject, version=version, document=document)


def _entry(obj: dict[str, Any], what: str) -> EntryRecord:
    _members(obj, {"kind", "index", "entry", "chain", "applied", "violation"}, what)
    chain = _field(obj, "chain", str, what)
    if not _HEX64.fullmatch(chain):
        raise FormatError(f"{what}: chain must be {HASH_SIZE * 2} lowercase hex digits")
    applied = _field(obj, "applied", bool, what)
    if "violation" not in obj:
        raise FormatError(f"{what}: 'violation' is missing (null when applied)")
    raw = obj["violation"]
    violation = None
    if raw is not None:
        if not isinstance(raw, dict) or set(raw) != {"rule", "detail"}:
            raise FormatError(f"{what}: violation must be null or {{rule, detail}}")
        if not isinstance(raw["rule"], str) or not isinstance(raw["detail"], str):
            raise FormatError(f"{what}: violation rule and detail must be strings")
        violation = Violation(raw["rule"], raw["detail"])
    if applied == (violation is not None):
        raise FormatError(f"{what}: an entry carries a violation exactly when not applied")
    return EntryRecord(
        index=_size(obj, "index", what),
        entry=decode_base64(_field(obj, "entry", str, what), f"{what}: entry"),
        chain_hash=bytes.fromhex(chain),
        applied=applied,
        violation=violation,
    )


def _applied_entry(line: bytes) -> EntryRecord | None:
    """The record of a canonical applied-entry line; None for any other line."""
    match = _APPLIED_ENTRY_LINE.fullmatch(line)
    if match is None:
        return None
    chain, entry, index = match.groups()
    value = int(index)
    if value > MAX_SAFE_INTEGER:
        return None
    try:
        raw = decode_base64(entry.decode("ascii"), "entry")
    except FormatError:
        return None
    chain_hash = bytes.fromhex(chain.decode("ascii"))
    return EntryRecord(value, raw, chain_hash, applied=True, violation=None)


def parse_record(line: bytes, *, number: int) -> Record:
    """Parse body line ``number`` (the manifest is line 1); FormatError or LimitError."""
    if len(line) <= MAX_LINE_BYTES and (record := _applied_entry(line)) is not None:
        return record
    return _parse_json_record(line, number)


def _parse_json_record(line: bytes, number: int) -> Record:
    what = f"bundle line {number}"
    obj = _parse_line(line, MAX_LINE_BYTES, what)
    kind = obj.get("kind")
    if kind == "entry":
        return _entry(obj, what)
    if kind == "checkpoint":
        return _checkpoint(obj, what)
    if kind == "consistency":
        return _consistency(obj, what)
    if kind == "inclusion":
        return _inclusion(obj, what)
    if kind == "passport":
        return _passport(obj, what)
    if kind == "verdicts":
        return _verdicts(obj, what)
    raise FormatError(f"{what}: unknown kind {str(kind)[:32]!r}")


__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "MAX_LINE_BYTES",
    "MAX_MANIFEST_BYTES",
    "PARTIAL_SCOPES",
    "SCOPE_ACTOR",
    "SCOPE_ITEM",
    "SCOPE_LEDGER",
    "SCOPE_PASSPORT",
    "Manifest",
    "parse_record",
]
