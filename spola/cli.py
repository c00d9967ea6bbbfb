"""``spola``: operator commands for the ledger service.

Errors print one line to stderr and exit 1; usage errors exit 2 (argparse's convention).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ledger.errors import LedgerError
from ledger.progress import tenths

if TYPE_CHECKING:
    from pathlib import Path

    from api.settings import Settings
    from ledger.store.ledger import LedgerStore

Command = Callable[[argparse.Namespace], int]


def _settings(args: argparse.Namespace) -> Settings:
    from api.settings import Settings

    return Settings.from_env(database_url=getattr(args, "db", None))


def cmd_init(args: argparse.Namespace) -> int:
    from api.operator import DEFAULT_ORIGIN, KEY_FILE, LOG_FILE, OperatorHomeError, init_home

    home = _settings(args).home
    if home.exists() and not home.is_dir():
        raise OperatorHomeError(f"SPOLA_HOME {home} is not a directory")
    missing = [name for name in (KEY_FILE, LOG_FILE) if not (home / name).exists()]
    if len(missing) == 1:  # a copy or an init cut short: neither a new log nor a usable one
        raise OperatorHomeError(
            f"{home} is half made: {missing[0]} is missing; restore it from your backup "
            "(or move the home away to start a new log)"
        )
    origin = DEFAULT_ORIGIN if args.origin is None else args.origin
    created = init_home(home, origin=origin, exist_ok=args.exist_ok)
    print(f"{'created' if created else 'kept'} the log key in {home}")
    return 0


def open_store(
    args: argparse.Namespace, *, read_replica: bool = False
) -> tuple[Settings, LedgerStore]:
    from api.operator import load_operator
    from ledger.store.ledger import LedgerStore

    settings = _settings(args)
    operator = load_operator(settings.home)
    return settings, LedgerStore.open(
        settings.database_url,
        operator=operator.key,
        origin=operator.origin,
        read_url=settings.read_database_url if read_replica else None,
    )


class CommandError(LedgerError):
    """A command's own argument cannot be used: a path, an address."""


def output_path(text: str) -> Path:
    """``--out``'s file, refused at once if it is a directory or its directory is missing:
    an export writes a temporary file beside it and renames it at the end, too late to say."""
    from pathlib import Path

    out = Path(text)
    if out.is_dir():
        raise CommandError(f"--out {out} is a directory; name a file in it")
    if not out.parent.is_dir():
        problem = "is not a directory" if out.parent.exists() else "does not exist"
        raise CommandError(f"--out {out}: the directory {out.parent} {problem}")
    return out


def read_bounded(path: str, limit: int) -> bytes:
    """The bytes of the file at ``path``, at most ``limit``: a pipe or device that never ends
    (/dev/zero) is refused one byte past the limit, not read whole."""
    try:
        with open(path, "rb") as source:
            data = source.read(limit + 1)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise CommandError(f"cannot read {path}: over the limit of {limit} bytes")
    return data


def _check_listen(host: str, port: int) -> None:
    """Bind ``host``:``port`` once and let it go, as the server will (SO_REUSEADDR): an address
    in use or a host that does not resolve is one line now, not a server log after start-up.
    Like asyncio's server, an address of a family this machine lacks is skipped."""
    import socket

    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    failure: OSError | None = None
    bound = False
    for family, kind, proto, _, address in found:
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:  # worded as uvicorn words it, the address included
                raise CommandError(
                    f"cannot listen on {address!r}: address already in use (another server?)"
                ) from None
            failure = exc
        else:
            bound = True
    if bound:
        return
    reason = "no address" if failure is None else failure.strerror or str(failure)
    raise CommandError(f"cannot listen on {host}:{port}: {reason}")


