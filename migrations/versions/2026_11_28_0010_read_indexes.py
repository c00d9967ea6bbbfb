"""Indexes for the public reads: each seeks what it filters on, in the order it answers in.

Anyone may ask for the list of actors, an actor's holdings, a lot, an item, a trace or the list
of passports. Without these indexes the list of actors sorted the whole actors table for every
page; an actor's pending handovers were found by actor and then filtered on their status, so a
mill that shipped a million times, all received, read a million rows per request; a lot's
handovers in transit were found among every custody row of the lot; the passport list and count
read the whole custody table; and the holdings, a lot's or item's history, an actor's keys and a
trace sorted what they had found. Each index below replaces the one it extends, which it also
serves.

Revision ID: 0010_read_indexes
Revises: 0009_token_valid_until
Create Date: 2026-11-28
"""

from alembic import op

revision = "0010_read_indexes"
down_revision = "0009_token_valid_until"
branch_labels = None
depends_on = None

# (table, the new index's columns, the columns of the index it replaces, if any)
_INDEXES: list[tuple[str, list[str], list[str] | None]] = [
    ("actors", ["registered_at_index"], None),
    ("keys", ["actor", "valid_from_index"], ["actor"]),
    ("balances", ["holder", "lot"], ["holder"]),
    ("items", ["owner", "id"], ["owner"]),
    ("items", ["custodian", "id"], ["custodian"]),
    ("handovers", ["sender", "status", "logged_at_index"], None),
    ("handovers", ["receiver", "status", "logged_at_index"], None),
    ("custody", ["subject", "idx", "n"], ["subject"]),
    ("custody", ["action", "subject", "idx"], None),
    ("provenance", ["subject", "role", "idx"], ["subject", "role"]),
]


def _name(table: str, columns: list[str]) -> str:
    """The name ``ledger.store.schema``'s naming convention gives the index."""
    return f"ix_{table}_{'_'.join(columns)}"


def upgrade() -> None:
    for table, columns, replaced in _INDEXES:
        op.create_index(_name(table, columns), table, columns)
        if replaced is not None:
            op.drop_index(_name(table, replaced), table_name=table)


def downgrade() -> None:
    for table, columns, replaced in reversed(_INDEXES):
        if replaced is not None:
            op.create_index(_name(table, replaced), table, replaced)
        op.drop_index(_name(table, columns), table_name=table)
