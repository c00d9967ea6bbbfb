"""``POST /v1/entries`` against a hostile client, where what surrounds the route is the weak
point: the rate limit (``api.ratelimit``) reads a body before the route, so it must bound it
as the route does and read it off the event loop, and it must not charge a signing key's
budget for envelopes anyone may send again; the group commit (``api.group_commit``) must not
verify a group's signatures again after each forgery it refuses.

Each test runs on SQLite and PostgreSQL (the ``database_url`` fixture), through the real ASGI
app with its default limits unless a test sets one. The parsers of the rate limit and of the
route are watched where a test says what they must not parse, or where.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from api import ratelimit
from api.group_commit import append_group
from api.routes import entries
from ledger.envelope import Envelope, Signature
from ledger.errors import SignatureError
from ledger.keys import PublicKey
from ledger.receipt import Receipt
from ledger.store import admission
from tests.integration.api_support import (
    Parses,
    assert_problem,
    batch_body,
    running_api,
    store_of,
    watch_parses,
)

pytestmark = pytest.mark.integration

TINY_VALUES = 2_700_000  # b"[]," each: a body of 8 MiB, the default limit
FORGERIES = 60


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Parses:
    """Each body parsed by the rate limit or the route: which one, and on the event loop or not."""
    return watch_parses(monkeypatch, ratelimit, entries)


def test_a_body_of_millions_of_tiny_values_is_refused_before_the_rate_limit_parses_it(
    database_url: str, tmp_path: Path, parses: Parses
) -> None:
    # Parsed, the body is 2.7 million lists: seconds of the event loop, before the route's bound.
    with running_api(database_url, tmp_path / "home") as api:
        assert api.settings.rate_per_key > 0
        body = b'{"envelopes":[' + b",".join([b"[]"] * TINY_VALUES) + b"]}"
        assert len(body) <= api.settings.max_body_bytes
        marks = 2 * TINY_VALUES + 1  # a comma and a bracket a list, two brackets of the batch
        response = api.post(body)
        assert_problem(response, 413, "too-large", f"body has {marks} commas and opening brackets")
        assert parses == []


@pytest.mark.parametrize("rate_per_key", [60, 0], ids=["key-limit", "no-key-limit"])
def test_a_body_within_the_bound_is_parsed_once_off_the_event_loop(
    database_url: str, tmp_path: Path, parses: Parses, rate_per_key: int
) -> None:
    # The rate limit parses it to learn its key ids and hands the value on; without a key
    # budget the route parses it.
    reader = "api.ratelimit" if rate_per_key else "api.routes.entries"
    with running_api(database_url, tmp_path / "home", rate_per_key=rate_per_key) as api:
        api.accept([api.operator.register("urn:spola:actor:x")])
        api.accept(api.operator.register("urn:spola:actor:y"))
        assert parses == [(reader, False), (reader, False)]


@pytest.mark.parametrize("batch", [False, True], ids=["one", "batch"])
def test_replaying_a_logged_envelope_does_not_spend_its_key_budget(
    database_url: str, tmp_path: Path, batch: bool
) -> None:
    with running_api(database_url, tmp_path / "home", rate_per_key=3) as api:
        mill = api.enrol("mill")
        first = mill.update_self("Filatura")
        body = batch_body([first.to_json()]) if batch else first.to_bytes()
        api.accept(first)  # the mill's first token
        for _ in range(3):  # a stranger sends the logged envelope again, from the public log
            replayed = api.post(body)
            assert replayed.status_code == 200, replayed.text
            receipts = replayed.json()["receipts"] if batch else [replayed.json()]
            assert [r["duplicate"] for r in receipts] == [True]
        for name in ("Filatura Brianza", "Filatura di Monza"):  # the mill's two tokens left
            assert api.post(mill.update_self(name)).status_code == 201
        assert_problem(api.post(mill.update_self("Filatura 4")), 429, "rate-limited", mill.key_id)


def test_a_batch_spends_a_token_of_each_key_it_appended_for_and_of_no_other(
    database_url: str, tmp_path: Path
) -> None:
    with running_api(database_url, tmp_path / "home", rate_per_key=2) as api:
        mill, tannery = api.enrol("mill"), api.enrol("tannery")  # the operator's two tokens
        logged = tannery.update_self("Conceria")
        api.accept(logged)  # the tannery's first token
        # The mill's two envelopes spend one token; the tannery's logged one, sent again, none.
        api.accept([mill.update_self("Filatura"), mill.update_self("Filatura Brianza"), logged])
        api.accept(mill.update_self("Filatura di Monza"))
        api.accept(tannery.update_self("Conceria del Brenta"))
        for spent in (mill, tannery):
            refused = api.post(spent.update_self("one more"))
            assert_problem(refused, 429, "rate-limited", spent.key_id)


def test_a_group_of_forgeries_takes_linear_not_quadratic_verification(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        store = store_of(api)
        mill = api.enrol("mill")
        # Signed by the mill's key id, with a signature no key made.
        envelope = mill.sign_unchecked({"type": "actor"})
        forged = [
            replace(envelope, signatures=(Signature(mill.key_id, bytes([i]) * 64),))
            for i in range(FORGERIES)
        ]
        appended, verified = 0, 0
        real_verify = admission.verify_envelope

        def counting_append(envelopes: Sequence[Envelope]) -> list[Receipt]:
            nonlocal appended
            appended += len(envelopes)
            return store.append(envelopes)

        def counting_verify(envelope: Envelope, public_key: PublicKey) -> None:
            nonlocal verified
            verified += 1
            real_verify(envelope, public_key)

        monkeypatch.setattr(admission, "verify_envelope", counting_verify)
        outcomes = append_group(counting_append, forged)
        assert all(isinstance(o, SignatureError) for o in outcomes), outcomes[:3]
        assert appended <= 2 * FORGERIES, f"{appended} envelopes sent for {FORGERIES}"
        assert verified <= 2 * FORGERIES, f"{verified} signatures verified for {FORGERIES}"