def cmd_demo(args: argparse.Namespace) -> int:
    from api.demo import seed_demo

    settings, store = open_store(args)
    try:
        added = seed_demo(store, settings.home)
        print(f"demo ledger ready: {added} entries appended, tree size {store.tree_size()}")
    finally:
        store.close()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from api.limits import HEAD_BUFFER_BYTES

    if args.db:
        os.environ["SPOLA_DATABASE_URL"] = args.db  # the workers read the same settings
    if "SPOLA_PUBLIC_BASE_URL" not in os.environ:
        base = served_base_url(args.host, args.port)
        if base is None:  # every address: this machine's own stands for them, on this port
            base = f"http://127.0.0.1:{args.port}"
            print(
                f"spola: serving on every address of this machine; QR codes and Digital Link "
                f"URIs name {base}: set SPOLA_PUBLIC_BASE_URL to the address phones reach",
                file=sys.stderr,
            )
        os.environ["SPOLA_PUBLIC_BASE_URL"] = base  # what the workers' QR codes and URIs name
    _check_listen(args.host, args.port)
    # Migrate and write the genesis once, here, before any worker starts: a bad URL (the
    # replica's too) or key fails with one line now instead of inside every worker.
    open_store(args, read_replica=True)[1].close()
    uvicorn.run(
        "api.main:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        h11_max_incomplete_event_size=HEAD_BUFFER_BYTES,
    )
    return 0


def served_base_url(host: str, port: int) -> str | None:
    """The URL ``spola serve --host --port`` answers on, for QR codes and Digital Link URIs
    when SPOLA_PUBLIC_BASE_URL is not set; None for a wildcard address (0.0.0.0, ::), which
    names no host a phone could reach."""
    import ipaddress

    try:
        if not host or ipaddress.ip_address(host).is_unspecified:
            return None
    except ValueError:
        pass  # a host name
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address (RFC 3986 §3.2.2)
    return f"http://{shown}:{port}"


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
    _, store = open_store(args)
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


def cmd_verify(args: argparse.Namespace) -> int:
    from verifier.cli import run

    return run(args)


def _verify_jobs(text: str) -> int:
    # verify's --jobs, checked as python -m verifier checks it; imported only when given.
    from verifier.cli import jobs

    return jobs(text)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: 0 to 65535")
    return int(text)


def _workers(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: at least 1 worker")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spola", description="spola traceability ledger")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create the log key and origin in $SPOLA_HOME (./.spola)")
    p.add_argument("--origin", help="the log's origin line, e.g. ledger.example.it/spola")
    p.add_argument("--exist-ok", action="store_true", help="keep an existing key")
    p.set_defaults(func=cmd_init)

    db_help = "database URL (default $SPOLA_DATABASE_URL or sqlite:///./spola.db)"
    p = sub.add_parser("serve", help="serve the HTTP API")
    p.add_argument("--db", help=db_help)
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="the TCP port (8000)")
    p.add_argument("--workers", type=_workers, default=1, help="worker processes (default 1)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="seed the demo supply chain (idempotent)")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "rebuild",
        help="replay the log and prove the stored projections equal it (exit 1 if not)",
    )
    p.add_argument("--db", help=db_help)
    p.add_argument(
        "--repair", action="store_true", help="rewrite projections that differ from the log"
    )
    p.set_defaults(func=cmd_rebuild)

    from spola.access import add_token_commands
    from spola.actor import add_actor_commands
    from spola.directory import add_directory_commands
    from spola.export import add_export_commands
    from spola.labels import add_labels_command

    add_export_commands(sub, db_help)
    add_actor_commands(sub, db_help)
    add_token_commands(sub, db_help)
    add_labels_command(sub, db_help)
    add_directory_commands(sub, db_help)

    # The options of ``python -m verifier`` (verifier/cli.py), repeated here so that building
    # this parser does not import the verifier: every other subcommand would pay for it.
    p = sub.add_parser(
        "verify",
        help="verify a bundle offline with the log key (exit 0 valid, 1 invalid, 2 unusable)",
    )
    p.add_argument("bundle", help="the bundle file (spola export bundle)")
    p.add_argument("--log-key", required=True, help="the log's C2SP vkey, or a file that holds it")
    p.add_argument("--trusted-checkpoint", help="a signed checkpoint you already trust (a file)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--jobs",
        type=_verify_jobs,
        help="worker processes for parsing and signatures (default: cores)",
    )
    p.set_defaults(func=cmd_verify)

    logp = sub.add_parser("log", help="read the log").add_subparsers(
        dest="log_command", required=True
    )
    p = logp.add_parser("checkpoint", help="print the latest signed checkpoint")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_log_checkpoint)
    p = logp.add_parser("key", help="print the log's verifier key (C2SP vkey)")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_log_key)

    from signer.cli import add_terminal_commands  # the workshop terminal: key, sign, sync, queue

    add_terminal_commands(sub)
    return parser


