"""The log: entries, Merkle nodes, checkpoints, equivocation evidence, head and projections.

Ledger tables are append-only: triggers refuse UPDATE and DELETE on both engines (and TRUNCATE
on PostgreSQL), so history cannot be rewritten through SQL either.

Revision ID: 0001_log
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_log"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("log_entries", "merkle_nodes", "checkpoints", "equivocations")


# SQLite: an INTEGER primary key is the rowid (log order, no second index); elsewhere BIGINT.
LOG_INDEX = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "log_entries",
        sa.Column("idx", LOG_INDEX, autoincrement=False, nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("payload_digest", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("violation_rule", sa.String(80), nullable=True),
        sa.Column("violation_detail", sa.Text(), nullable=True),
        sa.Column("logged_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("idx", name="pk_log_entries"),
        sa.UniqueConstraint("key_id", "seq", name="uq_log_entries_key_id_seq"),
    )
    op.create_index("ix_log_entries_leaf_hash", "log_entries", ["leaf_hash"])
    op.create_table(
        "merkle_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name="pk_merkle_nodes"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", LOG_INDEX, autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("size", name="pk_checkpoints"),
    )
    op.create_table(
        "equivocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("logged_idx", sa.BigInteger(), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_equivocations"),
    )
    op.create_index("ix_equivocations_key_id_seq", "equivocations", ["key_id", "seq"])
    op.create_table(
        "log_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("compact_range", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_log_head"),
    )
    op.create_table(
        "keys",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("valid_from_index", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_keys"),
    )
    op.create_index("ix_keys_actor", "keys", ["actor"])
    op.create_table(
        "actors",
        sa.Column("id", sa.String(80), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("registered_at_index", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_index", sa.BigInteger(), nullable=False),
        sa.Column("profile", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_actors"),
    )
    op.create_table(
        "feeds",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_feeds"),
    )
    # The empty log: size 0, chain_{-1} = 32 zero bytes, an empty compact range.
    op.execute(
        sa.text(
            "INSERT INTO log_head (id, size, chain_hash, compact_range) VALUES (1, 0, :z, :e)"
        ).bindparams(sa.bindparam("z", bytes(32)), sa.bindparam("e", b""))
    )
    _append_only_triggers()


def _append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION spola_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'spola: % is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'integrity_constraint_violation';
            END
            $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION spola_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION spola_refuse_change()"
            )
        return
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'spola: {table} is append-only: {action} refused'); "
                "END"
            )


def downgrade() -> None:
    # The log cannot be downgraded without destroying history; refuse rather than drop it.
    raise RuntimeError("the log schema has no downgrade: history is not dropped")
