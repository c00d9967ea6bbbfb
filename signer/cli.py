"""The terminal's commands: ``spola key``, ``spola sign``, ``spola sync`` and ``spola queue``
(and ``spola queue drop``).

This module signs and syncs, and wires every command into ``spola`` (``add_terminal_commands``);
the key commands are in ``signer.key_commands``, the queue's in ``signer.queue_commands``, and
the terminal's home (its key file, queue and passphrase) in ``signer.home``.
Errors are ``LedgerError`` leaves: ``spola.cli`` prints them as one line and exits 1.
"""

from __future__ import annotations

import argparse
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from ledger.progress import tenths
from signer.client import LedgerClient, Row
from signer.errors import RowError
from signer.home import HOME_ENV, open_queue, terminal_home, unlock
from signer.key_commands import cmd_key_generate, cmd_key_rotate, cmd_key_show
from signer.queue import STATES
from signer.queue_commands import cmd_queue, cmd_queue_drop
from signer.rows import read_rows

__all__ = [
    "MAX_DEADLINE",
    "PROGRESS_FROM",
    "add_terminal_commands",
    "cmd_key_generate",
    "cmd_key_rotate",
    "cmd_key_show",
    "cmd_queue",
    "cmd_queue_drop",
    "cmd_sign",
    "cmd_sync",
]

# From this many rows on (a second or two of checking and signing), progress is shown on stderr.
PROGRESS_FROM: Final = 5000
_AMOUNT: Final = re.compile(r"(?P<value>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[A-Z][A-Z0-9]{1,2})")


# -- sign ---------------------------------------------------------------------------------------


def _amount(text: str, what: str) -> dict[str, str]:
    match = _AMOUNT.fullmatch(text.strip())
    if match is None:
        raise RowError(f"--flags: {what}: {text!r} is not an amount and unit such as 120.5KGM")
    return {"value": match["value"], "unit": match["unit"]}


def _pair(text: str, what: str) -> tuple[str, str]:
    name, sep, rest = text.rpartition("=")
    if not sep or not name:
        raise RowError(f"--flags: {what}: {text!r} is not ID=AMOUNT")
    return name, rest


