"""``spola rebuild`` and ``spola log checkpoint|key``: the log replayed against the stored
projections, and the log's latest checkpoint and verifier key."""

from __future__ import annotations

import argparse
import sys

from ledger.progress import tenths
from spola.cli import open_store


def cmd_log_checkpoint(args: argparse.Namespace) -> int:
    _, store = open_store(args)
    try:
        sys.stdout.write(store.latest_checkpoint().decode("utf-8"))
    finally:
        store.close()
    return 0


def cmd_log_key(args: argparse.Namespace) -> int:
    _, store = open_store(args)
    store.close()
    print(store.log_vkey)
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    _, store = open_store(args, existing="rebuild")
    try:
        report = store.rebuild(repair=args.repair, progress=tenths("replayed", "entries"))
    finally:
        store.close()
    compared = ", ".join(f"{n:,} {table}" for table, n in report.compared.items())
    print(f"replayed {report.entries:,} entries; compared {compared}")
    if report.restored_nodes:
        print(f"restored {report.restored_nodes:,} missing Merkle node(s) from the log's entries")
    if report.equal:
        print("stored projections equal the replay of the log")
        return 0
    for line in report.differences:
        print(f"  {line}")
    more = report.difference_count - len(report.differences)
    if more:
        print(f"  … and {more:,} more")
    if report.repaired:
        print(f"repaired: {report.difference_count:,} differences rewritten from the log")
        return 0
    if report.verdict_differences:
        done = "nothing was repaired" if args.repair else "--repair would rewrite nothing"
        print(
            f"spola: {report.verdict_differences:,} verdict(s) of the log differ from the "
            "replay's: the rules now judge those entries otherwise, and the log's verdicts are "
            f"never rewritten, nor projections rebuilt to disagree with them; {done} (run the "
            "release that appended those entries)",
            file=sys.stderr,
        )
        return 1
    print(
        f"spola: {report.difference_count:,} differences between the stored projections and "
        "the log (run with --repair to rewrite the projections from the log)",
        file=sys.stderr,
    )
    return 1


def add_rebuild_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], db_help: str
) -> None:
    """``spola rebuild [--repair]``."""
    p = sub.add_parser(
        "rebuild",
        help="replay the log and prove the stored projections equal it (exit 1 if not)",
    )
    p.add_argument("--db", help=db_help)
    p.add_argument(
        "--repair", action="store_true", help="rewrite projections that differ from the log"
    )
    p.set_defaults(func=cmd_rebuild)


def add_log_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], db_help: str
) -> None:
    """``spola log checkpoint`` and ``spola log key``."""
    logp = sub.add_parser("log", help="read the log").add_subparsers(
        dest="log_command", required=True
    )
    p = logp.add_parser("checkpoint", help="print the latest signed checkpoint")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_log_checkpoint)
    p = logp.add_parser("key", help="print the log's verifier key (C2SP vkey)")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_log_key)
