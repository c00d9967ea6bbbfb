"""Passports: a registered brand that made or owns an item (or made or holds some of a lot)
issues its first passport; only that brand re-issues it. The custody row with the action
``passport`` records who stands behind the passport, and from when.
"""

from __future__ import annotations

from typing import Literal

from ledger.errors import RuleViolation
from ledger.passport import PassportEvent
from ledger.rules.judge import Judge


class PassportRules(Judge):
    """The rules of passport events."""

    def passport(self, event: PassportEvent) -> None:
        actor, subject = event.actor, event.subject
        record = self.actors.actor(actor)
        if record is None or "brand" not in record.roles:
            raise RuleViolation(
                "passport.not_brand",
                f"{actor} is not registered as a brand; brands issue passports",
            )
        kind: Literal["lot", "item"] = "item" if event.link.granularity == "item" else "lot"
        if kind == "item":
            item = self.view.item(subject)
            if item is None:
                raise RuleViolation(
                    "passport.unknown_subject", f"item {subject} is not in the ledger"
                )
            entitled, who = (
                actor in (item.maker, item.owner),
                f"maker {item.maker}, owner {item.owner}",
            )
        else:
            lot = self.view.lot(subject)
            if lot is None:
                raise RuleViolation(
                    "passport.unknown_subject", f"lot {subject} is not in the ledger"
                )
            entitled = lot.origin == actor or self._balance(subject, actor) > 0
            who = f"maker {lot.origin}"
        issuer = self.view.passport_issuer(subject)
        if issuer is None and not entitled:
            raise RuleViolation(
                "passport.not_entitled",
                f"the first passport of {subject} is issued by a brand that made or owns it "
                f"({who}); {actor} does not",
            )
        if issuer is not None and issuer != actor:
            raise RuleViolation(
                "passport.not_issuer",
                f"the passport of {subject} was issued by {issuer}; only {issuer} re-issues it",
            )
        self._custody(kind, subject, "passport", source=None, to=actor)