def _flag_fields(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """The event's fields from the flags; what is missing the schema names by field."""
    fields: dict[str, Any] = {"type": kind}
    simple = {
        "material": ("lot", "material", "facility"),
        "process": ("process", "facility"),
        "handover": ("id", "to", "from_facility", "to_facility"),
        "receipt": ("facility",),
        "lifecycle": ("kind", "item", "to", "until", "description", "facility"),
    }[kind]
    for name in simple:
        if getattr(args, name, None) is not None:
            fields[name] = getattr(args, name)
    if kind == "material" and args.quantity is not None:
        fields["quantity"] = {"value": args.quantity, "unit": args.unit}
    if kind == "process":
        fields["inputs"] = [
            {"lot": lot, "quantity": _amount(amount, "--input")}
            for lot, amount in (_pair(text, "--input") for text in args.input)
        ]
        outputs = []
        for text in args.output:
            lot, made = _pair(text, "--output")
            material, _, amount = made.rpartition(":")
            outputs.append({"lot": lot, "material": material, "quantity": _amount(amount, lot)})
        fields["outputs"] = outputs
    if kind == "handover":
        lines: list[dict[str, Any]] = [
            {"lot": lot, "quantity": _amount(amount, "--lot")}
            for lot, amount in (_pair(text, "--lot") for text in args.lot)
        ]
        fields["lines"] = lines + [{"item": item} for item in args.item]
        if args.mode:
            transport = {"mode": args.mode}
            if args.distance_km:
                transport["distance_km"] = args.distance_km
            fields["transport"] = transport
    if kind == "receipt":
        fields["handover"] = {"sender": args.sender, "id": args.id}
        fields["accepted"] = args.reject is None
        if args.reject is not None:
            fields["reason"] = args.reject
    return fields


def cmd_sign(args: argparse.Namespace) -> int:
    kind: str = args.sign_type
    if args.from_file:
        rows = read_rows(Path(args.from_file), kind)
    else:
        rows = [Row(label="--flags", fields=_flag_fields(kind, args))]
    if args.time:
        rows = [Row(label=r.label, fields={"time": args.time, **r.fields}) for r in rows]
    home = terminal_home(args)
    key = unlock(home)
    with open_queue(home) as queue:
        client = LedgerClient(transport=None, key=key, queue=queue)
        positions = client.sign(rows, _sign_progress() if len(rows) >= PROGRESS_FROM else None)
        pending = queue.counts()["pending"]
    print(f"signed and queued {len(positions)} {kind} event(s); {pending} waiting to sync")
    return 0


# -- sync ------------------------------------------------------------------------------------------


def cmd_sync(args: argparse.Namespace) -> int:
    from signer.transport import HttpTransport  # httpx: only `sync` talks to a ledger

    transport = HttpTransport.connect(args.ledger, timeout=args.timeout)
    # One instant on the monotonic clock: the client starts no request or wait past it, and
    # the transport ends a request under way at it (each connect, write and read of it waits
    # at most the time left).
    deadline = None if args.deadline is None else time.monotonic() + args.deadline
    transport.deadline = deadline
    try:
        with open_queue(terminal_home(args)) as queue:
            client = LedgerClient(
                transport=transport,
                key=None,
                queue=queue,
                log_vkey=args.log_key,
                batch_size=args.batch,
            )
            if args.resume_after_alarm:
                if reason := client.resume_after_alarm():
                    print(f"alarm lifted ({reason}); trusting the ledger as it is now")
                else:
                    print("no alarm to lift; the history verified before stays trusted")
            report = client.sync(progress=_progress(), deadline=deadline)
    finally:
        transport.close()
    print(
        f"sent {report.sent}: {report.applied} applied, {report.not_applied} not applied "
        f"({report.duplicates} already logged); log size {report.tree_size}"
    )
    return 0


def _sign_progress() -> Callable[[str, int, int], None]:
    """Report every tenth of the rows checked, then signed, on stderr."""
    stages: dict[str, Callable[[int, int], None]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in stages:
            stages[stage] = tenths(stage, "rows", terminal_every=None)
        stages[stage](done, total)

    return progress


def _progress() -> Callable[[int, int], None]:
    """Report every tenth of the queue sent (every batch on a terminal), on stderr."""
    return tenths("synced", "events")


# -- the parsers ------------------------------------------------------------------------------


def _count(text: str) -> int:
    """An argparse type: a whole number from 1 to a billion (SQLite and sanity both end there)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 10**9:
        raise argparse.ArgumentTypeError(f"{text} is not between 1 and 1000000000")
    return value


MAX_DEADLINE: Final = 7 * 24 * 3600  # a week: a longer --deadline is a typo, not a plan


def _seconds(text: str) -> float:
    """An argparse type: seconds above 0, at most ``MAX_DEADLINE``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number of seconds") from None
    if not (math.isfinite(value) and 0 < value <= MAX_DEADLINE):
        raise argparse.ArgumentTypeError(f"{text[:40]} is not between 0 and {MAX_DEADLINE} s")
    return value


def _sign_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: Any) -> None:
    signp = sub.add_parser("sign", help="sign events and queue them for sync (offline)")
    kinds = signp.add_subparsers(dest="sign_type", required=True)
    parsers = {
        kind: kinds.add_parser(kind, help=f"sign {kind} events", parents=[common])
        for kind in ("material", "process", "handover", "receipt", "lifecycle")
    }
    for kind, p in parsers.items():
        p.add_argument("--from", dest="from_file", help="a CSV or JSON file of events to sign")
        p.add_argument("--time", help="RFC 3339 UTC time of the event(s) (default: now)")
        p.add_argument("--facility", help="facility id in your registered profile")
        p.set_defaults(func=cmd_sign)
        del kind
    # What a brand or any company declares of itself: nested declarations, from a file only.
    for kind, what in (
        ("passport", "a brand's product passports"),
        ("profile", "your directory profile"),
        ("assessment", "your maturity self-assessment"),
    ):
        p = kinds.add_parser(kind, help=f"sign {what} (from a file)", parents=[common])
        p.add_argument(
            "--from",
            dest="from_file",
            required=True,
            help=f"a JSON or CSV file of {kind} events (docs/formats.md)",
        )
        p.add_argument("--time", help="RFC 3339 UTC time of the event(s) (default: now)")
        p.set_defaults(func=cmd_sign)
    p = parsers["material"]
    p.add_argument("--lot", help="new lot id (urn:spola:lot:<you>:<id> or a Digital Link)")
    p.add_argument("--material", help="catalogue material id, e.g. silk-mulberry")
    p.add_argument("--quantity", help="decimal amount, e.g. 120.5")
    p.add_argument("--unit", default="KGM", help="UN/ECE Rec 20 unit (default KGM)")
    p = parsers["process"]
    p.add_argument("--process", help="catalogue process id, e.g. dyeing")
    p.add_argument("--input", action="append", default=[], help="LOT=AMOUNT, e.g. …:S26=60KGM")
    p.add_argument("--output", action="append", default=[], help="LOT=MATERIAL:AMOUNT (mass units)")
    p = parsers["handover"]
    p.add_argument("--id", help="your delivery-note number")
    p.add_argument("--to", help="the receiving actor (urn:spola:actor:…)")
    p.add_argument("--lot", action="append", default=[], help="LOT=AMOUNT handed over")
    p.add_argument("--item", action="append", default=[], help="an item handed over whole")
    p.add_argument("--from-facility", dest="from_facility")
    p.add_argument("--to-facility", dest="to_facility")
    p.add_argument("--mode", help="road, rail, sea, air, inland-water, courier, on-foot")
    p.add_argument("--distance-km", dest="distance_km")
    p = parsers["receipt"]
    p.add_argument("--sender", help="the actor who handed the goods over")
    p.add_argument("--id", help="the sender's delivery-note number")
    p.add_argument("--reject", metavar="REASON", help="refuse the goods, saying why")
    p = parsers["lifecycle"]
    p.add_argument("--kind", help="sale, resale, rental, repair, take-back, recycling")
    p.add_argument("--item", help="the item id")
    p.add_argument("--to", help="the new owner (sale, resale)")
    p.add_argument("--until", help="rental end date YYYY-MM-DD")
    p.add_argument("--description", help="what was repaired")


def add_terminal_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``key``, ``sign``, ``sync`` and ``queue`` to the ``spola`` command line."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home", help=f"the terminal's home (default ${HOME_ENV} or ./.spola-terminal)"
    )

    keys = sub.add_parser("key", help="the terminal's signing key").add_subparsers(
        dest="key_command", required=True
    )
    p = keys.add_parser("generate", help="create an encrypted key file", parents=[common])
    p.add_argument("--actor", required=True, help="your actor id (urn:spola:actor:<slug>)")
    p.set_defaults(func=cmd_key_generate)
    p = keys.add_parser("show", help="print the public key and key id", parents=[common])
    p.set_defaults(func=cmd_key_show)
    p = keys.add_parser("rotate", help="queue a rotation to a new key", parents=[common])
    p.add_argument("--reason", help="why the key is rotated (kept in the log)")
    p.set_defaults(func=cmd_key_rotate)

    _sign_parsers(sub, common)

    p = sub.add_parser("sync", help="send the queue to the ledger", parents=[common])
    p.add_argument("--ledger", required=True, help="the ledger's base URL")
    p.add_argument("--log-key", help="the log's vkey to trust (default: asked on first use)")
    p.add_argument("--batch", type=_count, default=100, help="envelopes per request (≤ 1000)")
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds each phase of a request may wait: a connect (name and every address "
        "of it included), a write, a read",
    )
    p.add_argument(
        "--deadline",
        type=_seconds,
        metavar="SECONDS",
        help="stop after this long, whatever is left (it stays queued), and exit 1",
    )
    p.add_argument(
        "--resume-after-alarm",
        action="store_true",
        help="lift a halt after an alarm (a person has decided the ledger may be trusted)",
    )
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser(
        "queue", help="list queued events and the ledger's verdicts", parents=[common]
    )
    p.add_argument("--state", choices=STATES, help="only events in this state")
    p.add_argument("--limit", type=_count, default=1000)
    p.add_argument(
        "--dropped", action="store_true", help="list the dropped and re-signed envelopes"
    )
    p.set_defaults(func=cmd_queue)
    # --home given before `drop` stays: the subcommand's own --home is not defaulted over it.
    home_here = argparse.ArgumentParser(add_help=False)
    home_here.add_argument("--home", default=argparse.SUPPRESS, help="the terminal's home")
    drop = p.add_subparsers(dest="queue_command").add_parser(
        "drop",
        help="drop a pending event the ledger refused; re-sign the later events of its feed",
        parents=[home_here],
    )
    drop.add_argument("position", type=_count, help="its queue position (see `spola queue`)")
    drop.set_defaults(func=cmd_queue_drop)
