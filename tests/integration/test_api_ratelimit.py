"""Rate limits per client and per signing key (``api.ratelimit``), through the real app.

The budgets are small here so a test spends them in a few requests; a bucket refills at
``per_minute / 60`` tokens a second, so the tests that must see a refill drive the middleware
with a clock of their own instead of waiting. Refusals are 429 problems with ``Retry-After``
and leave the log untouched. SQLite only: the limits live in the process, not the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.ratelimit import RateLimit, TokenBuckets, envelope_key_ids, parsed_body
from api.settings import Settings, SettingsError
from ledger.envelope import Envelope, Signature
from tests.integration.api_support import Api, assert_problem, running_api, store_of
from tests.terminal import Terminal

pytestmark = pytest.mark.integration


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def _assert_rate_limited(response: httpx.Response, *detail: str) -> int:
    assert_problem(response, 429, "rate-limited", *detail)
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


def _rename(terminal: Terminal, name: str) -> Envelope:
    # A profile update signed by the actor itself: logged (201), not applied (operator only).
    return terminal.update_self(name)


# -- per client -------------------------------------------------------------------------------


def test_client_over_its_budget_is_refused_429_with_retry_after(
    sqlite_url: str, tmp_path: Path
) -> None:
    # 3 a minute: running_api spends one reading the genesis entry, two are left.
    with running_api(sqlite_url, tmp_path / "home", rate_per_client=3) as api:
        answers = [api.client.get("/v1/log/checkpoint") for _ in range(4)]

        assert [r.status_code for r in answers[:2]] == [200, 200]
        for refused in answers[2:]:
            retry_after = _assert_rate_limited(refused, "client testclient is over 3/min")
            assert retry_after <= 20  # one token comes back every 60 / 3 seconds


def test_refused_post_is_not_logged(sqlite_url: str, tmp_path: Path) -> None:
    with running_api(sqlite_url, tmp_path / "home", rate_per_client=2) as api:
        size = int(api.client.get("/healthz").json()["tree_size"])  # the last token
        envelope = api.operator.register("urn:spola:actor:filatura")

        _assert_rate_limited(api.post(envelope))

        assert store_of(api).tree_size() == size


def test_budget_of_zero_disables_both_limits(sqlite_url: str, tmp_path: Path) -> None:
    with running_api(sqlite_url, tmp_path / "home", rate_per_client=0, rate_per_key=0) as api:
        assert {api.client.get("/healthz").status_code for _ in range(50)} == {200}
        api.accept([api.operator.register(f"urn:spola:actor:w{i}") for i in range(3)])
        for i in range(20):
            api.accept(api.operator.register(f"urn:spola:actor:x{i}"))


# -- per signing key ----------------------------------------------------------------------------


def test_key_over_its_budget_is_refused_and_other_keys_are_not(
    sqlite_url: str, tmp_path: Path
) -> None:
    with running_api(sqlite_url, tmp_path / "home", rate_per_key=3) as api:
        tannery = api.enrol("conceria")  # the operator's key spends one token per enrolment
        mill = api.enrol("filatura")
        for i in range(3):
            api.accept(_rename(tannery, f"Conceria {i}"))
        size = api.tree_size()

        refused = api.post(_rename(tannery, "Conceria 3"))

        _assert_rate_limited(refused, f"signing key {tannery.key_id} is over 3/min")
        assert api.tree_size() == size
        api.accept(_rename(mill, "Filatura 1"))  # another key, its own budget


def test_batch_naming_a_spent_key_is_refused_whole(sqlite_url: str, tmp_path: Path) -> None:
    with running_api(sqlite_url, tmp_path / "home", rate_per_key=2) as api:
        tannery = api.enrol("conceria")
        mill = api.enrol("filatura")  # the operator's two tokens are spent now
        api.accept(_rename(tannery, "Conceria 1"))
        size = api.tree_size()

        response = api.post(
            [_rename(mill, "Filatura 1"), api.operator.register("urn:spola:actor:x")]
        )

        _assert_rate_limited(response, "signing key")
        assert api.tree_size() == size


def test_forged_key_id_does_not_spend_the_keys_budget(sqlite_url: str, tmp_path: Path) -> None:
    with running_api(sqlite_url, tmp_path / "home", rate_per_key=2) as api:
        tannery = api.enrol("conceria")
        genuine = _rename(tannery, "Conceria 1")
        forged = Envelope(
            genuine.payload_type, genuine.payload, (Signature(tannery.key_id, b"\0" * 64),)
        )
        for _ in range(5):  # signed by nobody, naming the tannery's key: refused, not charged
            assert_problem(api.post(forged), 403, "signature")

        api.accept(genuine)
        api.accept(_rename(tannery, "Conceria 2"))
        _assert_rate_limited(api.post(_rename(tannery, "Conceria 3")))


def _key_ids(body: bytes, *, max_bytes: int, max_batch: int) -> list[str]:
    """The key ids the rate limit reads in ``body``: [] for a body it leaves to the route."""
    value = parsed_body(body, max_bytes=max_bytes, max_batch=max_batch)
    return [] if value is None else envelope_key_ids(value)


def test_key_ids_are_read_from_single_envelopes_and_batches() -> None:
    one = b'{"payload":"","payloadType":"t","signatures":[{"keyid":"aa","sig":""}]}'
    batch = b'{"envelopes":[%b,%b,{"signatures":[{"keyid":"bb"},{"sig":"x"},7]}]}' % (one, one)

    assert _key_ids(one, max_bytes=1024, max_batch=3) == ["aa"]
    assert _key_ids(batch, max_bytes=1024, max_batch=3) == ["aa", "bb"]
    for unreadable in (b"", b"[", b"\xff", b'{"envelopes": 3}', b"[" * 100 + b"]" * 100):
        assert _key_ids(unreadable, max_bytes=1024, max_batch=3) == []


def test_key_ids_of_a_body_over_the_routes_value_bound_are_not_read() -> None:
    # More commas and brackets than a batch of one envelope has: the route refuses it (413)
    # unparsed, and the rate limit does not parse it either.
    one = b'{"payload":"","payloadType":"t","signatures":[{"keyid":"aa","sig":""}]}'
    padded = b'{"envelopes":[%b,%b]}' % (one, b",".join([b"[]"] * 100))

    assert _key_ids(one, max_bytes=4096, max_batch=1) == ["aa"]
    assert _key_ids(padded, max_bytes=4096, max_batch=1) == []


# -- refill, with a clock of the test's own -----------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limited(clock: Clock) -> Iterator[tuple[FastAPI, Clock]]:
    inner = FastAPI()

    @inner.get("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    inner.add_middleware(
        RateLimit, settings=Settings(rate_per_client=6, rate_per_key=6), clock=clock
    )
    yield inner, clock


def test_bucket_refills_after_retry_after(limited: tuple[FastAPI, Clock]) -> None:
    app, clock = limited
    with TestClient(app) as client:
        assert {client.get("/ping").status_code for _ in range(6)} == {200}
        retry_after = _assert_rate_limited(client.get("/ping"))
        assert retry_after == 10  # 6 a minute: one token every 10 s

        clock.now += retry_after - 1
        _assert_rate_limited(client.get("/ping"))
        clock.now += 1
        assert client.get("/ping").status_code == 200
        _assert_rate_limited(client.get("/ping"))


def test_each_peer_address_has_its_own_bucket(limited: tuple[FastAPI, Clock]) -> None:
    app, _ = limited
    with TestClient(app, client=("203.0.113.7", 4000)) as greedy:
        assert {greedy.get("/ping").status_code for _ in range(6)} == {200}
        _assert_rate_limited(greedy.get("/ping"), "client 203.0.113.7")
    with TestClient(app, client=("198.51.100.2", 4000)) as other:
        assert other.get("/ping").status_code == 200


def test_buckets_kept_are_bounded_forgetting_the_least_recent(clock: Clock) -> None:
    buckets = TokenBuckets(1, clock=clock, max_buckets=2)
    for name in ("a", "b", "c"):
        assert buckets.take(name) == 0
    assert buckets.take("b") > 0 and buckets.take("c") > 0
    assert buckets.take("a") == 0  # forgotten, so it came back full


# -- settings -----------------------------------------------------------------------------------


def test_limits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOLA_RATE_PER_CLIENT", "120")
    monkeypatch.setenv("SPOLA_RATE_PER_KEY", "0")
    settings = Settings.from_env()
    assert (settings.rate_per_client, settings.rate_per_key) == (120, 0)
    assert Settings().rate_per_client >= 1000 and Settings().rate_per_key >= 100


@pytest.mark.parametrize("text", ["-1", "ten", "1.5", ""])
def test_limit_that_is_not_a_whole_number_is_refused(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv("SPOLA_RATE_PER_KEY", text)
    with pytest.raises(SettingsError, match="SPOLA_RATE_PER_KEY"):
        Settings.from_env()


def test_default_limits_leave_the_suite_alone(api_for_defaults: Api) -> None:
    # The defaults: a terminal syncing 120 single envelopes in a row is never refused.
    terminal = api_for_defaults.enrol("atelier")
    for i in range(120):
        api_for_defaults.accept(_rename(terminal, f"Atelier {i}"))


@pytest.fixture
def api_for_defaults(sqlite_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(sqlite_url, tmp_path / "home") as api:
        yield api
