"""An index on log_entries (actor, event_type, idx): an actor's entries of one type in log order.

The home page and the maturity routes ask for an actor's latest assessment. With only the
(actor, idx) index that read walked the actor's whole history backwards until it met one, and
for the many actors that never signed an assessment, all of it: 70 ms an actor of 50,000
entries on SQLite, for each actor the home page lists, after every append.

Revision ID: 0005_actor_type_index
Revises: 0004_actor_index
Create Date: 2026-11-27
"""

from alembic import op

revision = "0005_actor_type_index"
down_revision = "0004_actor_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_log_entries_actor_event_type_idx", "log_entries", ["actor", "event_type", "idx"]
    )


def downgrade() -> None:
    op.drop_index("ix_log_entries_actor_event_type_idx", table_name="log_entries")
