"""The database schema: ledger tables (append-only) and projections (rebuilt from the log).

Ledger tables — ``log_entries``, ``merkle_nodes``, ``checkpoints``, ``equivocations`` — only ever
grow: database triggers (``migrations/``) refuse UPDATE, DELETE and, on PostgreSQL, TRUNCATE.
``log_head`` is the sequencer's one-row lock and cache of the tree's compact range.
``keys``, ``actors`` and ``feeds`` are projections of the log: derived, and rebuilt by replay.
So are the domain projections — ``lots``, ``balances``, ``items``, ``handovers``, ``custody``,
``provenance`` — written by the sequencer from ``ledger.rules`` effects and checked against a
fresh replay by ``spola rebuild``. ``api_tokens`` is neither: operator state outside the log
(hashed API tokens, ``ledger.store.tokens``). Decimal amounts are stored as plain decimal
strings, exactly.

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
    # An actor's own entries in log order: track records, maturity metrics, actor bundles, EPCIS.
    Index(None, "actor", "idx"),
    # An actor's applied entries of one type in log order, the index holding the indexes: its
    # latest assessment, profile, or own supply events without walking the rest of its history
    # (``ledger.store.reads.latest_of_types``).
    Index(None, "actor", "event_type", "applied", "idx"),
    # The entries of one type in log order, whoever signed them: the registrations a passport
    # names its actors from, the registry of a bundle, the actors' versions in EPCIS.
    Index(None, "event_type", "idx"),
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
    # An actor's keys in the order they became valid: its public page lists them all.
    Index(None, "actor", "valid_from_index"),
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
    # The public list of actors, a page at a time in registration order, without a sort.
    Index(None, "registered_at_index"),
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

Ident = String(120)  # lot and item identifiers (URN or Digital Link path)
ActorRef = String(80)
# A plain decimal string, exact: 28 significant digits of a tiny amount converted into FTK or DZN
# (or its mass) run past 40 characters, so TEXT on PostgreSQL. SQLite ignores declared lengths:
# its tables keep VARCHAR(40), which stores any length, and no migration copies them.
Amount = String(40).with_variant(Text(), "postgresql")


def _claim_and_feedstock() -> list[Column[str]]:
    return [
        Column("claim_model", String(24), nullable=True),
        Column("claim_scheme", String(32), nullable=True),
        Column("claim_fraction", Amount, nullable=True),
        Column("recycled", Amount, nullable=False),
        Column("reused", Amount, nullable=False),
        Column("renewable", Amount, nullable=False),
    ]


lots = Table(
    "lots",
    metadata,
    Column("id", Ident, primary_key=True),
    Column("material", String(48), nullable=False),
    Column("unit", String(3), nullable=False),
    Column("mass_per_unit", Amount, nullable=True),  # kg in one unit, when the unit is not mass
    Column("origin", ActorRef, nullable=False),
    Column("facility", String(64), nullable=True),
    Column("made_by", String(16), nullable=False),
    Column("created_at_index", BigInteger, nullable=False),
    *_claim_and_feedstock(),
    Index(None, "origin"),
)

# How much of each lot each actor holds, in the lot's unit; rows at zero are deleted.
balances = Table(
    "balances",
    metadata,
    Column("lot", Ident, primary_key=True),
    Column("holder", ActorRef, primary_key=True),
    Column("amount", Amount, nullable=False),
    # What an actor holds, a page at a time in lot order (its holdings), without a sort.
    Index(None, "holder", "lot"),
)

items = Table(
    "items",
    metadata,
    Column("id", Ident, primary_key=True),
    Column("product", String(200), nullable=False),
    Column("mass", Amount, nullable=False),  # kg
    Column("maker", ActorRef, nullable=False),
    Column("owner", ActorRef, nullable=True),  # null: a private person
    Column("custodian", ActorRef, nullable=True),  # null: in transit or with a private person
    Column("status", String(16), nullable=False),
    *_claim_and_feedstock(),
    Column("created_at_index", BigInteger, nullable=False),
    Column("updated_at_index", BigInteger, nullable=False),
    Column("repairs", Integer, nullable=False),
    Column("rentals", Integer, nullable=False),
    Column("resales", Integer, nullable=False),
    # What an actor owns or keeps, each a page at a time in item order (its holdings).
    Index(None, "owner", "id"),
    Index(None, "custodian", "id"),
)

handovers = Table(
    "handovers",
    metadata,
    Column("sender", ActorRef, primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("receiver", ActorRef, nullable=False),
    Column("lines", Text, nullable=False),  # JSON: [[kind, subject, amount|null], ...]
    Column("status", String(16), nullable=False),
    Column("logged_at_index", BigInteger, nullable=False),
    Column("settled_at_index", BigInteger, nullable=True),
    # Each actor's handovers each way in log order: the directory reads the latest few.
    Index(None, "sender", "logged_at_index"),
    Index(None, "receiver", "logged_at_index"),
    # Each actor's pending handovers each way, in log order, without reading the settled ones
    # (its holdings): a mill that shipped a million times, all received, has none to walk.
    Index(None, "sender", "status", "logged_at_index"),
    Index(None, "receiver", "status", "logged_at_index"),
)

custody = Table(
    "custody",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(8), nullable=False),
    Column("subject", Ident, nullable=False),
    Column("action", String(16), nullable=False),
    Column("source", ActorRef, nullable=True),
    Column("target", ActorRef, nullable=True),
    Column("amount", Amount, nullable=True),
    # A lot's or item's custody history in log order (its public page, a page at a time).
    Index(None, "subject", "idx", "n"),
    # The rows of one action: the passports in subject order, a lot's handovers in log order.
    Index(None, "action", "subject", "idx"),
)

# The provenance graph: each making event (index) with its inputs and outputs.
provenance = Table(
    "provenance",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("role", String(8), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("subject", Ident, nullable=False),
    Column("mass", Amount, nullable=False),  # kg
    # The event that made a subject (its trace, its passport) in log order, without a sort.
    Index(None, "subject", "role", "idx"),
)

# API tokens for the restricted tier: operator state, not part of the log, so neither append-only
# nor rebuilt by replay (``ledger.store.tokens``). The secret is 32 bytes from ``secrets``: with
# that much entropy a plain SHA-256 is the right hash (no salt, no slow KDF — there is no
# password to guess), and ``id`` is the short public prefix the token text begins with.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("token_hash", String(64), nullable=False),  # SHA-256 hex of the secret's bytes
    Column("tier", String(16), nullable=False),  # operator | brand
    Column("actor", ActorRef, nullable=False),  # whom the token acts for
    Column("label", String(200), nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40), nullable=True),
    # The last day (YYYY-MM-DD, UTC, inclusive) the token is accepted; NULL: no last day.
    Column("valid_until", String(10), nullable=True),
)

DOMAIN_TABLES: Final = ("lots", "balances", "items", "handovers", "custody", "provenance")
APPEND_ONLY_TABLES: Final = ("log_entries", "merkle_nodes", "checkpoints", "equivocations")
