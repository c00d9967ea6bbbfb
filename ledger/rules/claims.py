"""Certificates and chain-of-custody claims (ISO 22095): a claim needs a valid certificate of
its scheme, and claims pass through a process without ever growing (model, certified fraction,
certified mass per scheme).
"""

from __future__ import annotations

from decimal import Decimal

from ledger.errors import RuleViolation
from ledger.quantities import format_decimal
from ledger.rules.judge import Judge, _kg
from ledger.rules.records import ZERO, Feedstock
from ledger.supply import MODEL_STRENGTH, Certificate, Claim


class ClaimRules(Judge):
    """The certificate and claim checks of material and process events."""

    def _certified(self, claim: Claim | None, certificates: list[Certificate]) -> None:
        if claim is None:
            return
        same = [c for c in certificates if c.scheme == claim.scheme]
        if not any(c.valid_on(self.day) for c in same):
            shown = "; ".join(f"{c.id} {c.valid_from}..{c.valid_until}" for c in same) or "none"
            raise RuleViolation(
                "certificate.not_valid",
                f"a {claim.scheme} claim needs a {claim.scheme} certificate valid on "
                f"{self.day} (given: {shown})",
            )

    def _propagate(
        self,
        inputs: list[tuple[Decimal, Feedstock, Claim | None]],
        outputs: list[tuple[Decimal, Claim | None]],
        certificates: list[Certificate],
    ) -> None:
        """Chain of custody (ISO 22095): claims pass through a process and never grow."""
        for _, claim in outputs:
            if claim is None:
                continue
            self._certified(claim, certificates)
            scheme = claim.scheme
            sources = [c for _, _, c in inputs if c is not None and c.scheme == scheme]
            if not sources:
                raise RuleViolation(
                    "claim.no_certified_input",
                    f"an output claims {scheme}, but no input carries a {scheme} claim",
                )
            weakest = min(sources, key=lambda c: MODEL_STRENGTH[c.model])
            if MODEL_STRENGTH[claim.model] > MODEL_STRENGTH[weakest.model]:
                raise RuleViolation(
                    "claim.model_grows",
                    f"an output claims {claim.model} under {scheme}, stronger than the "
                    f"{weakest.model} of its inputs",
                )
            if claim.model != "mass_balance":
                mixed = [c for _, _, c in inputs if c is None or c.scheme != scheme]
                if mixed:
                    raise RuleViolation(
                        "claim.model_grows",
                        f"a {claim.model} {scheme} output cannot mix in {len(mixed)} input(s) "
                        f"without a {scheme} claim",
                    )
                lowest = min(Decimal(c.certified_fraction) for c in sources)
                if Decimal(claim.certified_fraction) > lowest:
                    raise RuleViolation(
                        "claim.fraction_grows",
                        f"an output claims {claim.certified_fraction} {scheme}-certified, more "
                        f"than the {format_decimal(lowest)} of its inputs",
                    )
        for scheme in sorted({c.scheme for _, c in outputs if c is not None}):
            certified_in = sum(
                (
                    m * Decimal(c.certified_fraction)
                    for m, _, c in inputs
                    if c is not None and c.scheme == scheme
                ),
                ZERO,
            )
            certified_out = sum(
                (
                    m * Decimal(c.certified_fraction)
                    for m, c in outputs
                    if c is not None and c.scheme == scheme
                ),
                ZERO,
            )
            if certified_out > certified_in:
                raise RuleViolation(
                    "claim.certified_mass_grows",
                    f"outputs claim {_kg(certified_out)} of {scheme}-certified mass; the inputs "
                    f"carry {_kg(certified_in)}",
                )
