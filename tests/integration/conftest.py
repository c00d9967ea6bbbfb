"""Fixtures shared by the integration tests that read the demo ledger through the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.api_support import Api, seeded_api


@pytest.fixture
def demo(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """A running API over a database the demo has seeded."""
    with seeded_api(database_url, tmp_path / "home") as api:
        yield api
