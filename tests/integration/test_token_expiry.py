"""Token expiry on both engines: valid through its last day in UTC, then refused like a revoked one.

``spola token create --valid-until YYYY-MM-DD`` gives a token a last day: it is accepted until
that day ends in UTC and refused from the next day's first instant, with the 401 an unknown or
revoked token gets, so the answer does not tell a guesser that the id existed. Tokens made
without a last day, and every token made before the column existed, never expire. The clock
``ledger.store.tokens.now`` is pinned to the instants under test: nothing sleeps.

The CLI runs in-process (``spola.cli.main``) where the clock is pinned, and as a real process
where it need not be (a day in the past is past whatever today is); requests go through the
real app (``api.main.create_app``, lifespan included).
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from ledger.events import OPERATOR_ACTOR
from ledger.store import tokens
from ledger.store.engine import alembic_config, make_engine
from ledger.store.schema import metadata
from spola.cli import main
from tests.integration.api_support import Api, assert_problem, running_api

pytestmark = pytest.mark.integration

SCRIPT = Path(sys.executable).with_name("spola")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "spola"]
LAST_DAY = "2030-06-15"
PREVIOUS_HEAD = "0008_handover_order_index"


class Clock:
    """The instant ``ledger.store.tokens`` takes for now; moved by the test."""

    def __init__(self, instant: str) -> None:
        self.instant = datetime.fromisoformat(instant)

    def __call__(self) -> datetime:
        return self.instant

    def at(self, instant: str) -> None:
        self.instant = datetime.fromisoformat(instant)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    pinned = Clock("2030-06-01T09:00:00+00:00")
    monkeypatch.setattr(tokens, "now", pinned)
    return pinned


@pytest.fixture
def api(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The real app over ``database_url``, and the CLI pointed at the same home and database."""
    home = tmp_path / "home"
    monkeypatch.setenv("SPOLA_HOME", str(home))
    monkeypatch.setenv("SPOLA_DATABASE_URL", database_url)
    with running_api(database_url, home) as running:
        yield running


