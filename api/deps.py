"""Dependencies shared by the routers: the store and the settings, from the app's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.settings import Settings
from ledger.store.ledger import LedgerStore


def _store(request: Request) -> LedgerStore:
    store: LedgerStore = request.app.state.store
    return store


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[LedgerStore, Depends(_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]
