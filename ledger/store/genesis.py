"""The genesis of a log: its first entry, and the check that a database holds this operator's log.

Index 0 is the operator's ``actor`` registration signed by the log key (``genesis_fields``), which
is how a verifier that knows only the log key anchors the key history it replays. Appending it is
the sequencer's business (``LedgerStore.ensure_genesis``); ``check_genesis`` then refuses a
database whose log another key started (``OperatorMismatchError``) or whose checkpoints name
another origin (``OriginMismatchError``), so that one database never carries two logs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from ledger.errors import LedgerError
from ledger.events import OPERATOR_ACTOR
from ledger.store.schema import checkpoints, log_entries


class OperatorMismatchError(LedgerError):
    """The database holds a log that another operator key started."""


class OriginMismatchError(OperatorMismatchError):
    """The database holds a log named by another origin than the one configured."""


def genesis_fields(name: str) -> dict[str, Any]:
    """The operator's registration that opens every log, ``name`` its display name."""
    return {
        "type": "actor",
        "op": "register",
        "id": OPERATOR_ACTOR,
        "name": name,
        "roles": ["operator"],
        "country": "IT",
        "region": "Lombardia",
    }


def check_genesis(conn: Connection, *, key_id: str, origin: str) -> None:
    """Refuse a log whose genesis another key signed, or that its checkpoints name otherwise."""
    first = conn.execute(select(log_entries.c.key_id).where(log_entries.c.idx == 0)).scalar_one()
    latest = conn.execute(
        select(checkpoints.c.note).order_by(checkpoints.c.size.desc()).limit(1)
    ).scalar_one_or_none()
    if first != key_id:
        raise OperatorMismatchError(
            f"this database's log was started by key {first}, not by the configured "
            f"operator key {key_id}"
        )
    # A checkpoint's first line is the log's origin: the name it keeps for good.
    named = None if latest is None else latest.split("\n", 1)[0]
    if named is not None and named != origin:
        raise OriginMismatchError(
            f"this database's log is named {named!r}, not the configured origin "
            f"{origin!r}: a log keeps the name its checkpoints and log key carry"
        )
