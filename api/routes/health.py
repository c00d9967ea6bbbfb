"""``GET /healthz``: the service answers and its database is reachable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import StoreDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness and database reachability")
def healthz(store: StoreDep) -> dict[str, Any]:
    return {"status": "ok", "tree_size": store.tree_size(), "origin": store.origin}
