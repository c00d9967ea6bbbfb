"""The header records of one bundle (docs/bundle.md, "Verifying", steps 3 and 4).

``Header`` checks the checkpoints and the log key's verdict statement as they are read (3),
keeps the consistency proof for step 4, and at the end compares the head and the earlier
checkpoints (bundled or trusted): by the proof, by the roots a whole ledger recomputes at every
size, or, in a partial bundle, which carries no proof, head against checkpoint. The statement is
compared with the verdicts a partial bundle publishes (3 and 9).

It leaves out the passport records (held for step 10 by the run, ``verifier.steps``) and the
entries. Like the rest of the verifier, it imports only the pure core.
"""

from __future__ import annotations

from typing import Final

from ledger.bundle import Manifest
from ledger.bundle_records import ROLE_HEAD, CheckpointRecord, ConsistencyRecord, VerdictsRecord
from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.compact import CompactRange
from ledger.errors import CheckpointError, LedgerError
from ledger.proofs import verify_consistency
from ledger.verdicts import VerdictDigest, VerdictStatement, verify_verdicts
from verifier.report import Report

MAX_CONSISTENCY: Final = 1  # the proof from the one since checkpoint


class Header:
    """The checkpoints, the consistency proof and the verdict statement of one bundle."""

    def __init__(
        self, report: Report, manifest: Manifest, vkey: str, trusted: Checkpoint | None
    ) -> None:
        self.report = report
        self.manifest = manifest
        self.vkey = vkey
        self.trusted = trusted
        self.head: Checkpoint | None = None
        self.since: Checkpoint | None = None
        self.consistency: list[ConsistencyRecord] = []
        self.checkpoints = 0
        self.statement: VerdictStatement | None = None  # partial bundles: what the log key signed
        self.statements = 0  # verdict statements read, good or bad

    # -- (3) checkpoints and the verdict statement, as read ----------------------------------

    def checkpoint(self, record: CheckpointRecord) -> None:
        report = self.report
        self.checkpoints += 1
        try:
            checkpoint = verify_checkpoint(record.note, self.vkey, origin=self.manifest.origin)
        except CheckpointError as exc:
            report.add(3, None, "checkpoint.signature", "signed by the log key", str(exc))
            return
        if record.role == ROLE_HEAD:
            if self.head is not None:
                report.add(3, None, "checkpoint.head", "one head checkpoint", "two")
            self.head = checkpoint
            if checkpoint.size != self.manifest.tree_size:
                report.add(
                    3,
                    None,
                    "checkpoint.tree_size",
                    f"manifest tree size {self.manifest.tree_size}",
                    f"checkpoint size {checkpoint.size}",
                )
        elif self.manifest.partial:
            want = "no since checkpoint in a partial bundle"
            report.add(3, None, "checkpoint.since", want, f"size {checkpoint.size}")
        elif self.since is not None:
            report.add(3, None, "checkpoint.since", "at most one since checkpoint", "two")
        else:
            self.since = checkpoint

    def verdicts(self, record: VerdictsRecord) -> None:
        """(3) a partial bundle's verdict statement: signed by the log key, for its origin."""
        report = self.report
        if not self.manifest.partial:
            want = "no verdict statement in a whole-ledger bundle"
            report.add(1, None, "bundle.verdicts", want, "one")
            return
        if self.statements:  # counts every statement read, good or bad
            report.add(3, None, "verdicts.count", "one verdict statement", "more")
        self.statements += 1
        try:
            statement = verify_verdicts(record.note, self.vkey, origin=self.manifest.origin)
        except CheckpointError as exc:
            report.add(3, None, "verdicts.signature", "signed by the log key", str(exc))
            return
        self.statement = statement

    def keep_consistency(self, record: ConsistencyRecord) -> None:
        """A consistency proof, kept for step 4 (a partial bundle's is not kept: it carries
        none, and one is a finding of step 1)."""
        if self.manifest.partial:
            return
        if len(self.consistency) >= MAX_CONSISTENCY:
            want = f"at most {MAX_CONSISTENCY} consistency proof"
            self.report.add(1, None, "bundle.consistency", want, "another")
            return
        self.consistency.append(record)

    # -- (4) consistency ---------------------------------------------------------------------

    def consistency_proofs(self) -> None:
        """(4) each proof from an earlier checkpoint (bundled or trusted) to the head."""
        head = self.head
        earlier = [c for c in (self.since, self.trusted) if c is not None]
        for record in self.consistency:
            start = next((c for c in earlier if c.size == record.size1), None)
            if head is None or start is None or record.size2 != head.size:
                self.report.add(
                    4,
                    None,
                    "consistency.sizes",
                    "a proof between two verified checkpoints",
                    f"a proof from size {record.size1} to {record.size2}",
                )
                continue
            try:
                verify_consistency(
                    record.size1, record.size2, record.proof, start.root_hash, head.root_hash
                )
            except LedgerError as exc:
                self.report.add(4, None, "consistency.proof", "a valid proof", str(exc))

    def earlier_roots(self, compact: CompactRange) -> None:
        """(4) a whole-ledger bundle recomputes the root at every size: each earlier
        checkpoint's root must be the root of the first entries of this log."""
        size = compact.size
        for rule, checkpoint in (("trusted", self.trusted), ("since", self.since)):
            if checkpoint is not None and checkpoint.size == size:
                root = compact.root()
                if root != checkpoint.root_hash:
                    self.report.add(
                        4,
                        size - 1 if size else None,
                        f"consistency.{rule}_root",
                        f"root {checkpoint.root_hash.hex()} at size {size}",
                        f"entries give {root.hex()}",
                    )

    def ledger_sizes(self, size: int) -> None:
        """(4) at the end of a whole ledger of ``size`` entries: no earlier checkpoint larger.
        A larger one is a log behind what was already seen (a backup restored, a bundle
        exported before it): the finding says by how many entries."""
        for rule, checkpoint in (("trusted", self.trusted), ("since", self.since)):
            if checkpoint is not None and checkpoint.size > size:
                behind = _behind(rule, checkpoint.size, size)
                self.report.add(4, None, f"consistency.{rule}_size", *behind)
        if self.trusted is None and self.since is None:
            self.report.skipped[4] = "no trusted checkpoint given"

    def partial_checkpoints(self) -> None:
        """(4) in a partial bundle, with no consistency proof (one the bundle holds is refused
        in step 1): a checkpoint of the head's size must have its root, a larger one is newer
        than the bundle; a smaller one cannot be checked."""
        head = self.head
        if self.trusted is None and self.since is None:
            self.report.skipped[4] = "no trusted checkpoint given"
        for rule, checkpoint in (("trusted", self.trusted), ("since", self.since)):
            if checkpoint is None or head is None:
                continue
            if checkpoint.size > head.size:
                # As for a whole ledger: the bundle shows the log as it was before the state
                # the auditor already trusts (a passport before its item's resale, a key before
                # its revocation).
                behind = _behind(rule, checkpoint.size, head.size, head=True)
                self.report.add(4, None, f"consistency.{rule}_size", *behind)
            elif checkpoint.size < head.size:
                self.report.skipped[4] = "a partial bundle carries no consistency proof"
            elif checkpoint.root_hash != head.root_hash:
                want = f"root {checkpoint.root_hash.hex()} at size {head.size}"
                got = f"head root {head.root_hash.hex()}"
                self.report.add(4, None, f"consistency.{rule}_root", want, got)

    # -- (3) and (9) the verdict statement against the bundle --------------------------------

    def check_statement(self, published: VerdictDigest) -> None:
        """(3) the log key's statement is about this head, scope and subject; (9) the published
        verdicts and chain hashes (``published``) are those it signed."""
        statement, report, head = self.statement, self.report, self.head
        if statement is None:
            if not self.statements:  # a bad one is reported in step 3
                want = "the log key's statement of the verdicts"
                report.add(9, None, "verdicts.missing", want, "none")
            return
        if head is not None and not statement.covers(head):
            want = f"verdicts of the head checkpoint (size {head.size})"
            got = f"verdicts of size {statement.size}, root {statement.root_hash.hex()}"
            report.add(3, None, "verdicts.checkpoint", want, got)
            return
        signed = (statement.scope, statement.subject)
        if signed != (self.manifest.scope, self.manifest.subject):
            want = f"the {statement.scope} bundle of {statement.subject}, as the log key signed"
            got = f"the manifest's {self.manifest.scope} bundle of {self.manifest.subject}"
            report.add(3, None, "verdicts.subject", want, got)
        digest = published.digest()
        if digest != statement.digest:
            report.add(
                9,
                None,
                "verdicts.digest",
                f"the verdicts the log key signed (SHA-256 {statement.digest.hex()})",
                f"the bundle's chain hashes and verdicts give {digest.hex()}",
            )


def _behind(rule: str, seen: int, size: int, *, head: bool = False) -> tuple[str, str]:
    """(expected, actual) of a log (or a partial bundle's head) of ``size`` entries, fewer
    than the ``seen`` of the ``rule`` checkpoint: how many entries it lacks."""
    want = f"{'a head of ' if head else ''}at least the {rule} checkpoint's {seen} entries"
    held = f"head of size {size}" if head else f"{size} entries"
    return want, f"{held}, {seen - size} behind the {rule} checkpoint"
