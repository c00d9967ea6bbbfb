"""A group of single submissions (``api.group_commit.append_group``) over the real sequencer, its
refusals found in one pass (``ledger.store.admission.Refusals``): each envelope gets the answer it
would get alone, in arrival order — even where a refused envelope changes a later one's fate — in
a few passes, each signature verified a bounded number of times. And a refused ``payloadType``
is quoted back shortened.

Each test runs on SQLite and PostgreSQL (the ``database_url`` fixture), through the real app's
store; the payload type one through HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from api.group_commit import append_group
from ledger.envelope import Envelope, Signature, sign_envelope
from ledger.errors import (
    EquivocationError,
    FeedError,
    KeyOwnerError,
    SignatureError,
    UnknownKeyError,
)
from ledger.keys import PrivateKey
from ledger.receipt import Receipt
from ledger.store import admission
from ledger.store.schema import equivocations
from tests.integration.api_support import assert_problem, batch_body, running_api, store_of, urn
from tests.terminal import Terminal

pytestmark = pytest.mark.integration


def forged(envelope: Envelope) -> Envelope:
    """``envelope`` with a signature its key never made."""
    return replace(envelope, signatures=(Signature(envelope.signatures[0].keyid, bytes(64)),))


def test_each_envelope_of_a_group_gets_its_answer_alone_in_few_passes(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        store = store_of(api)
        operator, mill = api.operator, api.enrol("mill")
        tannery, stranger = PrivateKey.generate(), Terminal(actor=urn("stranger"))
        dyer_key = PrivateKey.generate()
        dyer = Terminal(actor=urn("tannery"), key=dyer_key)
        twin = Terminal(actor=mill.actor, key=mill.key, seq=mill.seq, prev=mill.prev)
        group = [
            forged(Terminal(mill.actor, mill.key).update_self("F")),  # 0: a forged signature
            operator.register(urn("tannery")),  # 1
            operator.add_key(urn("tannery"), tannery),  # 2
            Terminal(actor=urn("tannery"), key=tannery).update_self("Conceria"),  # 3: key of 2
            stranger.update_self("Nessuno"),  # 4: a key nobody registered
            forged(operator.add_key(urn("tannery"), dyer_key)),  # 5: the operator's, forged
            dyer.update_self("Tintoria"),  # 6: its key was to be added by 5
            operator.register(urn("dyer")),  # 7: after 5 in the operator's feed: a gap
            twin.update_self("Filatura Brianza"),  # 8
            mill.update_self("Filatura di Monza"),  # 9: a second event at 8's seq
            Terminal(actor=urn("tannery"), key=mill.key, seq=1, prev=twin.prev).update_self(
                "Conceria"
            ),  # 10: the mill's key speaking for the tannery
        ]
        appends, verified = _counted(store.append, monkeypatch)

        outcomes = append_group(appends.append, group)

        refused = {
            0: SignatureError,
            4: UnknownKeyError,
            5: SignatureError,
            6: UnknownKeyError,
            7: FeedError,
            9: EquivocationError,
            10: KeyOwnerError,
        }
        assert {i: type(o) for i, o in enumerate(outcomes) if i in refused} == refused
        receipts = [o for i, o in enumerate(outcomes) if i not in refused]
        assert all(isinstance(r, Receipt) and not r.duplicate for r in receipts), receipts
        assert [r.index for r in receipts if isinstance(r, Receipt)] == list(range(3, 7))
        # Passes: the refusals before the lock, those inside it, the admissible rest, then 9
        # once 8 is logged.
        assert [len(batch) for batch in appends.batches] == [11, 9, 4, 1]
        assert len(verified) <= 2 * len(group), verified
        for i in refused:  # sent alone now, each gets the very answer it got in the group
            [alone] = append_group(store.append, [group[i]])
            assert (type(alone), str(alone)) == (type(outcomes[i]), str(outcomes[i]))
        with store.connect() as conn:
            assert conn.execute(select(func.count()).select_from(equivocations)).scalar() == 1


def test_a_group_of_unknown_keys_takes_one_pass(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        strangers = [Terminal(actor=urn(f"s{i}")).update_self("Nessuno") for i in range(30)]
        appends, _ = _counted(store_of(api).append, monkeypatch)
        outcomes = append_group(appends.append, strangers)
        assert all(isinstance(o, UnknownKeyError) for o in outcomes), outcomes[:3]
        assert [len(batch) for batch in appends.batches] == [30]


def test_a_refused_batch_still_names_its_first_refusal_and_keeps_every_equivocation(
    database_url: str, tmp_path: Path
) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        mill = api.enrol("mill")
        logged = Terminal(actor=mill.actor, key=mill.key)
        api.accept(logged.update_self("Filatura"))
        stranger = Terminal(actor=urn("stranger")).update_self("Nessuno")
        # Refused inside the lock at 0; 1 and 2 each contradict the logged seq 0.
        body = [stranger, *(Terminal(mill.actor, mill.key).update_self(n) for n in "BC")]
        refused = api.post(batch_body(body))
        problem = assert_problem(refused, 403, "unknown-key", stranger.signatures[0].keyid)
        assert problem["position"] == 0
        with store_of(api).connect() as conn:
            assert conn.execute(select(func.count()).select_from(equivocations)).scalar() == 2
        # Before the lock a bad signature is named first, whatever precedes it (as before).
        body = [stranger, forged(mill.update_self("Filatura 4"))]
        problem = assert_problem(api.post(batch_body(body)), 403, "signature")
        assert problem["position"] == 1


def test_a_long_wrong_payload_type_is_quoted_back_shortened(
    database_url: str, tmp_path: Path
) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        registered = api.operator.register(urn("mill"))
        payload_type = "text/" + "x" * 2_000
        envelope = sign_envelope(registered.payload, api.operator.key, payload_type=payload_type)
        response = api.post(envelope)
        shown = repr(payload_type[:64])
        body = assert_problem(response, 422, "format", f"not {shown}… (2005 characters)")
        assert len(body["detail"]) < 200, body["detail"]


class _Appends:
    """A sequencer's ``append``, each batch it is given remembered."""

    def __init__(self, append: Any) -> None:
        self._append = append
        self.batches: list[list[Envelope]] = []

    def append(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        self.batches.append(list(envelopes))
        receipts: list[Receipt] = self._append(envelopes)
        return receipts


def _counted(append: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[_Appends, list[str]]:
    """Batches ``append`` is given, and the key of every signature the admission verifies."""
    verified: list[str] = []
    real = admission.verify_envelope

    def counting(envelope: Envelope, public_key: Any) -> None:
        verified.append(public_key.key_id)
        real(envelope, public_key)

    monkeypatch.setattr(admission, "verify_envelope", counting)
    return _Appends(append), verified
