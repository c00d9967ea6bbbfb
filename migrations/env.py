"""Alembic environment: runs migrations on the connection the caller hands over.

``ledger.store.engine.upgrade`` passes an open connection in ``config.attributes``; the
``alembic`` command line is not needed to run spola. Autogenerate compares against
``ledger.store.schema.metadata`` (the drift test does this in code).
"""

from __future__ import annotations

from alembic import context

from ledger.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ledger.store.engine.upgrade(engine)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
