"""``spola export epcis|bundle``: the applied supply-chain events as a GS1 EPCIS 2.0 document,
and the log (or one item's or actor's part) as an audit bundle; both written beside the target
and renamed into place."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ledger.progress import tenths
from spola.cli import open_store, output_path, read_bounded


def _export_progress(size: int) -> Callable[[int], None]:
    """Report every tenth of the log read (or every page on a terminal), on stderr."""
    progress = tenths("read", "log entries")
    return lambda done: progress(done, size)


def cmd_export_epcis(args: argparse.Namespace) -> int:
    from collections.abc import Iterator
    from typing import Any

    from ledger.epcis import creation_date_now, document_chunks, subject_id
    from ledger.files import replaced_atomically
    from ledger.store.epcis import EpcisFilter, epcis_pages

    # Read here first so that a malformed Digital Link names its flag.
    item = None if args.item is None else subject_id(args.item, "--item")
    lot = None if args.lot is None else subject_id(args.lot, "--lot")
    where = EpcisFilter.parse(
        actor=args.actor, item=item, lot=lot, since=args.since, until=args.until
    )
    out = output_path(args.out)
    _, store = open_store(args, existing="export")
    counts = [0, 0]  # entries, events
    try:
        progress = _export_progress(store.tree_size())
        with store.connect() as conn:

            def events() -> Iterator[dict[str, Any]]:
                for page in epcis_pages(conn, where):
                    counts[0] += page.entries
                    counts[1] += len(page.events)
                    yield from page.events
                    progress(page.scanned_to)

            # Write beside the target, then rename: a reader never sees half a document.
            with replaced_atomically(out) as file:
                file.writelines(document_chunks(events(), creation_date_now()))
    finally:
        store.close()
    print(f"exported {counts[1]:,} EPCIS events from {counts[0]:,} log entries to {out}")
    return 0


def cmd_export_bundle(args: argparse.Namespace) -> int:
    from ledger.bundle import SCOPE_ACTOR, SCOPE_ITEM
    from ledger.note import DEFAULT_MAX_BYTES as MAX_NOTE_BYTES
    from ledger.store.bundle import export_bundle, export_partial_bundle

    scope, subject = (SCOPE_ITEM, args.item) if args.item else (SCOPE_ACTOR, args.actor)
    if subject and args.since_checkpoint:
        raise SystemExit("spola: --since-checkpoint is for whole-ledger bundles only")
    since = None
    if args.since_checkpoint:
        since = read_bounded(args.since_checkpoint, MAX_NOTE_BYTES)
    out = output_path(args.out)
    _, store = open_store(args, existing="export")
    try:
        if subject:
            summary = export_partial_bundle(store, out, scope=scope, subject=subject)
            print(
                f"exported the {scope} bundle of {subject} (tree size {summary.tree_size:,}, "
                f"{summary.bytes:,} bytes) to {summary.path}"
            )
            return 0
        progress = _export_progress(store.tree_size())
        summary = export_bundle(
            store, out, since_checkpoint=since, progress=lambda done, _: progress(done)
        )
    finally:
        store.close()
    print(f"exported {summary.tree_size:,} log entries ({summary.bytes:,} bytes) to {summary.path}")
    return 0


def add_export_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], db_help: str
) -> None:
    exportp = sub.add_parser("export", help="export the ledger in standard formats")
    exports = exportp.add_subparsers(dest="export_command", required=True)
    p = exports.add_parser(
        "epcis", help="write the applied supply-chain events as a GS1 EPCIS 2.0 document"
    )
    p.add_argument("--out", required=True, help="the file to write (replaced atomically)")
    p.add_argument("--actor", help="only events this actor signed (urn:spola:actor:…)")
    p.add_argument("--item", help="only events about this item (URN or Digital Link)")
    p.add_argument("--lot", help="only events about this lot (URN or Digital Link)")
    p.add_argument("--since", help="only events at or after this RFC 3339 time")
    p.add_argument("--until", help="only events before this RFC 3339 time")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_export_epcis)
    p = exports.add_parser(
        "bundle", help="write the whole log (or one item's or actor's part) as an audit bundle"
    )
    p.add_argument("--out", required=True, help="the file to write (replaced atomically)")
    p.add_argument(
        "--since-checkpoint", help="an earlier signed checkpoint: add a consistency proof from it"
    )
    only = p.add_mutually_exclusive_group()
    only.add_argument("--item", help="a partial bundle: this item's or lot's entries (path, URN)")
    only.add_argument("--actor", help="a partial bundle: the entries this actor signed (URN)")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_export_bundle)
