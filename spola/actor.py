"""``spola actor``: the operator registers actors and adds or revokes their terminal keys, each
a signed operator event appended to the log (exit 1, naming the rule, if not applied)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from spola.cli import CommandError, open_store, read_bounded

if TYPE_CHECKING:
    from ledger.store.ledger import LedgerStore


def _operator_event(
    args: argparse.Namespace,
    fields: dict[str, object],
    check: Callable[[LedgerStore], None] | None = None,
) -> int:
    """Sign ``fields`` as the operator's next event and append it; exit 1 if not applied.
    ``check`` may refuse first, with a CommandError, what the ledger would log as refused."""
    _, store = open_store(args)
    try:
        if check is not None:
            check(store)
        receipt = store.operator_event(fields)
    finally:
        store.close()
    if receipt.violation is not None:
        print(
            f"spola: entry {receipt.index} logged but not applied: rule "
            f"{receipt.violation.rule}: {receipt.violation.detail}",
            file=sys.stderr,
        )
        return 1
    print(f"{fields['type']} {fields['op']}: applied as log entry {receipt.index}")
    return 0


def cmd_actor_profile(args: argparse.Namespace) -> int:
    """``spola actor register|update --from FILE``: the actor's profile as JSON."""
    import json

    from ledger.canonical import DEFAULT_MAX_BYTES as MAX_PAYLOAD_BYTES
    from ledger.errors import FormatError

    try:
        text = read_bounded(args.source, MAX_PAYLOAD_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"{args.source}: not UTF-8 text") from None
    try:
        profile = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{args.source}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(profile, dict):
        raise FormatError(f"{args.source}: the profile must be a JSON object")
    header = {"v", "type", "actor", "seq", "prev", "time", "op"} & set(profile)
    if header:
        raise FormatError(f"{args.source}: {sorted(header)[0]!r} is set by the operator's log")
    return _operator_event(args, {"type": "actor", "op": args.op, **profile})


def cmd_actor_add_key(args: argparse.Namespace) -> int:
    from ledger.keys import PublicKey

    key = PublicKey.from_base64(args.public_key)
    return _operator_event(
        args,
        {
            "type": "key",
            "op": "add",
            "subject": args.actor,
            "key_id": key.key_id,
            "public_key": key.to_base64(),
        },
    )


def cmd_actor_revoke_key(args: argparse.Namespace) -> int:
    fields: dict[str, object] = {
        "type": "key",
        "op": "revoke",
        "subject": args.actor,
        "key_id": args.key_id,
    }
    if args.reason:
        fields["reason"] = args.reason
    return _operator_event(
        args, fields, lambda store: _refuse_retired_key(store, args.actor, args.key_id)
    )


def _refuse_retired_key(store: LedgerStore, actor: str, key_id: str) -> None:
    """A key of ``actor`` already rotated or revoked is refused here, saying which and where,
    rather than logged as a revocation the registry refuses (rule registry.key_not_valid)."""
    from ledger.envelope import Envelope
    from ledger.errors import NotFoundError
    from ledger.events import KeyEvent, parse_event

    try:
        record = store.key(key_id)
    except NotFoundError:
        return  # the registry's rule names it (registry.unknown_key)
    if record.actor != actor or record.revoked_at_index is None:
        return
    at = record.revoked_at_index - 1  # the entry that retired it
    event = parse_event(Envelope.from_bytes(store.verdict(at).entry).payload)
    if isinstance(event, KeyEvent) and event.op == "rotate" and event.replaces == key_id:
        raise CommandError(
            f"key {key_id} was rotated at log index {at} (replaced by key {event.key_id}), "
            f"not revoked: it signs nothing from index {at + 1}, so there is nothing to revoke"
        )
    raise CommandError(f"key {key_id} was already revoked at log index {at}")


def add_actor_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], db_help: str
) -> None:
    actorp = sub.add_parser("actor", help="the operator registers actors and their terminal keys")
    actors = actorp.add_subparsers(dest="actor_command", required=True)
    for op in ("register", "update"):
        p = actors.add_parser(op, help=f"{op} an actor from a JSON profile (docs/formats.md)")
        p.add_argument(
            "--from",
            dest="source",
            required=True,
            help="JSON: id, name, roles, country, region, gln, facilities",
        )
        p.add_argument("--db", help=db_help)
        p.set_defaults(func=cmd_actor_profile, op=op)
    p = actors.add_parser("add-key", help="add a terminal key (from `spola key show`)")
    p.add_argument("actor", help="the actor's id, urn:spola:actor:…")
    p.add_argument("--public-key", required=True, help="the base64 public key")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_actor_add_key)
    p = actors.add_parser("revoke-key", help="revoke a terminal key (lost, stolen, retired)")
    p.add_argument("actor", help="the actor's id")
    p.add_argument("key_id", help="the key ID (64 hex)")
    p.add_argument("--reason", help="why, for the log")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_actor_revoke_key)
