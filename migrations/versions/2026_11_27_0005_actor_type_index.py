"""An index on log_entries (actor, event_type, applied, idx): an actor's applied entries of one
type in log order.

The home page and the maturity routes ask for an actor's latest assessment, the directory for
its latest profile and its own supply events. With only the (actor, idx) index those reads
walked the actor's history backwards through every entry of other types (a brand's passports,
a mill's profile updates), and for an actor without any, through all of it: 70 ms an actor of
50,000 entries on SQLite, for each actor the home page lists, after every append. The index
holds the log indexes themselves, so choosing the latest entries reads no entry.

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
        "ix_log_entries_actor_event_type_applied_idx",
        "log_entries",
        ["actor", "event_type", "applied", "idx"],
    )


def downgrade() -> None:
    op.drop_index("ix_log_entries_actor_event_type_applied_idx", table_name="log_entries")
