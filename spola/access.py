"""``spola token create|list|revoke``: API tokens for restricted passport fields."""

from __future__ import annotations

import argparse
import sys

from spola.cli import open_store


def cmd_token_create(args: argparse.Namespace) -> int:
    _, store = open_store(args)
    try:
        token_id, text = store.create_token(tier=args.tier, actor=args.actor, label=args.label)
    finally:
        store.close()
    print(text)
    print(
        f"token {token_id} created and printed on stdout: it cannot be shown again",
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
        state = f"revoked {record.revoked_at}" if record.revoked_at else "active"
        label = f"  {record.label}" if record.label else ""
        print(
            f"{record.id}  {record.tier:<8}  {record.actor}  created {record.created_at}  "
            f"{state}{label}"
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
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_token_create)
    p = tokens.add_parser("list", help="list tokens (ids, tiers, actors; never secrets)")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_token_list)
    p = tokens.add_parser("revoke", help="revoke a token from now on")
    p.add_argument("token_id", metavar="ID", help="the token's id (8 hex, `spola token list`)")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_token_revoke)
