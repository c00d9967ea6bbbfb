"""Step 10: each passport of a bundle rebuilt from the bundle's events, compared field by field.

A passport record holds the document the server built for one version (its public view, RFC
8785 bytes). The verifier derives the versions from the events (``ledger.passport.
passport_versions``), gathers the facts of the recorded version as the store does — the applied
entries other than ``actor`` and ``key`` events up to the version's index, and the actors'
profiles as they stood then — builds the passport with ``passports.build`` (pure) and compares
its public view with the record: every JSON path that differs is a finding. So is an entry the
document cites that the bundle does not carry, or that the ledger did not apply.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ledger.bundle import PassportRecord
from ledger.canonical import canonical_bytes, parse_canonical_object
from ledger.errors import LedgerError
from ledger.events import ActorEvent, Event
from ledger.passport import Fact, PassportFacts, passport_versions
from passports.build import build_passport
from verifier.report import Report

STEP: Final = 10
MAX_DOCUMENT_BYTES: Final = 512 * 1024
MAX_SHOWN: Final = 120  # characters of a value shown in a finding


@dataclass
class BundleEvents:
    """What step 10 needs of the entries: applied events, actors' profiles, verdicts."""

    facts: list[Fact] = field(default_factory=list)  # applied, not actor or key, log order
    profiles: list[tuple[int, ActorEvent]] = field(default_factory=list)  # applied, log order
    applied: dict[int, bool] = field(default_factory=dict)  # every entry: published verdict

    def add(self, index: int, event: Event | None, applied: bool) -> None:
        self.applied[index] = applied
        if event is None or not applied:
            return
        if isinstance(event, ActorEvent):
            self.profiles.append((index, event))
        elif event.type not in ("actor", "key"):
            self.facts.append(Fact(index, event))


def _show(value: Any) -> str:
    text = "(absent)" if value is _ABSENT else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


_ABSENT: Final = object()


def differences(expected: Any, actual: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Each JSON path (RFC 6901) where ``actual`` differs from ``expected``, with both values."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for name in sorted(set(expected) | set(actual)):
            here = f"{path}/{name.replace('~', '~0').replace('/', '~1')}"
            yield from differences(expected.get(name, _ABSENT), actual.get(name, _ABSENT), here)
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            yield from differences(e, a, f"{path}/{i}")
    elif expected != actual or type(expected) is not type(actual):
        yield path or "/", expected, actual


class PassportCheck:
    """(10) the passport records of a bundle, checked once every entry has been read."""

    def __init__(self, report: Report, subject: str | None) -> None:
        self.report = report
        self.subject = subject
        self.records: list[PassportRecord] = []
        self.events = BundleEvents()

    def check(self) -> None:
        facts = sorted(self.events.facts, key=lambda f: f.index)
        for record in self.records:
            self._check_record(record, facts)

    def _check_record(self, record: PassportRecord, facts: list[Fact]) -> None:
        add = self.report.add
        if self.subject is not None and record.subject != self.subject:
            add(STEP, None, "passport.subject", self.subject, record.subject)
            return
        try:
            document = parse_canonical_object(
                record.document, max_bytes=MAX_DOCUMENT_BYTES, what="passport document"
            )
        except LedgerError as exc:
            add(STEP, None, "passport.document", "an RFC 8785 JSON object", str(exc))
            return
        self._cited(document)
        versions = passport_versions(record.subject, facts)
        if record.version > len(versions):
            found = f"{len(versions)} version(s) in the bundle's events"
            add(STEP, None, "passport.version", f"version {record.version}", found)
            return
        version = versions[record.version - 1]
        built = self._build(record.subject, versions[: version.number], facts)
        if isinstance(built, str):
            add(STEP, version.index, "passport.build", "a passport built from the events", built)
            return
        for path, want, got in differences(built, document):
            add(STEP, version.index, "passport.field", f"{path}: {_show(want)}", _show(got))

    def _cited(self, document: Mapping[str, Any]) -> None:
        cited = document.get("entries")
        if not isinstance(cited, list):
            return
        for index in cited:
            applied = self.events.applied.get(index) if isinstance(index, int) else None
            if applied is None:
                self.report.add(
                    STEP,
                    index if isinstance(index, int) else None,
                    "passport.entry_missing",
                    "every entry the passport cites, in the bundle",
                    f"entry {index!r} is not in the bundle",
                )
            elif not applied:
                self.report.add(
                    STEP, index, "passport.not_applied", "applied", "not applied, as published"
                )

    def _build(self, subject: str, versions: list[Any], facts: list[Fact]) -> Any:
        upto = versions[-1].index
        profiles = {e.id: e for i, e in self.events.profiles if i <= upto}
        passport_facts = PassportFacts(
            subject=subject,
            versions=tuple(versions),
            facts=tuple(f for f in facts if f.index <= upto),
            actors=profiles,
        )
        try:
            public = build_passport(passport_facts).public()
            return json.loads(canonical_bytes(public))
        # The builder was written for facts the ledger admitted; a hostile bundle may hand it
        # anything, and whatever breaks it is a finding, not a crash of the verifier.
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
