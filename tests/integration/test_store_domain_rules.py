"""Every domain rule, broken once by a validly signed event, on SQLite and PostgreSQL.

A rule-breaking event is appended (its feed moves on) but not applied: the receipt and the
stored verdict name the rule and the numbers, and the projections do not change. Each test
ends with a rebuild that proves the stored projections equal a replay of the log.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledger.receipt import Receipt
from ledger.store.ledger import LedgerStore
from tests.supply import (
    CERT_GOTS,
    GOTS_CLAIM,
    enrol_actor,
    handover,
    item,
    lifecycle,
    make,
    material,
    passport,
    process,
    q,
    receipt,
    take,
)
from tests.terminal import Terminal

GOTS_MB = {"model": "mass_balance", "scheme": "GOTS", "certified_fraction": "0.5"}


class Chain:
    """A small supply chain on one store: a mill, a dyer, an atelier, a repairer, a recycler."""

    def __init__(self, store: LedgerStore, operator: Terminal) -> None:
        self.store = store
        self.mill = enrol_actor(store, operator, "seteria", ("supplier",))
        self.dyer = enrol_actor(store, operator, "tintoria", ("supplier",))
        self.brand = enrol_actor(store, operator, "maison", ("brand",))
        self.repairer = enrol_actor(store, operator, "riparazioni", ("repairer",))
        self.recycler = enrol_actor(store, operator, "riciclo", ("recycler",))

    def ok(self, terminal: Terminal, fields: dict[str, Any]) -> Receipt:
        got = self.store.append([terminal.sign(fields)])[0]
        assert got.applied, got.violation
        return got

    def broken(self, terminal: Terminal, fields: dict[str, Any], rule: str) -> str:
        """Append an event that breaks ``rule``; the violation's detail."""
        before = self.store.rebuild()
        assert before.equal, before.differences
        size = self.store.tree_size()
        got = self.store.append([terminal.sign(fields)])[0]
        assert got.index == size, "a rule-breaking event is still appended"
        assert not got.applied
        assert got.violation is not None and got.violation.rule == rule, got.violation
        stored = self.store.verdict(got.index)
        assert (stored.applied, stored.violation) == (False, got.violation)
        after = self.store.rebuild()
        assert after.equal, after.differences
        return got.violation.detail

    def balance(self, lot: str, terminal: Terminal) -> Decimal:
        holders = dict(self.store.lot(lot).holders)
        return Decimal(holders.get(terminal.actor, "0"))


@pytest.fixture
def chain(store: LedgerStore, operator: Terminal) -> Chain:
    return Chain(store, operator)


LOT = "urn:spola:lot:seteria:S26-0142"
DYED = "urn:spola:lot:tintoria:T26-0007"
SCARF = "urn:spola:item:maison:8F3KQ2M7XW"


def _scarf_with_consumer(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "10"))
    chain.ok(chain.mill, process([take(LOT, "1")], items=[item(SCARF, "0.2")]))
    chain.ok(chain.mill, lifecycle("sale", SCARF))


# -- catalogue, facility, identity ----------------------------------------------------------


def test_unknown_material(chain: Chain) -> None:
    detail = chain.broken(
        chain.mill, material(LOT, material="unobtainium"), "catalogue.unknown_material"
    )
    assert "unobtainium" in detail
    with pytest.raises(Exception, match="no lot"):
        chain.store.lot(LOT)


def test_unknown_process(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT))
    chain.broken(
        chain.mill,
        process([take(LOT, "10")], [make(DYED, "9")], process="alchemy"),
        "catalogue.unknown_process",
    )
    assert chain.balance(LOT, chain.mill) == 100


def test_unregistered_facility(chain: Chain) -> None:
    detail = chain.broken(chain.mill, material(LOT, facility="elsewhere"), "actor.unknown_facility")
    assert "registered: main" in detail


def test_lot_made_twice(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT))
    chain.broken(chain.dyer, material(LOT), "lot.exists")
    assert chain.balance(LOT, chain.dyer) == 0


