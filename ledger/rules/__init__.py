"""Domain rules: what a supply-chain event may do, given what the log already holds.

A validly signed, well-formed event can still claim something the ledger knows to be false: a
lot its signer does not hold, more mass out of a dye house than went in, a certified fraction
that grew on the way. ``apply_domain_event`` decides, from a ``DomainView`` of the projections
before the event, either the list of effects the event has on them or a ``RuleViolation``
naming the rule and the numbers. The store applies the effects inside the sequencer's
transaction (``ledger.store.domain``); the rebuild and the verifier apply them to ``Projection``
in memory. Both see the same verdicts because this package is the only place that decides.

The projections:
- lots: what a lot is (material, unit, mass per unit, origin, claim, feedstock fractions);
- balances: how much of a lot each actor holds, in the lot's unit (goods in transit are held by
  nobody until the receiver's receipt);
- items: serialized products, their owner, custodian and status;
- handovers: pending, accepted or rejected;
- custody: one row per change of hands or making, consuming, selling, repairing …;
- provenance: for each making event, its inputs and outputs (the provenance graph).

A passport event adds a custody row with the action ``passport`` whose target is the issuer:
the item's or lot's history then shows who stands behind its passport, and from when.

The modules: ``records`` the rows and effects; ``judge`` the views and the checks every rule
shares; ``making`` material and process events, ``claims`` their certificates and claims,
``mass`` their mass and feedstock arithmetic; ``handover`` handovers and receipts;
``lifecycle`` sale, repair, take-back, recycling …; ``passports`` and ``directory`` the
passport and profile events; ``apply`` the entry point; ``references`` what a batch may read
ahead; ``projection`` the projections in memory.
"""

from ledger.rules.apply import apply_domain_event
from ledger.rules.judge import ActorView, DomainView
from ledger.rules.lifecycle import AUTHORISED_ROLES
from ledger.rules.mass import FRACTION_PLACES, lot_amount, output_mass
from ledger.rules.projection import Projection
from ledger.rules.records import (
    ENDED,
    ZERO,
    AddCustody,
    AddProvenance,
    CustodyRecord,
    DomainEffect,
    Feedstock,
    HandoverLine,
    HandoverRecord,
    ItemRecord,
    ItemStatus,
    LotRecord,
    ProvenanceRecord,
    PutHandover,
    PutItem,
    PutLot,
    SetBalance,
)
from ledger.rules.references import References

__all__ = [
    "AUTHORISED_ROLES",
    "ENDED",
    "FRACTION_PLACES",
    "ZERO",
    "ActorView",
    "AddCustody",
    "AddProvenance",
    "CustodyRecord",
    "DomainEffect",
    "DomainView",
    "Feedstock",
    "HandoverLine",
    "HandoverRecord",
    "ItemRecord",
    "ItemStatus",
    "LotRecord",
    "Projection",
    "ProvenanceRecord",
    "PutHandover",
    "PutItem",
    "PutLot",
    "References",
    "SetBalance",
    "apply_domain_event",
    "lot_amount",
    "output_mass",
]
