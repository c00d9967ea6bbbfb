"""Step 10: each passport of a bundle rebuilt from the bundle's events, compared field by field.

A passport record holds the document the server built for one version (its public view, RFC
8785 bytes). The verifier derives the versions from the events whose inclusion proof verified
(``ledger.passport.passport_versions``), gathers the facts of the recorded version as the store
does — the applied entries other than ``actor`` and ``key`` events up to the version's index,
and the actors' profiles as they stood then — builds the passport with ``passports.build``
(pure) and compares its public view with the record: every JSON path that differs is a
finding. So is an entry the document cites that the bundle does not carry, or that the ledger
did not apply, and so is any departure of a subject's records from versions 1 … n of its
events, each once, oldest first (a version missing, one beyond the events, one repeated, one
out of order).
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ledger.bundle_records import PassportRecord
from ledger.canonical import canonical_bytes, parse_canonical_object
from ledger.errors import LedgerError
from ledger.events import ActorEvent, Event
from ledger.passport import Fact, PassportFacts, VersionRef, passport_versions
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
    # The entries whose inclusion proof verified, each in index order: only they are known to
    # be the log's, so only they make versions. An entry the log does not hold is a finding of
    # its own (step 6); a version made by one would cost a build each, and a bundle of such
    # copies of one sale a build per copy over all the others.
    proven: set[int] = field(default_factory=set)

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


@dataclass
class _Versions:
    """One subject's versions, derived once from the facts, and what its records held so far."""

    derived: list[VersionRef]
    seen: set[int] = field(default_factory=set)
    highest: int = 0  # the highest version recorded so far (within the derived ones)


class PassportCheck:
    """(10) the passport records of a bundle, checked once every entry has been read."""

    def __init__(self, report: Report, subject: str | None) -> None:
        self.report = report
        self.subject = subject
        self.records: list[PassportRecord] = []
        self.events = BundleEvents()
        # Set by ``check``: facts and profiles by index, and their indexes, for ``bisect``.
        self._facts: list[Fact] = []
        self._fact_indexes: list[int] = []
        self._proven: list[Fact] = []  # the facts whose entries are proved in the log
        self._profiles: list[tuple[int, ActorEvent]] = []
        self._profile_indexes: list[int] = []

    def check(self) -> None:
        """Every record; then every version of a recorded subject that no record holds."""
        self._facts = sorted(self.events.facts, key=lambda f: f.index)
        self._fact_indexes = [f.index for f in self._facts]
        self._proven = [f for f in self._facts if f.index in self.events.proven]
        self._profiles = sorted(self.events.profiles, key=lambda p: p[0])
        self._profile_indexes = [i for i, _ in self._profiles]
        subjects: dict[str, _Versions] = {}
        for record in self.records:
            self._check_record(record, subjects)
        if self.subject is not None and self.records and self.subject not in subjects:
            # every record was of another subject: the bundle's own has none of its versions
            subjects[self.subject] = _Versions(passport_versions(self.subject, self._proven))
        for subject, versions in subjects.items():
            for version in versions.derived:
                if version.number not in versions.seen:
                    self.report.add(
                        STEP,
                        version.index,
                        "passport.version_missing",
                        f"a record of version {version.number} of {subject}",
                        "none in the bundle",
                    )

    def _check_record(self, record: PassportRecord, subjects: dict[str, _Versions]) -> None:
        add = self.report.add
        if self.subject is not None and record.subject != self.subject:
            add(STEP, None, "passport.subject", self.subject, record.subject)
            return
        versions = subjects.get(record.subject)
        if versions is None:
            versions = _Versions(passport_versions(record.subject, self._proven))
            subjects[record.subject] = versions
        number = record.version
        if number in versions.seen:
            add(STEP, None, "passport.duplicate", "each version once", f"version {number} again")
            return
        versions.seen.add(number)
        try:
            document = parse_canonical_object(
                record.document, max_bytes=MAX_DOCUMENT_BYTES, what="passport document"
            )
        except LedgerError as exc:
            add(STEP, None, "passport.document", "an RFC 8785 JSON object", str(exc))
            return
        self._cited(document)
        derived = versions.derived
        if number > len(derived):
            found = f"{len(derived)} version(s) in the bundle's events proved in the log"
            add(STEP, None, "passport.version", f"version {number}", found)
            return
        version = derived[number - 1]
        if number < versions.highest:
            want = f"version {number} before version {versions.highest} (oldest first)"
            add(STEP, version.index, "passport.order", want, f"version {number} after it")
        versions.highest = max(versions.highest, number)
        built = self._build(record.subject, derived[:number])
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

    def _build(self, subject: str, versions: list[VersionRef]) -> Any:
        upto = versions[-1].index
        profiles = self._profiles[: bisect_right(self._profile_indexes, upto)]
        passport_facts = PassportFacts(
            subject=subject,
            versions=tuple(versions),
            facts=tuple(self._facts[: bisect_right(self._fact_indexes, upto)]),
            actors={e.id: e for _, e in profiles},
        )
        try:
            public = build_passport(passport_facts).public()
            return json.loads(canonical_bytes(public))
        # The builder was written for facts the ledger admitted; a hostile bundle may hand it
        # anything, and whatever breaks it is a finding, not a crash of the verifier.
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
