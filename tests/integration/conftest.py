"""Fixtures shared by the integration tests that talk to the API: a fresh ledger, the demo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.main import create_app
from api.operator import init_home
from api.settings import Settings
from tests.integration.api_support import Api, running_api, seeded_api, serving
from tests.terminal import TERMINAL_PASSPHRASE


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
