"""Service settings, read from the environment once, passed to ``create_app`` explicitly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ledger.errors import LedgerError

DEFAULT_DATABASE_URL = "sqlite:///./spola.db"
# Generous: a consumer page, a terminal syncing its queue in batches, the demo and the test
# suite stay far below them; they stop a runaway client, not a busy one.
DEFAULT_RATE_PER_CLIENT = 6000
DEFAULT_RATE_PER_KEY = 600


class SettingsError(LedgerError):
    """A setting from the environment that cannot be used."""


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise SettingsError(f"{name}={text!r} must be a positive whole number")
    return int(text)


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if text is None:
        return default
    if not text.isdigit():
        raise SettingsError(f"{name}={text!r} must be a whole number (0 or more)")
    return int(text)


def _base_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(
            f"SPOLA_PUBLIC_BASE_URL={text!r} must be an http(s) URL such as https://id.example.com"
        )
    return text.rstrip("/")


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # A PostgreSQL streaming replica of database_url for lag-tolerant reads (passports,
    # proofs, checkpoint, lots, items, traces); None reads everything from the primary.
    read_database_url: str | None = None
    home: Path = field(default_factory=lambda: Path(".spola"))
    max_body_bytes: int = 8 * 1024 * 1024  # a full batch of 1,000 typical envelopes fits
    max_batch: int = 1000
    max_page: int = 1000
    # Where consumers reach this service: QR codes and Digital Link URIs are built on it.
    public_base_url: str = "http://127.0.0.1:8000"
    # Requests per minute (api.ratelimit), per peer address and per signing key; 0 disables.
    rate_per_client: int = DEFAULT_RATE_PER_CLIENT
    rate_per_key: int = DEFAULT_RATE_PER_KEY
    # How long a single-event submission waits for others to share its batch (0: never).
    group_commit_ms: int = 5

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        env = os.environ
        settings = cls(
            database_url=env.get("SPOLA_DATABASE_URL", DEFAULT_DATABASE_URL),
            read_database_url=env.get("SPOLA_READ_DATABASE_URL") or None,
            home=Path(env.get("SPOLA_HOME", ".spola")),
            max_body_bytes=_positive(env, "SPOLA_MAX_BODY_BYTES", 8 * 1024 * 1024),
            max_batch=_positive(env, "SPOLA_MAX_BATCH", 1000),
            max_page=_positive(env, "SPOLA_MAX_PAGE", 1000),
            public_base_url=_base_url(env.get("SPOLA_PUBLIC_BASE_URL", "http://127.0.0.1:8000")),
            rate_per_client=_whole(env, "SPOLA_RATE_PER_CLIENT", DEFAULT_RATE_PER_CLIENT),
            rate_per_key=_whole(env, "SPOLA_RATE_PER_KEY", DEFAULT_RATE_PER_KEY),
            group_commit_ms=_whole(env, "SPOLA_GROUP_COMMIT_MS", 5),
        )
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
