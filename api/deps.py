"""Dependencies shared by the routers: the store and the settings, from the app's state; and
``given_once``, the JSON routers' refusal of a query parameter given twice."""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Depends, Request
from fastapi.routing import APIRoute

from api.problems import BadRequest
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


def given_once(request: Request) -> None:
    """Refuse a query parameter the route reads as one value that is given more than once
    (``?index=1&index=2``): which one counts would be a guess, and the last one counting would
    answer ``?category=leather&category=metal`` as if leather had been no filter at all. A
    parameter the route reads as a list may repeat."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    single = {
        param.alias
        for param in route.dependant.query_params
        if not _many(param.field_info.annotation)
    }
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        if name in single and name in seen:
            raise BadRequest(f"query.{name}: given more than once; give it once")
        seen.add(name)


def _many(annotation: Any) -> bool:
    """Whether a parameter of type ``annotation`` takes several values (a list, a set, …)."""
    origin = get_origin(annotation)
    if origin is Union or origin is UnionType:
        return any(_many(arg) for arg in get_args(annotation))
    return origin in (list, set, frozenset, tuple)
