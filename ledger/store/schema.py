"""The database schema: ledger tables (append-only) and projections (rebuilt from the log).

Ledger tables — ``log_entries``, ``merkle_nodes``, ``checkpoints``, ``equivocations`` — only ever
grow: database triggers (``migrations/``) refuse UPDATE, DELETE and, on PostgreSQL, TRUNCATE.
``log_head`` is the sequencer's one-row lock and cache of the tree's compact range.
``keys``, ``actors`` and ``feeds`` are projections of the log: derived, and rebuilt by replay.

Column types are chosen to mean the same on SQLite and PostgreSQL; times are RFC 3339 UTC text.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# On SQLite an INTEGER primary key is the rowid: the table is stored in log order, with no
# second index to keep. Elsewhere it is a BIGINT.
LogIndex = BigInteger().with_variant(Integer(), "sqlite")

log_entries = Table(
    "log_entries",
    metadata,
    Column("idx", LogIndex, primary_key=True, autoincrement=False),
    # The exact entry bytes: the RFC 8785 serialization of the DSSE envelope.
    Column("entry", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("chain_hash", LargeBinary(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("payload_digest", String(64), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("actor", String(80), nullable=False),
    # The domain-rule verdict, fixed when the entry is appended and reproduced by any replay.
    Column("applied", Boolean, nullable=False),
    Column("violation_rule", String(80), nullable=True),
    Column("violation_detail", Text, nullable=True),
    Column("logged_at", String(40), nullable=False),
    UniqueConstraint("key_id", "seq"),
    Index(None, "leaf_hash"),
)

# Perfect subtrees of the Merkle tree: (level, idx) covers leaves [idx·2^level, (idx+1)·2^level).
merkle_nodes = Table(
    "merkle_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,  # stored in (level, idx) order: no rowid, no second index
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", LogIndex, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)

equivocations = Table(
    "equivocations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("logged_idx", BigInteger, nullable=False),
    Column("envelope", LargeBinary, nullable=False),
    Column("received_at", String(40), nullable=False),
    Index(None, "key_id", "seq"),
)

log_head = Table(
    "log_head",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("chain_hash", LargeBinary(32), nullable=False),
    Column("compact_range", LargeBinary, nullable=False),
)

keys = Table(
    "keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("valid_from_index", BigInteger, nullable=False),
    Column("revoked_at_index", BigInteger, nullable=True),
    Index(None, "actor"),
)

actors = Table(
    "actors",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("roles", String(200), nullable=False),  # comma-separated, in the event's order
    Column("registered_at_index", BigInteger, nullable=False),
    Column("updated_at_index", BigInteger, nullable=False),
    Column("profile", LargeBinary, nullable=False),  # latest actor payload, exactly as signed
)

# The head of every key's feed, so the sequencer finds where a feed stands with one primary-key
# read instead of a max(seq) over the feed's history.
feeds = Table(
    "feeds",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("idx", BigInteger, nullable=False),
)

APPEND_ONLY_TABLES: Final = ("log_entries", "merkle_nodes", "checkpoints", "equivocations")
