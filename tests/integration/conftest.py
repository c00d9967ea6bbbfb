"""Fixtures shared by the integration tests that talk to the API: a fresh ledger, the demo."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from api.main import create_app
from api.operator import init_home
from api.settings import Settings
from tests.integration.api_support import Api, route_terminal_to, running_api, seeded_api, serving
from tests.integration.sync_support import ACTOR, StartLedger, add_key, terminal_key
from tests.supply import facility
from tests.terminal import TERMINAL_PASSPHRASE
from tests.terminal import run_cli as run


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """A running API over a fresh ledger (its genesis only); a module may override it."""
    with running_api(database_url, tmp_path / "home") as running:
        yield running


@pytest.fixture
def demo(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """A running API over a database the demo has seeded."""
    with seeded_api(database_url, tmp_path / "home") as api:
        yield api


@pytest.fixture
def host(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server (uvicorn) over a fresh SQLite ledger: its ``host:port``, for tests
    that write raw requests on a socket."""
    init_home(tmp_path / "home")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}", home=tmp_path / "home")
    with serving(create_app(settings)) as served:
        yield served


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workshop terminal's home, for ``spola`` terminal commands run in this process; its
    passphrase is ``TERMINAL_PASSPHRASE``."""
    folder = tmp_path / "terminal"
    monkeypatch.setenv("SPOLA_TERMINAL_HOME", str(folder))
    monkeypatch.setenv("SPOLA_KEY_PASSPHRASE", TERMINAL_PASSPHRASE)
    return folder


@pytest.fixture
def actor_key(home: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """The terminal's key, generated for ``sync_support.ACTOR`` (`spola key generate`): its
    key fields."""
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    return terminal_key(home)


@pytest.fixture
def start_ledger(
    actor_key: dict[str, str], tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> StartLedger:
    """`with start_ledger(*actors, key_of=None) as api`: a running ledger `spola sync` talks to,
    with ``actors`` registered (one batch, a facility each) and the terminal's ``actor_key``
    added to actor ``key_of`` (not added to any when None)."""

    @contextmanager
    def start(*actors: str, key_of: str | None = None) -> Iterator[Api]:
        with running_api(database_url, tmp_path / "ledger-home") as api:
            route_terminal_to(api, monkeypatch)
            api.accept([api.operator.register(actor, facilities=[facility()]) for actor in actors])
            if key_of is not None:
                add_key(api, key_of, actor_key)
            yield api

    return start