def spola(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``spola ARGS`` in this process (its clock pinned): exit status, stdout, stderr."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def create(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = spola(capsys, "token", "create", "--tier", "operator", *args)
    assert code == 0, err
    return out.strip()


def whoami(api: Api, token: str) -> tuple[int, str]:
    """Status of a restricted read with ``token``, and the 401 detail when refused."""
    response = api.client.get("/v1/directory", headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 200:
        return 200, ""
    body = assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer "), response.headers
    return 401, body["detail"]


# -- the last day -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "accepted"),
    [
        ("2030-06-14T12:00:00+00:00", True),  # the day before
        ("2030-06-15T00:00:00+00:00", True),  # the last day begins
        ("2030-06-15T23:59:59.999999+00:00", True),  # its last microsecond
        ("2030-06-16T00:00:00+00:00", False),  # the day after begins
        ("2031-01-01T00:00:00+00:00", False),
        # The day is a UTC day: 23:30 on the 15th in Buenos Aires is the 16th in UTC, and
        # 00:30 on the 16th in Rome is still the 15th.
        ("2030-06-15T23:30:00-03:00", False),
        ("2030-06-16T00:30:00+02:00", True),
    ],
)
def test_a_token_works_through_its_last_day_in_utc_and_not_after(
    api: Api, clock: Clock, capsys: pytest.CaptureFixture[str], instant: str, accepted: bool
) -> None:
    token = create(capsys, "--valid-until", LAST_DAY)
    forever = create(capsys)

    clock.at(instant)

    assert whoami(api, token)[0] == (200 if accepted else 401)
    assert whoami(api, forever) == (200, "")  # no last day: never expires


def test_an_expired_token_is_refused_like_a_revoked_or_unknown_one(
    api: Api, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    expired = create(capsys, "--valid-until", LAST_DAY)
    revoked = create(capsys, "--valid-until", "2030-12-31")
    assert spola(capsys, "token", "revoke", revoked.split("_")[1])[0] == 0
    unknown = f"spola_00000000_{expired.split('_', 2)[2]}"
    wrong = expired[:-1] + ("A" if expired[-1] != "A" else "E")

    clock.at("2030-06-16T00:00:00+00:00")

    answers = {token: whoami(api, token) for token in (expired, revoked, unknown, wrong)}
    assert len(set(answers.values())) == 1, answers
    assert next(iter(answers.values()))[0] == 401
    assert expired.split("_")[1] not in next(iter(answers.values()))[1]


def test_a_brand_token_expires_too(
    api: Api, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    brand = api.enrol("maison-navigli", roles=["brand"])
    code, out, err = spola(capsys, "token", "create", "--tier", "brand", "--actor", brand.actor,
                           "--valid-until", LAST_DAY)  # fmt: skip
    assert code == 0, err
    token = out.strip()
    assert whoami(api, token)[0] == 200
    clock.at("2030-06-16T00:00:00+00:00")
    assert whoami(api, token)[0] == 401


# -- spola token list ---------------------------------------------------------------------------


def test_the_listing_shows_the_last_day_and_marks_expired_tokens(
    api: Api, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    ending = create(capsys, "--valid-until", LAST_DAY, "--label", "ending").split("_")[1]
    forever = create(capsys, "--label", "forever").split("_")[1]
    revoked = create(capsys, "--valid-until", LAST_DAY, "--label", "revoked").split("_")[1]
    assert spola(capsys, "token", "revoke", revoked)[0] == 0

    def listed() -> dict[str, str]:
        code, out, err = spola(capsys, "token", "list")
        assert (code, err) == (0, "")
        return {line.split()[0]: line for line in out.splitlines()}

    clock.at("2030-06-15T23:59:59+00:00")
    before = listed()
    assert f"  active until {LAST_DAY}  ending" in before[ending]
    assert "  active  forever" in before[forever]
    assert "revoked 2" in before[revoked] and "active" not in before[revoked]

    clock.at("2030-06-16T00:00:00+00:00")
    after = listed()
    assert f"  expired after {LAST_DAY}  ending" in after[ending]
    assert "active" not in after[ending]
    assert after[forever] == before[forever]
    assert after[revoked] == before[revoked]  # revoked says it all


# -- refusals -----------------------------------------------------------------------------------


def test_a_last_day_before_today_is_refused_and_today_is_not(
    api: Api, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    clock.at("2030-06-15T00:30:00+02:00")  # the 14th in UTC: the 14th is today, not the past
    code, out, err = spola(capsys, "token", "create", "--tier", "operator",
                           "--valid-until", "2030-06-13")  # fmt: skip
    assert (code, out) == (1, ""), err
    assert len(err.strip().splitlines()) == 1 and err.startswith("spola: "), err
    assert "2030-06-13" in err and "past" in err and "2030-06-14" in err, err
    assert spola(capsys, "token", "list")[1] == ""  # nothing was stored

    code, token, err = spola(capsys, "token", "create", "--tier", "operator",
                             "--valid-until", "2030-06-14")  # fmt: skip
    assert code == 0 and "valid through 2030-06-14 (UTC)" in err, err
    assert whoami(api, token.strip())[0] == 200


def _spola_process(home: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPOLA_HOME": str(home), "SPOLA_DATABASE_URL": database_url}
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def test_the_command_refuses_a_past_or_malformed_day(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "home"
    assert _spola_process(home, database_url, "init").returncode == 0
    create_ = ("token", "create", "--tier", "operator", "--valid-until")

    past = _spola_process(home, database_url, *create_, "2001-02-03")
    assert (past.returncode, past.stdout) == (1, ""), past.stderr
    assert len(past.stderr.strip().splitlines()) == 1, past.stderr
    assert past.stderr.startswith("spola: ") and "2001-02-03" in past.stderr, past.stderr

    for malformed in ("2030-13-01", "2030-02-30", "20300615", "2030-W24-6", "tomorrow", "+7"):
        done = _spola_process(home, database_url, *create_, malformed)
        assert (done.returncode, done.stdout) == (2, ""), (malformed, done.stderr)
        assert f"{malformed!r} is not a day YYYY-MM-DD" in done.stderr, done.stderr

    assert _spola_process(home, database_url, "token", "list").stdout == ""
    made = _spola_process(home, database_url, *create_, "9999-12-31")
    assert made.returncode == 0, made.stderr
    listed = _spola_process(home, database_url, "token", "list").stdout
    assert "active until 9999-12-31" in listed


# -- tokens made before expiry existed ----------------------------------------------------------


def test_a_token_made_before_the_migration_keeps_working_forever(
    empty_database_url: str,
    tmp_path: Path,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = make_engine(empty_database_url)
    try:
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, PREVIOUS_HEAD)
        secret = bytes(range(32))
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO api_tokens (id, token_hash, tier, actor, label, created_at) "
                    "VALUES ('0a1b2c3d', :hash, 'operator', :actor, 'old', '2026-11-01T00:00Z')"
                ),
                {"hash": hashlib.sha256(secret).hexdigest(), "actor": OPERATOR_ACTOR},
            )
    finally:
        engine.dispose()
    token = f"spola_0a1b2c3d_{base64.urlsafe_b64encode(secret).rstrip(b'=').decode()}"
    monkeypatch.setenv("SPOLA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SPOLA_DATABASE_URL", empty_database_url)

    with running_api(empty_database_url, tmp_path / "home") as api:  # its lifespan migrates
        clock.at("9999-12-31T23:59:59+00:00")
        assert whoami(api, token) == (200, "")
        code, out, err = spola(capsys, "token", "list")
        assert (code, err) == (0, "")
        assert out.startswith("0a1b2c3d  operator") and "  active  old" in out, out

    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            row = conn.execute(text("SELECT valid_until FROM api_tokens")).one()
        assert row.valid_until is None
    finally:
        engine.dispose()


def test_the_clock_is_utc_aware() -> None:
    # The pinned clock stands in for this one: an aware instant, compared as a UTC day.
    instant = tokens.now()
    assert instant.utcoffset() == timedelta(0)
    assert abs(instant - datetime.now(UTC)) < timedelta(minutes=1)
