"""API tokens: who may see restricted passport fields, stored hashed.

A token is ``spola_<id>_<secret>``: ``id`` is 8 hex characters, public, shown to humans and used
to find the row; ``secret`` is 32 bytes from ``secrets`` in unpadded base64url. Only the SHA-256
of the secret's bytes is stored, and a presented secret is compared with the stored hash in
constant time (``hmac.compare_digest``). The text of a token is returned once, by ``create``.

A token may have a last day, ``valid_until``: it is accepted through the whole of that day in
UTC and refused from the next day's first instant, exactly as a revoked or unknown one is (the
row is not found, and the secret is compared with a hash nothing matches). Without a last day a
token is accepted until revoked. ``now`` is the clock every such comparison reads.

This module owns the ``api_tokens`` table and the ``Viewer`` a request is served to. It leaves
out HTTP (``api.auth`` reads the ``Authorization`` header) and what a passport shows
(``Viewer.may_see_restricted`` answers for one issuer; the passport routes decide).
"""

from __future__ import annotations

import base64
import binascii
import builtins
import hashlib
import hmac
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final, Literal, cast, get_args

from sqlalchemy import Connection, RowMapping, insert, or_, select, update

from ledger.errors import LedgerError, NotFoundError
from ledger.events import OPERATOR_ACTOR
from ledger.store.rows import utc_now
from ledger.store.schema import actors, api_tokens

log = logging.getLogger(__name__)

Tier = Literal["public", "brand", "operator"]
TokenTier = Literal["brand", "operator"]
TOKEN_TIERS: Final[tuple[TokenTier, ...]] = get_args(TokenTier)

