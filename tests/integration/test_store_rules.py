"""Validly signed events that break a registry rule: appended, but not applied.

The log records every signed claim and a terminal's feed stays unbroken, so such an event takes
its index and its feed moves on; the receipt names the rule, the stored verdict gives the same
answer on every later read, and the projections (``keys``, ``actors``) ignore the event.
"""

from __future__ import annotations

import pytest

from ledger.envelope import Envelope
from ledger.errors import NotFoundError, RefusedEnvelope, UnknownKeyError
from ledger.events import OPERATOR_ACTOR
from ledger.keys import PrivateKey
from ledger.receipt import Receipt
from ledger.store.ledger import LedgerStore
from tests.conftest import enrol
from tests.terminal import Terminal


def _not_applied(store: LedgerStore, envelope: Envelope, rule: str) -> Receipt:
    size = store.tree_size()
    receipt = store.append([envelope])[0]
    assert receipt.index == size, "a rule-breaking event is still appended"
    assert receipt.applied is False
    assert receipt.violation is not None and receipt.violation.rule == rule
    receipt.verify(envelope.to_bytes(), store.log_vkey)
    stored = store.entries(receipt.index, receipt.index + 1)[0]
    assert (stored.applied, stored.violation) == (False, receipt.violation)
    assert store.receipt(receipt.index) == receipt
    return receipt


@pytest.fixture
def workshop(store: LedgerStore, operator: Terminal) -> Terminal:
    return enrol(store, operator, "tessitura-comasca")


def test_actor_signing_its_own_profile_update_is_not_applied(
    store: LedgerStore, workshop: Terminal
) -> None:
    profile_before = store.actor(workshop.actor)[0]

    _not_applied(store, workshop.update_self("Tessitura Premium"), "registry.operator_only")

    assert store.actor(workshop.actor)[0] == profile_before


def test_feed_continues_after_a_rule_violation(store: LedgerStore, workshop: Terminal) -> None:
    broken = _not_applied(store, workshop.update_self("forged name"), "registry.operator_only")
    new_key = PrivateKey.generate()

    receipt = store.append([workshop.rotate(new_key)])[0]  # seq 1, prev = the broken event

    assert (receipt.index, receipt.applied) == (broken.index + 1, True)
    assert store.key(new_key.public_key.key_id).actor == workshop.actor


def test_key_add_for_an_unregistered_actor_is_not_applied(
    store: LedgerStore, operator: Terminal
) -> None:
    ghost = Terminal(actor="urn:spola:actor:fantasma")

    _not_applied(store, operator.add_key(ghost.actor, ghost.key), "registry.unknown_actor")

    with pytest.raises(NotFoundError):
        store.key(ghost.key_id)
    with pytest.raises(RefusedEnvelope) as refused:
        store.append([ghost.update_self("I was never added")])
    assert isinstance(refused.value.cause, UnknownKeyError)
    # The operator's feed went on past its own broken event.
    assert store.append([operator.register(ghost.actor)])[0].applied


def test_actor_registered_by_a_non_operator_is_not_applied(
    store: LedgerStore, workshop: Terminal
) -> None:
    rogue = workshop.sign(
        {
            "type": "actor",
            "op": "register",
            "id": "urn:spola:actor:self-made",
            "name": "Self-made actor",
            "roles": ["brand"],
            "country": "IT",
        }
    )
    _not_applied(store, rogue, "registry.operator_only")
    with pytest.raises(NotFoundError):
        store.actor("urn:spola:actor:self-made")


def test_registering_an_actor_twice_is_not_applied(
    store: LedgerStore, operator: Terminal, workshop: Terminal
) -> None:
    before = store.actor(workshop.actor)[0]
    _not_applied(store, operator.register(workshop.actor, name="Usurper"), "registry.actor_exists")
    assert store.actor(workshop.actor)[0] == before


def test_log_key_cannot_be_revoked_through_the_log(store: LedgerStore, operator: Terminal) -> None:
    _not_applied(store, operator.revoke(OPERATOR_ACTOR, operator.key_id), "registry.log_key")
    assert store.key(operator.key_id).revoked_at_index is None
    assert store.append([operator.register("urn:spola:actor:still-served")])[0].applied


def test_rotation_signed_by_a_sibling_key_is_not_applied(
    store: LedgerStore, operator: Terminal, workshop: Terminal
) -> None:
    sibling = Terminal(actor=workshop.actor)
    store.append([operator.add_key(workshop.actor, sibling.key)])
    hijack = sibling.sign(
        {
            "type": "key",
            "op": "rotate",
            "subject": workshop.actor,
            "key_id": (new := PrivateKey.generate()).public_key.key_id,
            "public_key": new.public_key.to_base64(),
            "replaces": workshop.key_id,
        }
    )

    _not_applied(store, hijack, "registry.rotate_signer")

    assert store.key(workshop.key_id).revoked_at_index is None
    with pytest.raises(NotFoundError):
        store.key(new.public_key.key_id)


def test_revoking_another_actors_key_is_not_applied(
    store: LedgerStore, operator: Terminal, workshop: Terminal
) -> None:
    rival = enrol(store, operator, "concorrente")
    _not_applied(store, rival.revoke(workshop.actor, workshop.key_id), "registry.revoke_signer")
    assert store.key(workshop.key_id).revoked_at_index is None
    size = store.tree_size()
    assert store.append([workshop.update_self("still signing")])[0].index == size


def test_reusing_a_registered_key_is_not_applied(
    store: LedgerStore, operator: Terminal, workshop: Terminal
) -> None:
    other = enrol(store, operator, "altro-laboratorio")
    _not_applied(store, operator.add_key(other.actor, workshop.key), "registry.key_exists")
    assert store.key(workshop.key_id).actor == workshop.actor


def test_verdicts_survive_in_the_log_next_to_applied_events(
    store: LedgerStore, operator: Terminal, workshop: Terminal
) -> None:
    receipts = store.append(
        [
            workshop.update_self("broken 1"),
            operator.register("urn:spola:actor:buono"),
            workshop.update_self("broken 2"),
        ]
    )
    assert [r.applied for r in receipts] == [False, True, False]
    stored = store.entries(receipts[0].index, receipts[-1].index + 1)
    assert [e.applied for e in stored] == [False, True, False]
    assert [r.violation for r in receipts] == [e.violation for e in stored]
    assert [a.id for a in store.actors(offset=0, limit=100)] == [
        OPERATOR_ACTOR,
        workshop.actor,
        "urn:spola:actor:buono",
    ]
