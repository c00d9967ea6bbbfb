"""An index on log_entries (event_type, idx): the entries of one type in log order.

Every passport read names its actors from their registrations (``actor`` entries); bundle
export reads the registry (``actor`` and ``key`` entries), and EPCIS the actors' versions.
Without the index each of those reads scanned the whole log for a few hundred rows: 38 ms at
50,000 entries on SQLite, for every passport a consumer opens.

Revision ID: 0006_event_type_index
Revises: 0005_actor_type_index
Create Date: 2026-11-27
"""

from alembic import op

revision = "0006_event_type_index"
down_revision = "0005_actor_type_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_log_entries_event_type_idx", "log_entries", ["event_type", "idx"])


def downgrade() -> None:
    op.drop_index("ix_log_entries_event_type_idx", table_name="log_entries")
