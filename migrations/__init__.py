"""Alembic migrations for the spola store (``op`` and ``sa`` only, never application imports)."""
