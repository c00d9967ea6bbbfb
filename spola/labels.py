"""``spola labels --out FILE.pdf``: an A4 sheet of QR labels for passports, ready to print."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from ledger.progress import tenths
from spola.cli import open_store, output_path

MAX_LABELS = 10_000
MAX_JOBS = 16  # processes making QR codes: more cores than this gain nothing on 10,000 labels
# From this many labels on (about a second of work), progress is shown on stderr.
PROGRESS_FROM = 100


def _progress(page: int) -> Callable[[int, int], None]:
    """Report every tenth of the labels drawn (every ``page`` labels on a terminal as well), on
    stderr; nothing for fewer than ``PROGRESS_FROM`` labels."""
    progress = tenths("drew", "labels", terminal_every=page)

    def shown(done: int, total: int) -> None:
        if total >= PROGRESS_FROM:
            progress(done, total)

    return shown


def cmd_labels(args: argparse.Namespace) -> int:
    from api.passport_http import public_uri, subject_of
    from ledger.files import replaced_atomically
    from ledger.identifiers import DigitalLink
    from passports.labels import COLUMNS, ROWS, Label, label_sheet, label_text

    out = output_path(args.out)  # before the log is read: a wrong --out is said at once
    asked = [subject_of(s) for s in args.subject or ()]  # a subject twice: two labels
    if len(asked) > MAX_LABELS:
        print(f"spola: {len(asked):,} subjects: at most {MAX_LABELS:,} a sheet", file=sys.stderr)
        return 1
    settings, store = open_store(args, existing="print")
    try:
        # Every passport, unless there are more than one file holds: then the user chooses
        # (the first 10,000 alone would be printed as if they were all).
        count = None if asked else store.passport_count()
        if count is not None and count > MAX_LABELS:
            print(
                f"spola: {count:,} passports are more than {MAX_LABELS:,} labels in one file: "
                "choose them with --subject",
                file=sys.stderr,
            )
            return 1
        rows = store.passports(after=None, limit=MAX_LABELS, subjects=sorted(set(asked)) or None)
    finally:
        store.close()
    names = {row.subject: row.product for row in rows}
    wanted = asked or sorted(names)
    missing = [s for s in wanted if s not in names]
    if missing:
        print(f"spola: no passport for {missing[0]}", file=sys.stderr)
        return 1
    if not wanted:
        print("spola: no passports issued yet: nothing to print", file=sys.stderr)
        return 1
    labels = []
    for subject in wanted:
        link = DigitalLink.parse(subject)
        printed = link.serial if link.serial is not None else link.lot
        assert printed is not None  # passports name an item or a batch
        uri = public_uri(settings.public_base_url, subject)
        labels.append(Label(uri=uri, product=label_text(names[subject]), serial=printed))
    pdf = label_sheet(labels, _progress(COLUMNS * ROWS), jobs=args.jobs)
    with replaced_atomically(out, binary=True) as file:
        file.write(pdf)
    print(f"{len(labels)} labels for {settings.public_base_url} written to {out}")
    if (why := unreachable(settings.public_base_url)) is not None:
        print(
            f"spola: these labels point at {settings.public_base_url}, {why}: set "
            "SPOLA_PUBLIC_BASE_URL to the public https origin before printing them for real",
            file=sys.stderr,
        )
    return 0


def unreachable(base_url: str) -> str | None:
    """Why a phone scanning a label on ``base_url`` would not reach a passport, or None: a
    printed label cannot be changed, and the default names this machine (127.0.0.1)."""
    import ipaddress
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    host = (parts.hostname or "").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if (
        host == "localhost"
        or host.endswith((".localhost", ".local"))
        or (address is not None and (address.is_loopback or address.is_unspecified))
    ):
        return "this machine's own address, which a phone does not reach"
    if address is not None and (address.is_private or address.is_link_local):
        return "a private address, which a phone reaches only on that network"
    if parts.scheme != "https":
        return "plain http, which browsers warn about and networks may alter"
    return None


def add_labels_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], db_help: str
) -> None:
    p = sub.add_parser("labels", help="print QR labels for passports on A4 sheets (PDF)")
    p.add_argument("--out", required=True, help="the PDF to write (replaced atomically)")
    p.add_argument(
        "--subject",
        action="append",
        help="only this item or batch (Digital Link path); repeat for more; default: all",
    )
    p.add_argument(
        "--jobs",
        type=_jobs,
        default=min(MAX_JOBS, os.cpu_count() or 1),
        help=f"processes making the QR codes of a long sheet (default: the cores, at most "
        f"{MAX_JOBS})",
    )
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_labels)


def _jobs(text: str) -> int:
    """An argparse type: a whole number of processes from 1 to ``MAX_JOBS``."""
    if not text.isdecimal() or not 1 <= int(text) <= MAX_JOBS:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of processes from 1 to {MAX_JOBS}, not {text[:20]!r}"
        )
    return int(text)
