"""API tokens get an optional last day: ``api_tokens.valid_until``.

A token was accepted until revoked. ``spola token create --valid-until YYYY-MM-DD`` now gives it
a last day (UTC, inclusive), stored as that text; the column is nullable and every token made
before it stays NULL, meaning no last day, so existing tokens keep working as they did.

Revision ID: 0009_token_valid_until
Revises: 0008_handover_order_index
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_token_valid_until"
down_revision = "0008_handover_order_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("valid_until", sa.String(10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("valid_until")