def test_unknown_lot(chain: Chain) -> None:
    chain.broken(chain.mill, process([take(LOT, "1")], [make(DYED, "1")]), "lot.unknown")


def test_item_made_twice(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT))
    chain.ok(chain.mill, process([take(LOT, "1")], items=[item(SCARF)]))
    chain.broken(chain.mill, process([take(LOT, "1")], items=[item(SCARF)]), "item.exists")
    assert chain.balance(LOT, chain.mill) == 99


def test_unknown_item(chain: Chain) -> None:
    chain.broken(chain.brand, lifecycle("repair", SCARF), "item.unknown")


# -- custody and balances -------------------------------------------------------------------


def test_only_the_custodian_processes_a_lot(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT))
    detail = chain.broken(
        chain.dyer, process([take(LOT, "10")], [make(DYED, "10")]), "custody.not_holder"
    )
    assert "holds none" in detail


def test_only_the_custodian_hands_over_an_item(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT))
    chain.ok(chain.mill, process([take(LOT, "1")], items=[item(SCARF)]))
    chain.broken(
        chain.dyer, handover("D-1", chain.brand.actor, [{"item": SCARF}]), "custody.not_holder"
    )


def test_double_spend_of_a_lot_is_refused_with_the_numbers(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "100", claim=GOTS_CLAIM, certificates=[CERT_GOTS]))
    chain.ok(chain.mill, handover("DDT-1", chain.dyer.actor, [take(LOT, "60")]))

    detail = chain.broken(
        chain.mill, handover("DDT-2", chain.brand.actor, [take(LOT, "60")]), "balance.insufficient"
    )

    assert "60 KGM" in detail and "holds 40 KGM" in detail
    assert chain.balance(LOT, chain.mill) == 40


def test_pending_handover_is_held_by_nobody_until_the_receipt(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "100"))
    chain.ok(chain.mill, handover("DDT-1", chain.dyer.actor, [take(LOT, "30000", "GRM")]))

    view = chain.store.lot(LOT)
    assert dict(view.holders) == {chain.mill.actor: "70"}
    assert [(h.id, amount) for h, amount in view.in_transit] == [("DDT-1", "30")]
    chain.broken(chain.dyer, process([take(LOT, "1")], [make(DYED, "1")]), "custody.not_holder")

    chain.ok(chain.dyer, receipt(chain.mill.actor, "DDT-1"))
    assert chain.balance(LOT, chain.dyer) == 30
    assert chain.store.lot(LOT).in_transit == []


def test_rejected_receipt_returns_custody(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "100"))
    chain.ok(chain.mill, handover("DDT-1", chain.dyer.actor, [take(LOT, "30")]))
    chain.ok(chain.dyer, receipt(chain.mill.actor, "DDT-1", accepted=False))
    assert chain.balance(LOT, chain.mill) == 100
    assert chain.balance(LOT, chain.dyer) == 0
    actions = [c.action for c in chain.store.custody_history(LOT, limit=10)]
    assert actions == ["made", "sent", "returned"]


def test_quantity_in_another_dimension(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT))
    chain.broken(
        chain.mill,
        handover("DDT-1", chain.dyer.actor, [take(LOT, "5", "MTR")]),
        "quantity.unit_mismatch",
    )


def test_handover_to_an_unregistered_actor(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT))
    chain.broken(
        chain.mill,
        handover("DDT-1", "urn:spola:actor:nobody", [take(LOT, "1")]),
        "handover.unknown_receiver",
    )
    assert chain.balance(LOT, chain.mill) == 100


def test_handover_id_used_twice(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT))
    chain.ok(chain.mill, handover("DDT-1", chain.dyer.actor, [take(LOT, "1")]))
    chain.broken(
        chain.mill, handover("DDT-1", chain.dyer.actor, [take(LOT, "1")]), "handover.exists"
    )


def test_receipt_for_an_unknown_handover(chain: Chain) -> None:
    chain.broken(chain.dyer, receipt(chain.mill.actor, "DDT-404"), "handover.unknown")


