"""An index on log_entries (actor, idx): an actor's own entries in log order.

The directory's track records, the maturity metrics, actor bundles and the EPCIS actor filter
read an actor's entries; without the index each of them scanned the whole log.

Revision ID: 0004_actor_index
Revises: 0003_tokens
Create Date: 2026-11-26
"""

from alembic import op

revision = "0004_actor_index"
down_revision = "0003_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_log_entries_actor_idx", "log_entries", ["actor", "idx"])


def downgrade() -> None:
    op.drop_index("ix_log_entries_actor_idx", table_name="log_entries")
