"""Decimal amounts as TEXT: a 28-digit conversion may be longer than 40 characters.

A quantity converted into a unit whose factor is not a power of ten (FTK, DZN, PR) keeps 28
significant digits however small it is: 10^-12 cm² is 1.0763…·10^-15 ft², a 44-character
decimal, and a mass derived from it can be longer still. PostgreSQL refused such a row
(VARCHAR(40)) while SQLite, which ignores declared lengths, stored it. On PostgreSQL the columns
become TEXT (varchar to text is binary coercible: no table rewrite); SQLite is left as it is,
since its VARCHAR(40) already stores every exact decimal and changing a declared type there
means copying each table.

Revision ID: 0007_amount_text
Revises: 0006_event_type_index
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_amount_text"
down_revision = "0006_event_type_index"
branch_labels = None
depends_on = None

CLAIM_AND_FEEDSTOCK = ("claim_fraction", "recycled", "reused", "renewable")
AMOUNTS = {
    "lots": ("mass_per_unit", *CLAIM_AND_FEEDSTOCK),
    "balances": ("amount",),
    "items": ("mass", *CLAIM_AND_FEEDSTOCK),
    "custody": ("amount",),
    "provenance": ("mass",),
}


def _retype(old: sa.types.TypeEngine[str], new: sa.types.TypeEngine[str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in AMOUNTS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=new, existing_type=old)


def upgrade() -> None:
    _retype(sa.String(40), sa.Text())


def downgrade() -> None:
    _retype(sa.Text(), sa.String(40))
