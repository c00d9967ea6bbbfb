"""``spola token create|list|revoke``: API tokens for restricted passport fields.

``--valid-until YYYY-MM-DD`` gives a token a last day: accepted through that day in UTC,
refused from the next (``ledger.store.tokens``). A day that is not a calendar date is a usage
error (exit 2); a day before today is refused by the store (exit 1).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date
from typing import TYPE_CHECKING

from spola.cli import open_store

if TYPE_CHECKING:
    from ledger.store.tokens import TokenRecord

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _day(text: str) -> date:
    """An argparse type: a calendar day written YYYY-MM-DD, nothing else ISO 8601 allows."""
    try:
        # fromisoformat() also takes week dates and the basic format: the shape is checked first.
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a day YYYY-MM-DD")


def _state(record: TokenRecord) -> str:
    """``active``, ``active until DAY``, ``expired after DAY`` or ``revoked WHEN``."""
    if record.revoked_at:
        return f"revoked {record.revoked_at}"
    if record.valid_until is None:
        return "active"
    if record.expired():
        return f"expired after {record.valid_until}"
    return f"active until {record.valid_until}"


def cmd_token_create(args: argparse.Namespace) -> int:
    _, store = open_store(args)
    try:
        token_id, text = store.create_token(
            tier=args.tier, actor=args.actor, label=args.label, valid_until=args.valid_until
        )
    finally:
        store.close()
    print(text)
    last_day = "" if args.valid_until is None else f", valid through {args.valid_until} (UTC),"
    print(
        f"token {token_id}{last_day} created and printed on stdout: it cannot be shown again",
        file=sys.stderr,
    )
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    _, store = open_store(args)
    try:
        records = store.tokens()
    finally:
        store.close()
    for record in records:
        label = f"  {record.label}" if record.label else ""
        print(
            f"{record.id}  {record.tier:<8}  {record.actor}  created {record.created_at}  "
            f"{_state(record)}{label}"
        )
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    _, store = open_store(args)
    try:
        record = store.revoke_token(args.token_id)
    finally:
        store.close()
    print(f"token {record.id} ({record.tier}, {record.actor}) revoked since {record.revoked_at}")
    return 0


def add_token_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], db_help: str
) -> None:
    tokenp = sub.add_parser("token", help="API tokens for restricted fields (brand, operator)")
    tokens = tokenp.add_subparsers(dest="token_command", required=True)
    p = tokens.add_parser("create", help="create a token and print it once, on stdout")
    p.add_argument("--tier", required=True, choices=("brand", "operator"))
    p.add_argument(
        "--actor", help="the brand's actor id (urn:spola:actor:…); operator tokens need none"
    )
    p.add_argument("--label", help="a note for `spola token list`: who holds it, what for")
    p.add_argument(
        "--valid-until",
        type=_day,
        metavar="YYYY-MM-DD",
        help="the token's last day, in UTC: accepted through that day, refused from the next "
        "(default: no last day, valid until revoked)",
    )
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_token_create)
    p = tokens.add_parser(
        "list", help="list tokens (ids, tiers, actors, last days; expired ones marked; no secrets)"
    )
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_token_list)
    p = tokens.add_parser("revoke", help="revoke a token from now on")
    p.add_argument("token_id", metavar="ID", help="the token's id (8 hex, `spola token list`)")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_token_revoke)
