"""The partial tamper vectors: one passport's bundle, and mutations of it.

The bundle carries the scarf's passport of ``passport_story``: the entries it was built from,
each with its inclusion proof, the registry entries its signers depend on, and the public
documents of its two versions, built from those entries alone as the verifier rebuilds them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ledger.bundle import SCOPE_ACTOR, SCOPE_PASSPORT
from ledger.bundle_records import EntryRecord, PassportRecord
from ledger.canonical import canonical_bytes
from ledger.envelope import Envelope
from ledger.events import ActorEvent, KeyEvent, parse_event
from ledger.passport import Fact, PassportFacts, passport_versions
from ledger.receipt import Violation
from passports.build import build_passport
from tests.vectors.bundles.sealing import partial, seal
from tests.vectors.bundles.story import FILANDA, SCARF, Vector, passport_story

# The scarf's passport: what made it and lot C, lot C's handover, its passport and sale; the
# genesis entry and the registry entries of filanda and maison.
PASSPORT_ENTRIES = [0, 1, 2, 11, 13, 14, 15, 16, 17, 18, 19]


def passport_records(whole: list[EntryRecord], indexes: list[int]) -> list[PassportRecord]:
    """Each version's public document, built from the entries at ``indexes`` alone."""
    facts, profiles = [], {}
    for i in sorted(indexes):
        event = parse_event(Envelope.from_bytes(whole[i].entry).payload)
        if isinstance(event, ActorEvent):
            profiles[i] = event
        elif not isinstance(event, KeyEvent) and whole[i].applied:
            facts.append(Fact(i, event))
    records = []
    versions = passport_versions(SCARF, facts)
    for version in versions:
        built = PassportFacts(
            subject=SCARF,
            versions=tuple(versions[: version.number]),
            facts=tuple(f for f in facts if f.index <= version.index),
            actors={e.id: e for i, e in profiles.items() if i <= version.index},
        )
        document = canonical_bytes(build_passport(built).public())
        records.append(PassportRecord(SCARF, version.number, document))
    return records


def _edit_document(
    record: PassportRecord, edit: Callable[[dict[str, Any]], None]
) -> PassportRecord:
    document = json.loads(record.document)
    edit(document)
    return replace(record, document=canonical_bytes(document))


def partial_vectors() -> dict[str, Vector]:
    whole = seal(passport_story().envelopes)
    records = passport_records(whole.entries, PASSPORT_ENTRIES)
    good = partial(whole, PASSPORT_ENTRIES, scope=SCOPE_PASSPORT, subject=SCARF, passports=records)
    renamed = _edit_document(records[0], lambda d: d["product"].update(name="Foulard Como"))
    ghost = _edit_document(records[1], lambda d: d["entries"].append(99))
    at = PASSPORT_ENTRIES.index(11)
    truncated = list(good.inclusion)
    truncated[at] = replace(truncated[at], proof=truncated[at].proof[:-1])
    swapped = list(good.entries)
    swapped[at] = replace(whole.entries[12], index=11)  # sartoria's lot S, validly signed
    sale = PASSPORT_ENTRIES.index(19)
    unsold = list(good.entries)
    forged = Violation("lifecycle.wrong_state", "the item is not for sale")
    unsold[sale] = replace(unsold[sale], applied=False, violation=forged)
    rechained = list(good.entries)
    rechained[at] = replace(rechained[at], chain_hash=bytes(32))  # neither 10 nor 12 is here
    return {
        "valid_passport": ("a passport bundle: every check passes", good, []),
        "passport_field_altered": (
            "the product name of version 1 of the passport altered",
            replace(good, passports=[renamed, records[1]]),
            [(10, "passport.field", 18)],
        ),
        "passport_cites_missing_entry": (
            "the passport cites an entry that is not in the log",
            replace(good, passports=[records[0], ghost]),
            [(10, "passport.entry_missing", 99), (10, "passport.field", 19)],
        ),
        "truncated_inclusion_proof": (
            "the inclusion proof of lot C's material event misses its last hash",
            replace(good, inclusion=truncated),
            [(6, "inclusion.proof", 11)],
        ),
        "partial_entry_swapped": (
            "lot C's material event replaced by another validly signed entry of the log",
            replace(good, entries=swapped),
            [(6, "inclusion.proof", 11)],
        ),
        "partial_verdict_forged": (
            "the scarf's sale published as refused, so that it seems unsold, with the version"
            " it made dropped",
            replace(good, entries=unsold, passports=[records[0]]),
            [(9, "verdicts.digest", None)],
        ),
        "partial_relabelled": (
            "the scarf's passport bundle presented as every entry filanda signed (it signed 7"
            " and 8 too, which are left out)",
            replace(good, scope=SCOPE_ACTOR, subject=FILANDA, passports=[]),
            [(3, "verdicts.subject", None)],
        ),
        "partial_chain_hash_rewritten": (
            "the chain hash of lot C's material event rewritten, where no neighbour's link"
            " checks it",
            replace(good, entries=rechained),
            [(9, "verdicts.digest", None)],
        ),
        "partial_verdicts_unsigned": (
            "a passport bundle without the log key's statement of its verdicts",
            replace(good, verdicts=None),
            [(9, "verdicts.missing", None)],
        ),
    }
