"""Fixtures shared by the integration tests that talk to the API: a fresh ledger, the demo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.api_support import Api, running_api, seeded_api
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
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workshop terminal's home, for ``spola`` terminal commands run in this process; its
    passphrase is ``TERMINAL_PASSPHRASE``."""
    folder = tmp_path / "terminal"
    monkeypatch.setenv("SPOLA_TERMINAL_HOME", str(folder))
    monkeypatch.setenv("SPOLA_KEY_PASSPHRASE", TERMINAL_PASSPHRASE)
    return folder