def test_receipt_signed_by_someone_else(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT))
    chain.ok(chain.mill, handover("DDT-1", chain.dyer.actor, [take(LOT, "10")]))
    chain.broken(chain.brand, receipt(chain.mill.actor, "DDT-1"), "receipt.not_receiver")
    assert chain.balance(LOT, chain.brand) == 0


def test_a_handover_settles_once(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT))
    chain.ok(chain.mill, handover("DDT-1", chain.dyer.actor, [take(LOT, "10")]))
    chain.ok(chain.dyer, receipt(chain.mill.actor, "DDT-1"))
    chain.broken(chain.dyer, receipt(chain.mill.actor, "DDT-1"), "handover.not_pending")
    assert chain.balance(LOT, chain.dyer) == 10


# -- mass balance ---------------------------------------------------------------------------


def test_process_outputs_more_mass_than_it_consumes(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "100"))
    detail = chain.broken(
        chain.mill,
        process(
            [take(LOT, "10")],
            [make(DYED, "10.5")],
            untraced=[{"material": "thread-silk", "quantity": q("200", "GRM")}],
        ),
        "mass.balance",
    )
    assert detail == (
        "outputs weigh 10.5 kg, more than the 10 kg consumed plus 0.2 kg of declared "
        "untraced additions"
    )
    assert chain.balance(LOT, chain.mill) == 100


def test_declared_untraced_additions_count(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "100"))
    chain.ok(
        chain.mill,
        process(
            [take(LOT, "10")],
            [make(DYED, "10.5")],
            untraced=[{"material": "thread-silk", "quantity": q("500", "GRM")}],
        ),
    )
    assert chain.balance(DYED, chain.mill) == Decimal("10.5")


def test_pieces_balance_through_declared_mass(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "40", "H87", mass_per_unit=q("250", "GRM")))
    chain.broken(
        chain.mill,
        process([take(LOT, "4", "H87")], [make(DYED, "1.5")]),
        "mass.balance",
    )
    chain.ok(chain.mill, process([take(LOT, "4", "H87")], [make(DYED, "1")]))


# -- chain of custody and certificates ------------------------------------------------------


def test_claim_needs_a_certificate_valid_at_the_event_time(chain: Chain) -> None:
    expired = CERT_GOTS | {"valid_from": "2019-01-01", "valid_until": "2020-12-31"}
    detail = chain.broken(
        chain.mill,
        material(LOT, claim=GOTS_CLAIM, certificates=[expired]),
        "certificate.not_valid",
    )
    assert "2019-01-01..2020-12-31" in detail


def test_claim_without_a_certified_input(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT))
    chain.broken(
        chain.mill,
        process([take(LOT, "10")], [make(DYED, "10", claim=GOTS_MB)], certificates=[CERT_GOTS]),
        "claim.no_certified_input",
    )


def test_claim_model_never_grows(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, claim=GOTS_MB, certificates=[CERT_GOTS]))
    chain.broken(
        chain.mill,
        process([take(LOT, "10")], [make(DYED, "10", claim=GOTS_CLAIM)], certificates=[CERT_GOTS]),
        "claim.model_grows",
    )


def test_segregated_output_cannot_mix_uncertified_input(chain: Chain) -> None:
    other = "urn:spola:lot:seteria:S26-0143"
    chain.ok(chain.mill, material(LOT, claim=GOTS_CLAIM, certificates=[CERT_GOTS]))
    chain.ok(chain.mill, material(other))
    chain.broken(
        chain.mill,
        process(
            [take(LOT, "10"), take(other, "10")],
            [make(DYED, "20", claim=GOTS_CLAIM)],
            certificates=[CERT_GOTS],
        ),
        "claim.model_grows",
    )


def test_certified_fraction_never_grows(chain: Chain) -> None:
    half_sg = GOTS_CLAIM | {"certified_fraction": "0.5"}
    chain.ok(chain.mill, material(LOT, claim=half_sg, certificates=[CERT_GOTS]))
    chain.broken(
        chain.mill,
        process([take(LOT, "10")], [make(DYED, "10", claim=GOTS_CLAIM)], certificates=[CERT_GOTS]),
        "claim.fraction_grows",
    )


