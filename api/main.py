"""``create_app(settings)``: builds the FastAPI application; nothing runs at import time.

The store (engine, migrations, genesis) is opened in the lifespan, so importing this module
touches no database and reads no key.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import auth, problems
from api.cors import ResolverCors
from api.escapes import check_escapes
from api.group_commit import GroupCommit
from api.head import HeadAsGet
from api.limits import BodyLimit
from api.operator import load_operator
from api.paths import EncodedSlashes
from api.ratelimit import RateLimit
from api.routes import (
    catalogue,
    circularity,
    directory,
    domain,
    entries,
    epcis,
    health,
    home,
    log,
    maturity,
    passports,
    registry,
    resolver,
    scores,
)
from api.settings import Settings
from ledger.store.ledger import LedgerStore

logger = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        operator = load_operator(settings.home)
        store = LedgerStore.open(
            settings.database_url,
            operator=operator.key,
            origin=operator.origin,
            max_batch=settings.max_batch,
            read_url=settings.read_database_url,
        )
        app.state.store = store
        app.state.settings = settings
        app.state.group_commit = GroupCommit.for_settings(store.append, settings)
        logger.info("serving log %s (size %d)", store.origin, store.tree_size())
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title="spola",
        version="0.1.0",
        summary="Traceability ledger: signed supply-chain events in a verifiable log.",
        lifespan=lifespan,
        dependencies=[Depends(check_escapes)],  # a broken %-escape is a 422 (api/escapes.py)
    )
    app.add_middleware(RateLimit, settings=settings)  # inside BodyLimit, so bodies are bounded
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(EncodedSlashes)  # routes see %2F %25 %3F %23 as sent (api/paths.py)
    app.add_middleware(HeadAsGet)  # HEAD is the GET, limits and all, without a body
    app.add_middleware(ResolverCors)  # outermost: the resolver's refusals are readable too
    problems.install(app)
    auth.install(app)
    routers = (
        entries, log, registry, directory, scores, domain, catalogue, circularity, epcis, passports,
        resolver, maturity, health, home,
    )  # fmt: skip
    for module in routers:
        app.include_router(module.router)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (used by ``spola serve`` with several workers)."""
    return create_app(Settings.from_env())