def _empty_argument(argv: Sequence[str], args: argparse.Namespace) -> str | None:
    """How the command line names an argument it gave as "" (an option or a positional), if
    any: no command takes an empty value, and "" is most often a shell variable left unset
    (``--item "$ITEM"``), which would otherwise read as the option not given at all."""
    empty = [
        dest
        for dest, value in vars(args).items()
        if value == "" or (isinstance(value, list) and "" in value)
    ]
    if not empty:
        return None
    for i, word in enumerate(argv):
        if word.startswith("-") and word.endswith("="):
            return word[:-1]
        if word == "" and i and argv[i - 1].startswith("-") and "=" not in argv[i - 1]:
            return argv[i - 1]
    return empty[0]  # a positional, by its name


# The packages each extra of pyproject.toml installs beyond the core, by import name
# (with starlette, FastAPI's own): a command that imports one on an install without it
# names the extra to install instead of a traceback.
_SERVER_PACKAGES = frozenset(
    (
        *("sqlalchemy", "alembic", "psycopg", "fastapi", "starlette", "uvicorn", "httpx"),
        *("httpcore", "qrcode", "png", "fpdf", "jinja2", "pygal"),
    )
)
_TERMINAL_PACKAGES = frozenset(("httpx", "httpcore"))
_TERMINAL_COMMANDS = frozenset(("key", "sign", "sync", "queue"))  # signer/cli.py's


def _extra_missing(args: argparse.Namespace, exc: ModuleNotFoundError) -> str | None:
    """The extra (``server``, ``terminal``) whose package ``exc`` misses, for this command;
    None if the missing module is no package of an extra."""
    package = (exc.name or "").partition(".")[0]
    if args.command in _TERMINAL_COMMANDS:
        return "terminal" if package in _TERMINAL_PACKAGES else None
    return "server" if package in _SERVER_PACKAGES else None


def _run(func: Command, args: argparse.Namespace) -> int:
    """``func(args)``, a package of an extra this install lacks named as the extra to add."""
    try:
        return func(args)
    except ModuleNotFoundError as exc:
        if (extra := _extra_missing(args, exc)) is None:
            raise  # a module of spola's own: a fault to report with its traceback
        raise CommandError(
            f"`spola {_command_name(args)}` needs the {extra} install: "
            f"pip install 'spola[{extra}]' (no module named {exc.name!r})"
        ) from None


def _command_name(args: argparse.Namespace) -> str:
    """The command as typed, without its arguments: ``log key``, ``export epcis``, ``demo``."""
    words = [args.command]
    words += [v for k, v in vars(args).items() if k.endswith("_command") and isinstance(v, str)]
    return " ".join(words)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    # `spola verify` words an empty argument as `python -m verifier` does (verifier/cli.py).
    if args.command != "verify" and (name := _empty_argument(argv, args)) is not None:
        print(
            f"spola: {name} is empty: give it a non-empty value (is a shell variable unset?)",
            file=sys.stderr,
        )
        return 2
    func: Command = args.func
    try:
        status = _run(func, args)
        sys.stdout.flush()  # a pipe is buffered: a closed reader is found here, not at exit
        return status
    except BrokenPipeError:  # `spola … | head` read what it wanted and closed the pipe
        # Not an error to report; stdout goes to /dev/null so that flushing it at exit does
        # not fail again. 141 is what a shell reports for a command SIGPIPE stopped.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except LedgerError as exc:
        print(f"spola: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # an unwritable home, a port in use, a missing file
        print(f"spola: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


__all__ = ["main"]
