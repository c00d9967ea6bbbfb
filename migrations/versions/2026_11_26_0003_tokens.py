"""API tokens: hashed bearer tokens for the brand and operator access tiers.

Operator state, not part of the log and not a projection: tokens are created and revoked in
place (``revoked_at``), so no append-only triggers and nothing for ``spola rebuild`` to replay.
Only the SHA-256 of each secret is stored.

Revision ID: 0003_tokens
Revises: 0002_domain
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_tokens"
down_revision = "0002_domain"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("revoked_at", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
