"""Fixtures shared by the integration tests that talk to the API: a fresh ledger, the demo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.api_support import Api, running_api, seeded_api


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
