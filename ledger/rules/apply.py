"""``apply_domain_event``: the one place that decides a supply-chain event's effects, each
kind of event judged by the rules of its module.
"""

from __future__ import annotations

from ledger.directory_event import ProfileEvent
from ledger.events import Event
from ledger.passport import PassportEvent
from ledger.rules.directory import ProfileRules
from ledger.rules.handover import HandoverRules
from ledger.rules.judge import ActorView, DomainView
from ledger.rules.lifecycle import LifecycleRules
from ledger.rules.making import MakingRules
from ledger.rules.passports import PassportRules
from ledger.rules.records import DomainEffect
from ledger.supply import HandoverEvent, LifecycleEvent, MaterialEvent, ProcessEvent, ReceiptEvent


class _Rules(MakingRules, HandoverRules, LifecycleRules, PassportRules, ProfileRules):
    """Every domain rule: one method per kind of event, over the shared checks of ``Judge``."""


def apply_domain_event(
    event: Event, *, index: int, view: DomainView, actors: ActorView
) -> list[DomainEffect]:
    """The effects of a supply-chain event; RuleViolation if it breaks a rule.

    Registry events (and any type without domain rules) have no domain effects.
    """
    judge = _Rules(event, index, view, actors)
    if isinstance(event, MaterialEvent):
        judge.material(event)
    elif isinstance(event, ProcessEvent):
        judge.process(event)
    elif isinstance(event, HandoverEvent):
        judge.handover(event)
    elif isinstance(event, ReceiptEvent):
        judge.receipt(event)
    elif isinstance(event, LifecycleEvent):
        judge.lifecycle(event)
    elif isinstance(event, PassportEvent):
        judge.passport(event)
    elif isinstance(event, ProfileEvent):
        judge.profile(event)
    return judge.effects
