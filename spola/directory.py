"""``spola directory search|show``: the supplier directory on the command line.

The same answers as ``GET /v1/directory`` and ``GET /v1/directory/{actor}`` for the public
viewer (hidden figures stay hidden), read straight from the database: a table of matches, or
one profile as JSON. Bad filters exit 2 with the field named, like the API's 422.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from spola.cli import open_store

COLUMNS = ("km", "score", "process", "certificates", "actor", "name", "town")


def _row(match: dict[str, Any]) -> tuple[str, ...]:
    offer = match["process"]
    status = "" if offer is None else ("verified" if offer["verified"] else "declared")
    certificates = ",".join(sorted({c["scheme"] for c in match["certificates"]}))
    return (
        match["distance_km"] or "",
        match["score"],
        status,
        certificates,
        match["actor"].removeprefix("urn:spola:actor:"),
        match["name"],
        match["town"] or "",
    )


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [COLUMNS, *rows]
    )


def cmd_directory_search(args: argparse.Namespace) -> int:
    from api.directory_query import Filters
    from api.problems import BadRequest
    from api.routes.directory import run_search
    from ledger.store.tokens import PUBLIC

    filters = Filters(
        process=args.process,
        material=args.material,
        certificate=args.certificate,
        near=args.near,
        radius_km=args.radius_km,
        region=args.region,
        on=args.on,
    )
    _, store = open_store(args, existing="search")
    try:
        answer = run_search(store, filters, PUBLIC)
    except BadRequest as exc:
        print(f"spola: {exc.detail}", file=sys.stderr)
        return 2
    finally:
        store.close()
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    elif not answer["matches"]:
        print("no actor matches these filters")
    else:
        print(_table([_row(m) for m in answer["matches"]]))
    _say_cuts(answer)
    return 0


def _say_cuts(answer: dict[str, Any]) -> None:
    """On stderr, so the table stays whole: the matches left out, the actors not read."""
    shown, matched = len(answer["matches"]), answer["matched"]
    if shown < matched:
        print(f"spola: showing the best {shown} of {matched} matches", file=sys.stderr)
    if not answer["complete"]:
        print(
            "spola: more actors are registered than a search reads; some were not searched",
            file=sys.stderr,
        )


def cmd_directory_show(args: argparse.Namespace) -> int:
    from api.directory_query import day_of
    from api.problems import BadRequest
    from api.routes.directory import full_profile, profile_json
    from ledger.store.tokens import PUBLIC

    actor = args.actor if args.actor.startswith("urn:") else f"urn:spola:actor:{args.actor}"
    try:
        day = day_of(args.on)
    except BadRequest as exc:
        print(f"spola: {exc.detail}", file=sys.stderr)
        return 2
    _, store = open_store(args, existing="show")
    try:
        found = full_profile(store, actor, day)
    finally:
        store.close()
    print(json.dumps(profile_json(found, PUBLIC), indent=2, ensure_ascii=False))
    return 0


def add_directory_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], db_help: str
) -> None:
    commands = sub.add_parser(
        "directory", help="the supplier directory: verified profiles and local search"
    ).add_subparsers(dest="directory_command", required=True)
    p = commands.add_parser("search", help="actors by process, material, certificate, distance")
    p.add_argument("--process", help="a catalogue process id, e.g. dyeing")
    p.add_argument("--material", help="a catalogue material id, e.g. silk-mulberry-organic")
    p.add_argument("--certificate", help="a certification scheme held today, e.g. GOTS")
    p.add_argument("--near", help="lat,lon in decimal degrees, e.g. 45.4642,9.19")
    p.add_argument("--radius-km", help="with --near: 0 < km <= 2000 (default 100)")
    p.add_argument("--region", help="a facility's region, e.g. Lombardia")
    p.add_argument("--on", help="the day certificates must be valid (default today), YYYY-MM-DD")
    p.add_argument("--json", action="store_true", help="print the API's JSON answer")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_directory_search)
    p = commands.add_parser("show", help="one actor's profile and public track record (JSON)")
    p.add_argument("actor", help="the actor id or its slug")
    p.add_argument("--on", help="the end of the 12 months of track record (default today)")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_directory_show)
