"""Steps 5 to 9 on a partial bundle: some entries, each with its inclusion proof to the head.

A partial bundle (scope ``passport``, ``item`` or ``actor``) carries only the entries of its
subject and the ``actor`` and ``key`` entries their signers depend on. Its entries are not
contiguous, so the chain and the Merkle root cannot be recomputed from them: each entry's leaf
hash is proved into the head checkpoint's root by its inclusion proof instead (step 6), and a
chain link is checked only where the entry before it is in the bundle too. Key validity by
index (step 7) comes from replaying the bundle's registry entries in index order — every
registry entry about a signer is in the bundle, so the keys valid at an index are known.
Feeds (step 8) and the domain rules (step 9) depend on every entry of a feed or a lot: they
are not applicable, and are reported so, never as passed.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from ledger.assessment import NewerModelError
from ledger.bundle import SCOPE_ACTOR
from ledger.bundle_records import InclusionRecord
from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.envelope import EVENT_PAYLOAD_TYPE, Envelope, signature_refused, verify_envelope
from ledger.errors import LedgerError, ProofError, RuleViolation, SignatureError
from ledger.events import ActorEvent, Event, KeyEvent, parse_event
from ledger.hashing import CHAIN_GENESIS, chain_hash
from ledger.keys import PublicKey
from ledger.passport import passport_versions
from ledger.proofs import verify_inclusion
from ledger.receipt import Violation
from ledger.registry import KeyRecord, apply_registry_event, check_attribution, signing_key
from ledger.replay import Registry
from ledger.verdicts import VerdictDigest
from verifier.entries import EntryResult, KeyCache, check_signature
from verifier.findings import UnusableInputError, classify_refusal, verdict_text
from verifier.passports import PassportCheck
from verifier.report import Report

NOT_APPLICABLE: Final = "not applicable to a partial bundle"
CHECKED_BY_PROOFS: Final = "partial bundle: chain and root checked through inclusion proofs"
VERDICTS_SIGNED: Final = (
    "partial bundle: verdicts checked against the log key's statement; rules not replayed"
)


def _names(payload: bytes, token: bytes) -> bool:
    """Whether the JSON ``token`` (a string, or a member and its value) is in ``payload`` as a
    whole: in RFC 8785 bytes, a value (or member) starts after '{', '[', ',' or ':' and ends
    before ',', ']' or '}' (a member's name ends before ':'; a '"' inside a string is escaped,
    so a quote after one of those bytes is no part of a longer string)."""
    at = payload.find(token)
    while at >= 0:
        end = at + len(token)
        if payload[at - 1 : at] in _BEFORE and payload[end : end + 1] in _AFTER:
            return True
        at = payload.find(token, at + 1)
    return False


_BEFORE: Final = (b"{", b"[", b",", b":")
_AFTER: Final = (b",", b"]", b"}")


class PartialRun:
    """The entries of a partial bundle, in line order: index order, each then its proof."""

    def __init__(
        self, report: Report, tree_size: int, log_key: KeyRecord, passports: PassportCheck
    ) -> None:
        self.report = report
        self.tree_size = tree_size
        self.head: Checkpoint | None = None  # set once the header is read
        self.registry = Registry()
        self.registry.keys[log_key.key_id] = log_key
        self.passports = passports
        self.last: tuple[int, bytes] | None = None  # (index, published chain) of the last entry
        # The highest index of an entry in order so far: an entry is in order when its index is
        # above every one before it and below the tree size. Only such an entry is the bundle's
        # one entry at its index: its proof proves the index (step 6), and only its event and
        # verdict count for step 10. Every other entry is a finding of step 5.
        self.highest = -1
        self.in_order: deque[bool] = deque()  # for ``check_chunk``, one per entry in line order
        # (index, leaf, in order) of the entry awaiting its proof
        self.pending: tuple[int, bytes, bool] | None = None
        self.unread_entry = False  # a line that did not parse, taken as an entry: awaits its proof
        # (the lowest index it may stand for, what it is) of each entry or proof line that did
        # not parse: step 10's facts are complete only below the lowest
        self.unread: list[tuple[int, str]] = []
        self.entries = 0
        self.verdicts = VerdictDigest()  # of the published verdicts, for the log's statement
        self.genesis = False  # index 0 seen: the operator's registration, the registry's root
        # The subject as a whole JSON string, quotes included, as an RFC 8785 payload writes
        # it: an item's or lot's events name it (as a value, not a member's name, nor a part
        # of a longer string: another item's serial may begin with it); an actor's bundle
        # holds events it signed.
        self.needle = None
        if report.subject is not None:
            quoted = canonical_bytes(report.subject)
            self.needle = b'"actor":' + quoted if report.scope == SCOPE_ACTOR else quoted
        self.mentioned = False

    # -- (5) entries: increasing indexes, canonical envelopes, chain links where contiguous --

    def entry(self, result: EntryResult) -> None:
        number, _, envelope, canonical, leaf, published_chain, published, _ = result
        report = self.report
        if self.unread_entry:  # the line before, taken as an entry, had no proof after it
            self.unread_entry = False
            self._unread_entry(None)
        self.entries += 1
        self.verdicts.add(number, published_chain, published is None, published)
        self.genesis = self.genesis or number == 0
        if not self.mentioned and self.needle is not None and isinstance(envelope, Envelope):
            self.mentioned = _names(envelope.payload, self.needle)
        # Below the head's size, which the log key signed; the manifest's, which nobody signed,
        # only when the head did not verify (step 3 says so either way).
        size = self.tree_size if self.head is None else self.head.size
        in_order = self.highest < number < size
        if in_order:
            self.highest = number
        else:
            want = f"an index above {self.highest} and below {size}"
            report.add(5, number, "entry.index", want, f"index {number}")
        self.in_order.append(in_order)
        if isinstance(envelope, str):
            report.add(5, number, "entry.envelope", "a DSSE envelope", envelope)
        elif not canonical:
            report.add(5, number, "entry.canonical", "RFC 8785 bytes of the envelope", "other")
        before = CHAIN_GENESIS if number == 0 else None
        if self.last is not None and self.last[0] == number - 1:
            before = self.last[1]
        if before is not None and (linked := chain_hash(before, leaf)) != published_chain:
            report.add(
                5, number, "entry.chain_hash", linked.hex(), f"published {published_chain.hex()}"
            )
        self.last = (number, published_chain)
        self._missing_proof()
        self.pending = (number, leaf, in_order)

    def unreadable(self) -> None:
        """A body line that did not parse (reported in step 1), taken for what the line order
        puts there: the proof of the entry awaiting one, else an entry, whose proof is the next
        line. Either way step 10 is told that the facts from there on are incomplete, rather
        than rebuilding passports without them and blaming the documents."""
        pending, self.pending = self.pending, None
        if pending is not None:
            if pending[2]:  # the bundle's entry at its index, which no proof can prove now
                index = pending[0]
                self._unread(index, f"the inclusion proof of entry {index}")
        elif self.unread_entry:
            self.unread_entry = False  # its proof, if any: nothing to check it against
            self._unread_entry(None)
        else:
            self.unread_entry = True

    def _unread(self, index: int, what: str) -> None:
        self.unread.append((index, what))

    def _unread_entry(self, claimed: int | None) -> None:
        """The entry line that did not parse: at the index its proof names when that is in
        order, else somewhere after the last entry in order."""
        size = self.tree_size if self.head is None else self.head.size
        if claimed is not None and self.highest < claimed < size:
            self._unread(claimed, f"entry {claimed}")
        else:
            self._unread(self.highest + 1, f"an entry after {self.highest}")

    def _missing_proof(self) -> None:
        if self.pending is not None:
            index = self.pending[0]
            self.report.add(6, index, "inclusion.missing", "an inclusion proof", "none")
            self.pending = None

    # -- (6) inclusion proofs -------------------------------------------------------------

    def inclusion(self, record: InclusionRecord) -> None:
        if self.unread_entry:  # the proof of the line before, which cannot be checked
            self.unread_entry = False
            self._unread_entry(record.index)
            return
        pending, self.pending = self.pending, None
        if pending is None or pending[0] != record.index:
            if pending is not None:
                self.pending = pending  # still waiting for its own
            want = "the proof of the entry just before" if pending else "an entry first"
            self.report.add(6, record.index, "inclusion.order", want, "another proof")
            return
        head = self.head
        if head is None:
            return  # reported in step 3: nothing to prove against
        if record.tree_size != head.size:
            want = f"a proof to the head's size {head.size}"
            self.report.add(6, record.index, "inclusion.tree_size", want, str(record.tree_size))
            return
        try:
            verify_inclusion(pending[1], record.index, head.size, record.proof, head.root_hash)
        except ProofError as exc:
            self.report.add(6, record.index, "inclusion.proof", head.root_hash.hex(), str(exc))
            return
        if pending[2]:  # the bundle's one entry at its index, in the log there
            self.passports.events.proven.add(record.index)

    # -- (7) signatures and key validity by index, from the bundle's registry entries ------

    def check_chunk(self, chunk: list[EntryResult], known: KeyCache) -> None:
        for number, _, parsed, _, _, _, published, checked in chunk:
            # Only an entry in order (``entry``) is the bundle's one entry at its index: step 10
            # takes nothing (verdict, event) of any other, whose index another entry's proof
            # may have proved (``proven`` is by index), so that it makes no version.
            in_order = self.in_order.popleft()
            if not isinstance(parsed, Envelope):
                if in_order:
                    self.passports.events.add(number, None, published is None)
                continue  # reported in step 5
            signature = checked if checked is not None else check_signature(parsed, known)
            event = self._admit(number, parsed, signature)
            kept = event if self.passports.records else None  # only step 10 needs the events
            if in_order:
                self.passports.events.add(number, kept, published is None)
            if event is not None and published is None:
                self._registry(number, parsed, event)

    def _admit(self, index: int, envelope: Envelope, signature: bool | None) -> Event | None:
        """What the sequencer checked on admission, save the feed: the event, or a finding."""
        try:
            if envelope.payload_type != EVENT_PAYLOAD_TYPE or len(envelope.signatures) != 1:
                self.report.add(5, index, "entry.payload", "a one-signature event", "other")
                return None
            signer = signing_key(self.registry, envelope.signatures[0].keyid, index)
            if signature is None:
                verify_envelope(envelope, PublicKey(signer.public_key))
            elif not signature:
                raise signature_refused(signer.key_id)
            self.report.signatures_checked += 1
            event = parse_event(envelope.payload)
            check_attribution(event, signer)
        except SignatureError as exc:
            step, rule, expected = classify_refusal(exc, self.registry, index, envelope)
            self.report.add(step, index, rule, expected, str(exc))
            return None
        except NewerModelError as exc:  # signed, and this verifier is too old to read it
            raise UnusableInputError(f"this verifier cannot read entry {index}: {exc}") from exc
        except LedgerError as exc:
            self.report.add(5, index, "entry.payload", "a well-formed event payload", str(exc))
            return None
        return event

    def _registry(self, index: int, envelope: Envelope, event: Event) -> None:
        """A registry entry published as applied changes the keys valid from the next index."""
        if not isinstance(event, ActorEvent | KeyEvent):
            return
        signer = signing_key(self.registry, envelope.signatures[0].keyid, index)
        try:
            changes = apply_registry_event(
                event, envelope.payload, index=index, signer=signer, view=self.registry
            )
        except RuleViolation as broken:
            replayed = verdict_text(Violation(broken.rule, broken.detail))
            self.report.add(7, index, broken.rule, f"replay: {replayed}", "applied")
            return
        self.registry.apply(changes)

    def _incomplete_facts(self) -> None:
        """(10) with an entry or a proof line unread, the facts are complete only below its
        index: the versions made there are rebuilt and checked, the records of later ones are
        not (their facts, or the version numbers themselves, may lack the unread entry), and
        step 10 says so once, naming the line, instead of blaming the documents."""
        if not self.unread:
            return
        limit, what = min(self.unread)
        passports = self.passports
        events = passports.events
        events.proven = {index for index in events.proven if index < limit}
        subject = self.report.subject
        if subject is None or not passports.records:
            return
        facts = sorted(events.facts, key=lambda f: f.index)
        known = len(passport_versions(subject, [f for f in facts if f.index in events.proven]))
        later = [r for r in passports.records if r.subject == subject and r.version > known]
        if not later:
            return
        passports.records = [r for r in passports.records if r not in later]
        records = f"{len(later)} passport record{'s' if len(later) != 1 else ''}"
        self.report.skipped[10] = (
            f"{records} not checked: {what} could not be read (step 1), "
            f"and the versions from index {limit} on depend on it"
        )

    # -- the end --------------------------------------------------------------------------

    def finish(self) -> None:
        self._missing_proof()
        if self.unread_entry:
            self.unread_entry = False
            self._unread_entry(None)
        if not self.genesis:
            want = "the genesis entry (index 0), which every partial bundle carries"
            self.report.add(5, None, "entry.genesis", want, "none")
        if self.needle is not None and not self.mentioned:
            signed = "an entry signed by" if self.report.scope == SCOPE_ACTOR else "an entry about"
            want = f"{signed} the bundle's subject {self.report.subject}"
            self.report.add(5, None, "entry.subject", want, "none")
        self.report.entries = self.entries
        self._incomplete_facts()
        self.report.notes[5] = CHECKED_BY_PROOFS
        self.report.skipped[8] = NOT_APPLICABLE
        self.report.notes[9] = VERDICTS_SIGNED
