"""Domain projections: lots, balances, items, handovers, custody history and provenance.

Projections, not ledger tables: they are derived from the log by ``ledger.rules`` and can be
rebuilt from it (``spola rebuild``), so no append-only triggers.

Revision ID: 0002_domain
Revises: 0001_log
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_domain"
down_revision = "0001_log"
branch_labels = None
depends_on = None

IDENT = sa.String(120)
ACTOR = sa.String(80)
AMOUNT = sa.String(40)


def _claim_and_feedstock() -> list[sa.Column[str]]:
    return [
        sa.Column("claim_model", sa.String(24), nullable=True),
        sa.Column("claim_scheme", sa.String(32), nullable=True),
        sa.Column("claim_fraction", AMOUNT, nullable=True),
        sa.Column("recycled", AMOUNT, nullable=False),
        sa.Column("reused", AMOUNT, nullable=False),
        sa.Column("renewable", AMOUNT, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "lots",
        sa.Column("id", IDENT, nullable=False),
        sa.Column("material", sa.String(48), nullable=False),
        sa.Column("unit", sa.String(3), nullable=False),
        sa.Column("mass_per_unit", AMOUNT, nullable=True),
        sa.Column("origin", ACTOR, nullable=False),
        sa.Column("facility", sa.String(64), nullable=True),
        sa.Column("made_by", sa.String(16), nullable=False),
        sa.Column("created_at_index", sa.BigInteger(), nullable=False),
        *_claim_and_feedstock(),
        sa.PrimaryKeyConstraint("id", name="pk_lots"),
    )
    op.create_index("ix_lots_origin", "lots", ["origin"])
    op.create_table(
        "balances",
        sa.Column("lot", IDENT, nullable=False),
        sa.Column("holder", ACTOR, nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.PrimaryKeyConstraint("lot", "holder", name="pk_balances"),
    )
    op.create_index("ix_balances_holder", "balances", ["holder"])
    op.create_table(
        "items",
        sa.Column("id", IDENT, nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("mass", AMOUNT, nullable=False),
        sa.Column("maker", ACTOR, nullable=False),
        sa.Column("owner", ACTOR, nullable=True),
        sa.Column("custodian", ACTOR, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        *_claim_and_feedstock(),
        sa.Column("created_at_index", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_index", sa.BigInteger(), nullable=False),
        sa.Column("repairs", sa.Integer(), nullable=False),
        sa.Column("rentals", sa.Integer(), nullable=False),
        sa.Column("resales", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
    )
    op.create_index("ix_items_owner", "items", ["owner"])
    op.create_index("ix_items_custodian", "items", ["custodian"])
    op.create_table(
        "handovers",
        sa.Column("sender", ACTOR, nullable=False),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("receiver", ACTOR, nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("logged_at_index", sa.BigInteger(), nullable=False),
        sa.Column("settled_at_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("sender", "id", name="pk_handovers"),
    )
    op.create_index("ix_handovers_receiver", "handovers", ["receiver"])
    op.create_table(
        "custody",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("subject", IDENT, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("source", ACTOR, nullable=True),
        sa.Column("target", ACTOR, nullable=True),
        sa.Column("amount", AMOUNT, nullable=True),
        sa.PrimaryKeyConstraint("idx", "n", name="pk_custody"),
    )
    op.create_index("ix_custody_subject", "custody", ["subject"])
    op.create_table(
        "provenance",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("subject", IDENT, nullable=False),
        sa.Column("mass", AMOUNT, nullable=False),
        sa.PrimaryKeyConstraint("idx", "n", name="pk_provenance"),
    )
    op.create_index("ix_provenance_subject_role", "provenance", ["subject", "role"])


def downgrade() -> None:
    for table in ("provenance", "custody", "handovers", "items", "balances", "lots"):
        op.drop_table(table)