def test_mass_balance_credits_never_exceed_certified_input(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "100", claim=GOTS_MB, certificates=[CERT_GOTS]))
    # 10 kg at 0.5 certified carry 5 kg of credit: two outputs may share it, not exceed it.
    full = GOTS_MB | {"certified_fraction": "1"}
    detail = chain.broken(
        chain.mill,
        process(
            [take(LOT, "10")],
            [make(DYED, "4", claim=full), make("urn:spola:lot:seteria:X-2", "4", claim=full)],
            certificates=[CERT_GOTS],
        ),
        "claim.certified_mass_grows",
    )
    assert "8 kg" in detail and "5 kg" in detail
    chain.ok(
        chain.mill,
        process(
            [take(LOT, "10")],
            [make(DYED, "4", claim=full), make("urn:spola:lot:seteria:X-2", "4")],
            certificates=[CERT_GOTS],
        ),
    )


def test_processor_needs_its_own_certificate_to_pass_a_claim_on(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, claim=GOTS_CLAIM, certificates=[CERT_GOTS]))
    chain.broken(
        chain.mill,
        process([take(LOT, "10")], [make(DYED, "10", claim=GOTS_CLAIM)]),
        "certificate.not_valid",
    )


# -- lifecycle ------------------------------------------------------------------------------


def test_sale_by_someone_other_than_the_owner(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "10"))
    chain.ok(chain.mill, process([take(LOT, "1")], items=[item(SCARF)]))
    detail = chain.broken(chain.brand, lifecycle("sale", SCARF), "lifecycle.not_authorised")
    assert "owner: urn:spola:actor:seteria" in detail


def test_repair_by_an_actor_without_the_repairer_role(chain: Chain) -> None:
    _scarf_with_consumer(chain)
    chain.broken(chain.dyer, lifecycle("repair", SCARF), "lifecycle.not_authorised")
    chain.ok(chain.repairer, lifecycle("repair", SCARF))
    assert chain.store.item(SCARF).repairs == 1


def test_take_back_of_an_item_still_in_stock(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "10"))
    chain.ok(chain.mill, process([take(LOT, "1")], items=[item(SCARF)]))
    chain.broken(chain.recycler, lifecycle("take-back", SCARF), "lifecycle.wrong_state")


def test_sale_to_an_unregistered_buyer(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "10"))
    chain.ok(chain.mill, process([take(LOT, "1")], items=[item(SCARF)]))
    chain.broken(
        chain.mill, lifecycle("sale", SCARF, to="urn:spola:actor:ghost"), "lifecycle.unknown_buyer"
    )


def test_recycled_item_is_ended_and_its_mass_bounds_the_new_lot(chain: Chain) -> None:
    _scarf_with_consumer(chain)
    chain.ok(chain.recycler, lifecycle("take-back", SCARF))
    new_lot = "urn:spola:lot:riciclo:R-1"
    chain.broken(
        chain.recycler,
        lifecycle("recycling", SCARF, outputs=[make(new_lot, "0.3", "silk-recycled")]),
        "mass.balance",
    )
    # A recycled lot cannot carry a certification claim from the item: it starts without one.
    claimed = make(new_lot, "0.18", "silk-recycled", claim=GOTS_CLAIM)
    chain.broken(
        chain.recycler, lifecycle("recycling", SCARF, outputs=[claimed]), "claim.no_certified_input"
    )
    chain.ok(
        chain.recycler,
        lifecycle("recycling", SCARF, outputs=[make(new_lot, "0.18", "silk-recycled")]),
    )
    lot = chain.store.lot(new_lot).record
    assert lot.feedstock.recycled == 1 and lot.made_by == "recycling"
    chain.broken(chain.recycler, lifecycle("repair", SCARF), "item.ended")


def test_item_consumed_by_its_owner_only(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "10"))
    chain.ok(chain.mill, process([take(LOT, "1")], items=[item(SCARF)]))
    chain.ok(chain.mill, lifecycle("sale", SCARF, to=chain.brand.actor))
    chain.broken(
        chain.mill,
        process([{"item": SCARF}], [make(DYED, "0.1")], process="remanufacturing"),
        "custody.not_owner",
    )


