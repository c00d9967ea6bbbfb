"""Indexes on handovers (sender, logged_at_index) and (receiver, logged_at_index).

The directory keeps each actor's latest 5,000 handovers sent and received. With only the
primary key (sender, id) and an index on the receiver, the database read every handover of
the actor to find its latest ones: a search over a mill that shipped a million times read a
million rows. In log order, a read seeks the actor's 5,000th latest handover and stops there.
The receiver index replaces the one on the receiver alone, which it also serves.

Revision ID: 0008_handover_order_index
Revises: 0007_amount_text
Create Date: 2026-11-27
"""

from alembic import op

revision = "0008_handover_order_index"
down_revision = "0007_amount_text"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_handovers_sender_logged_at_index", "handovers", ["sender", "logged_at_index"]
    )
    op.create_index(
        "ix_handovers_receiver_logged_at_index", "handovers", ["receiver", "logged_at_index"]
    )
    op.drop_index("ix_handovers_receiver", table_name="handovers")


def downgrade() -> None:
    op.create_index("ix_handovers_receiver", "handovers", ["receiver"])
    op.drop_index("ix_handovers_receiver_logged_at_index", table_name="handovers")
    op.drop_index("ix_handovers_sender_logged_at_index", table_name="handovers")
