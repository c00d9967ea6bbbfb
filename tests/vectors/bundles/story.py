"""The stories the tamper vectors are cut from: fixed keys, fixed times, the same every run.

``honest_story`` is a small log (three workshops, their keys, lots, a handover with its receipt,
a process); ``passport_story`` goes on with a brand that makes a scarf of lot C, issues its
passport and sells it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.envelope import Envelope
from ledger.events import OPERATOR_ACTOR
from ledger.keys import PrivateKey
from tests.supply import (
    CERT_GOTS,
    facility,
    handover,
    item,
    lifecycle,
    make,
    material,
    passport,
    process,
    receipt,
    take,
)
from tests.terminal import Terminal
from tests.vectors.bundles.sealing import OPERATOR, Bundle, key

GOTS_HALF = {"model": "segregated", "scheme": "GOTS", "certified_fraction": "0.5"}
FILANDA = "urn:spola:actor:filanda"
TINTORIA = "urn:spola:actor:tintoria"
SARTORIA = "urn:spola:actor:sartoria"
LOT_A = "urn:spola:lot:filanda:A"
LOT_B = "urn:spola:lot:tintoria:B"
LOT_C = "urn:spola:lot:filanda:C"
MAISON = "urn:spola:actor:maison"
SCARF = "/01/08000000001016/21/ORCIXS3356CPAJNMKYAQ"


@dataclass
class Story:
    """Terminals with fixed keys and a clock; the envelopes in log order."""

    minute: int = 0
    envelopes: list[Envelope] = field(default_factory=list)
    terminals: dict[str, Terminal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.terminals[OPERATOR_ACTOR] = Terminal(OPERATOR_ACTOR, OPERATOR)
        for actor, seed in (
            (FILANDA, "filanda"),
            (TINTORIA, "tintoria"),
            (SARTORIA, "sartoria"),
            (MAISON, "maison"),
        ):
            self.terminals[actor] = Terminal(actor, key(seed))

    def sign(self, actor: str, fields: dict[str, Any], **how: Any) -> Envelope:
        self.minute += 1
        time = f"2026-04-02T{8 + self.minute // 60:02d}:{self.minute % 60:02d}:00Z"
        envelope = self.terminals[actor].sign({**fields, "time": time}, **how)
        self.envelopes.append(envelope)
        return envelope

    def enrol(self, actor: str, role: str = "supplier") -> None:
        roles = {"roles": [role], "facilities": [facility()]}
        self.sign(OPERATOR_ACTOR, _register(actor) | roles)
        terminal = self.terminals[actor]
        self.sign(OPERATOR_ACTOR, add_key(actor, terminal.key))


def _register(actor: str) -> dict[str, Any]:
    return {"type": "actor", "op": "register", "id": actor, "name": actor[16:], "country": "IT"}


def add_key(subject: str, new: PrivateKey) -> dict[str, Any]:
    """The fields of a key event adding ``new`` to ``subject``'s keys."""
    return {
        "type": "key",
        "op": "add",
        "subject": subject,
        "key_id": new.public_key.key_id,
        "public_key": new.public_key.to_base64(),
    }


def honest_story() -> Story:
    """0 genesis; 1-6 three actors and keys; then lots, a handover and a process."""
    story = Story()
    story.sign(
        OPERATOR_ACTOR,
        {"type": "actor", "op": "register", "id": OPERATOR_ACTOR, "name": "operator"}
        | {"roles": ["operator"], "country": "IT", "region": "Lombardia"},
    )
    for actor in (FILANDA, TINTORIA, SARTORIA):
        story.enrol(actor)
    story.sign(FILANDA, material(LOT_A, "100", claim=GOTS_HALF, certificates=[CERT_GOTS]))  # 7
    story.sign(FILANDA, handover("H1", TINTORIA, [take(LOT_A, "60")]))  # 8
    story.sign(TINTORIA, receipt(FILANDA, "H1"))  # 9
    story.sign(TINTORIA, process([take(LOT_A, "60")], [make(LOT_B, "55")]))  # 10
    story.sign(FILANDA, material(LOT_C, "10"))  # 11
    story.sign(SARTORIA, material("urn:spola:lot:sartoria:S", "5"))  # 12
    return story


def passport_story() -> Story:
    """The honest story, then a brand makes a scarf of lot C, issues its passport, sells it."""
    story = honest_story()
    story.enrol(MAISON, "brand")  # 13, 14
    story.sign(FILANDA, handover("H4", MAISON, [take(LOT_C, "10")]))  # 15
    story.sign(MAISON, receipt(FILANDA, "H4"))  # 16
    story.sign(MAISON, process([take(LOT_C, "1")], items=[item(SCARF, "0.2")]))  # 17
    story.sign(MAISON, passport(SCARF))  # 18: version 1
    story.sign(MAISON, lifecycle("sale", SCARF))  # 19: version 2
    return story


Want = list[tuple[int, str, int | None]]  # (step, rule, entry index)


Vector = tuple[str, Bundle, Want]  # (desc, bundle, want)