def test_item_in_transit_has_no_lifecycle(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "10"))
    chain.ok(chain.mill, process([take(LOT, "1")], items=[item(SCARF)]))
    chain.ok(chain.mill, handover("DDT-9", chain.brand.actor, [{"item": SCARF}]))
    chain.broken(chain.mill, lifecycle("sale", SCARF), "lifecycle.wrong_state")
    chain.ok(chain.brand, receipt(chain.mill.actor, "DDT-9"))
    assert chain.store.item(SCARF).custodian == chain.brand.actor


# -- passports ------------------------------------------------------------------------------

DL_SCARF = "/01/08000000001016/21/ORCIXS3356CPAJNMKYAQ"
DL_BATCH = "/01/08000000001016/10/S26-0142"


def test_only_a_brand_issues_a_passport(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "10"))
    chain.ok(chain.mill, process([take(LOT, "1")], items=[item(DL_SCARF)]))
    detail = chain.broken(chain.mill, passport(DL_SCARF), "passport.not_brand")
    assert chain.mill.actor in detail


def test_passport_for_an_item_or_batch_the_ledger_does_not_know(chain: Chain) -> None:
    chain.broken(chain.brand, passport(DL_SCARF), "passport.unknown_subject")
    detail = chain.broken(chain.brand, passport(DL_BATCH), "passport.unknown_subject")
    assert detail == f"lot {DL_BATCH} is not in the ledger"


def test_first_passport_by_a_brand_that_neither_made_nor_owns_the_item(chain: Chain) -> None:
    chain.ok(chain.mill, material(LOT, "10"))
    chain.ok(chain.mill, process([take(LOT, "1")], items=[item(DL_SCARF)]))
    detail = chain.broken(chain.brand, passport(DL_SCARF), "passport.not_entitled")
    assert chain.mill.actor in detail
    chain.ok(chain.mill, lifecycle("sale", DL_SCARF, to=chain.brand.actor))
    chain.ok(chain.brand, passport(DL_SCARF))


def test_only_the_first_issuer_reissues_a_passport(chain: Chain, operator: Terminal) -> None:
    rival = enrol_actor(chain.store, operator, "altra-maison", ("brand",))
    chain.ok(chain.mill, material(LOT, "10"))
    chain.ok(chain.mill, process([take(LOT, "1")], items=[item(DL_SCARF)]))
    chain.ok(chain.mill, lifecycle("sale", DL_SCARF, to=chain.brand.actor))
    chain.ok(chain.brand, passport(DL_SCARF))
    detail = chain.broken(rival, passport(DL_SCARF, "Copia"), "passport.not_issuer")
    assert chain.brand.actor in detail
    chain.ok(chain.brand, passport(DL_SCARF, "Foulard Lario, re-issued"))
    kinds = [c.action for c in chain.store.custody_history(DL_SCARF, limit=20)]
    assert kinds.count("passport") == 2


def test_batch_passport_by_a_brand_holding_the_batch(chain: Chain) -> None:
    chain.ok(chain.mill, material(DL_BATCH, "10"))
    chain.broken(chain.brand, passport(DL_BATCH), "passport.not_entitled")
    chain.ok(chain.mill, handover("DDT-7", chain.brand.actor, [take(DL_BATCH, "4")]))
    chain.ok(chain.brand, receipt(chain.mill.actor, "DDT-7"))
    chain.ok(chain.brand, passport(DL_BATCH))


# -- directory profiles --------------------------------------------------------------------------


def test_a_profile_offers_only_catalogue_processes_and_materials(chain: Chain) -> None:
    offers = {"type": "profile", "contact": "Como", "processes": ["weaving"]}
    detail = chain.broken(
        chain.mill, offers | {"processes": ["weaving", "levitation"]}, "catalogue.unknown_process"
    )
    assert "levitation" in detail
    chain.broken(chain.mill, offers | {"materials": ["unobtainium"]}, "catalogue.unknown_material")
    chain.ok(chain.mill, offers | {"materials": ["silk-mulberry"]})