PREFIX: Final = "spola"
SECRET_BYTES: Final = 32
ID_HEX: Final = 8
# spola_<8 hex>_<43 base64url characters: 32 bytes, unpadded>
_TOKEN: Final = re.compile(r"spola_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
# Compared against when the id is unknown, so a miss costs what a hit costs.
_NO_HASH: Final = "0" * 64
MAX_LABEL: Final = 200  # the column's length


class TokenError(LedgerError):
    """A token that cannot be created as asked (tier, actor, last day), or a malformed id."""


def now() -> datetime:
    """The current instant: what a token's last day is compared with, as a UTC day."""
    return datetime.now(UTC)


def _today() -> date:
    return now().astimezone(UTC).date()


@dataclass(frozen=True)
class Viewer:
    """Whom a response is for: the public, a brand (its actor) or the operator."""

    tier: Tier
    actor: str | None = None
    token_id: str | None = None

    def may_see_restricted(self, issuer: str) -> bool:
        """Whether restricted fields of a document issued by actor ``issuer`` may be shown."""
        if self.tier == "operator":
            return True
        if self.tier == "brand":
            return self.actor is not None and self.actor == issuer
        return False


PUBLIC: Final = Viewer(tier="public")


@dataclass(frozen=True)
class TokenRecord:
    """A stored token as listed: never its secret, never its hash."""

    id: str
    tier: TokenTier
    actor: str
    label: str | None
    created_at: str
    revoked_at: str | None
    valid_until: str | None  # the last day accepted, YYYY-MM-DD in UTC; None: no last day

    def expired(self) -> bool:
        """Whether the token's last day is over (in UTC, now)."""
        return self.valid_until is not None and self.valid_until < _today().isoformat()


_LISTED: Final = (
    api_tokens.c.id,
    api_tokens.c.tier,
    api_tokens.c.actor,
    api_tokens.c.label,
    api_tokens.c.created_at,
    api_tokens.c.revoked_at,
    api_tokens.c.valid_until,
)


def _record(row: RowMapping) -> TokenRecord:
    return TokenRecord(
        id=row["id"],
        tier=cast(TokenTier, row["tier"]),
        actor=row["actor"],
        label=row["label"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        valid_until=row["valid_until"],
    )


def _hash(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()


def _parse(presented: str) -> tuple[str, bytes] | None:
    """(id, secret bytes) of a well-formed token text; None for anything else."""
    match = _TOKEN.fullmatch(presented)
    if match is None:
        return None
    token_id, text = match.groups()
    try:
        secret = base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        return None
    # One spelling per secret: the last character's two spare bits must be zero.
    if base64.urlsafe_b64encode(secret).rstrip(b"=").decode("ascii") != text:
        return None
    return token_id, secret


def _token_text(token_id: str, secret: bytes) -> str:
    return f"{PREFIX}_{token_id}_{base64.urlsafe_b64encode(secret).rstrip(b'=').decode('ascii')}"


def _check_actor(conn: Connection, tier: str, actor: str | None) -> str:
    """The actor a new token of ``tier`` acts for; TokenError if it may not have one."""
    if tier == "operator":
        if actor not in (None, OPERATOR_ACTOR):
            raise TokenError(f"an operator token acts for {OPERATOR_ACTOR}, not {actor!r}")
        return OPERATOR_ACTOR
    if tier != "brand":
        raise TokenError(f"unknown token tier {tier!r} (one of: {', '.join(TOKEN_TIERS)})")
    if not actor:
        raise TokenError("a brand token needs the brand's actor id")
    roles = conn.execute(select(actors.c.roles).where(actors.c.id == actor)).scalar_one_or_none()
    if roles is None:
        raise TokenError(f"no registered actor {actor!r}")
    if "brand" not in roles.split(","):
        raise TokenError(f"actor {actor} does not have the brand role (roles: {roles})")
    return actor


def _check_label(label: str | None) -> None:
    """A label is one line of ``spola token list``: no control characters, and it fits."""
    if label is None:
        return
    if len(label) > MAX_LABEL:
        raise TokenError(f"a label is at most {MAX_LABEL} characters (this one {len(label)})")
    if any(unicodedata.category(c) == "Cc" for c in label):
        raise TokenError(f"a label is one line without control characters, not {label!r}")


def _check_last_day(valid_until: date | None) -> None:
    """A last day is today or later, in UTC: a token born expired is a mistake."""
    if valid_until is not None and valid_until < (today := _today()):
        raise TokenError(
            f"valid until {valid_until.isoformat()} is in the past: today is "
            f"{today.isoformat()} (UTC), and a token is valid through its last day"
        )


def create(
    conn: Connection,
    *,
    tier: str,
    actor: str | None,
    label: str | None = None,
    valid_until: date | None = None,
) -> tuple[str, str]:
    """Store a new token; (its id, its full text). The text is not kept: show it once.

    ``valid_until`` is its last day (UTC, inclusive); None, the default, gives it none.
    """
    _check_label(label)
    _check_last_day(valid_until)
    actor = _check_actor(conn, tier, actor)
    token_id = secrets.token_hex(ID_HEX // 2)
    while conn.execute(select(api_tokens.c.id).where(api_tokens.c.id == token_id)).first():
        token_id = secrets.token_hex(ID_HEX // 2)  # one chance in 2^32 per existing token
    secret = secrets.token_bytes(SECRET_BYTES)
    conn.execute(
        insert(api_tokens).values(
            id=token_id,
            token_hash=_hash(secret),
            tier=tier,
            actor=actor,
            label=label or None,
            created_at=utc_now(),
            revoked_at=None,
            valid_until=None if valid_until is None else valid_until.isoformat(),
        )
    )
    log.info("created %s token %s for %s", tier, token_id, actor)
    return token_id, _token_text(token_id, secret)


def resolve(conn: Connection, presented: str) -> Viewer | None:
    """The viewer a presented token stands for; None if malformed, unknown, wrong, revoked or
    past its last day."""
    parsed = _parse(presented)
    if parsed is None:
        return None
    token_id, secret = parsed
    row = conn.execute(
        select(api_tokens.c.token_hash, api_tokens.c.tier, api_tokens.c.actor, actors.c.roles)
        .outerjoin(actors, actors.c.id == api_tokens.c.actor)
        .where(
            api_tokens.c.id == token_id,
            api_tokens.c.revoked_at.is_(None),
            # YYYY-MM-DD texts of one shape: compared as text, they compare as days.
            or_(
                api_tokens.c.valid_until.is_(None),
                api_tokens.c.valid_until >= _today().isoformat(),
            ),
        )
    ).first()
    stored = row.token_hash if row is not None else _NO_HASH
    if not hmac.compare_digest(_hash(secret), stored) or row is None:
        return None
    # The role is checked again on every use: a brand that has lost the role lost its tokens.
    if row.tier == "brand" and "brand" not in (row.roles or "").split(","):
        log.info("token %s refused: %s no longer has the brand role", token_id, row.actor)
        return None
    return Viewer(tier=cast(Tier, row.tier), actor=row.actor, token_id=token_id)


def revoke(conn: Connection, token_id: str) -> TokenRecord:
    """Revoke a token from now on; revoking it again keeps the first time. The record."""
    if not re.fullmatch(r"[0-9a-f]{8}", token_id):
        raise TokenError(f"not a token id: {token_id!r} (8 hex characters, see `spola token list`)")
    conn.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utc_now())
    )
    row = conn.execute(select(*_LISTED).where(api_tokens.c.id == token_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"unknown token {token_id}")
    log.info("revoked token %s", token_id)
    return _record(row)


def list(conn: Connection) -> builtins.list[TokenRecord]:
    """Every token, oldest first, without secrets or hashes."""
    rows = conn.execute(select(*_LISTED).order_by(api_tokens.c.created_at, api_tokens.c.id))
    return [_record(row) for row in rows.mappings()]


__all__ = [
    "PUBLIC",
    "TOKEN_TIERS",
    "TokenError",
    "TokenRecord",
    "Viewer",
    "create",
    "list",
    "resolve",
    "revoke",
]
