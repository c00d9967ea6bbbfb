"""``spola``: operator commands for the ledger service — the parser, ``init`` and ``demo``, and
what every subcommand shares (opening the store, its errors, ``--out`` and bounded reads).

Errors print one line to stderr and exit 1; usage errors exit 2 (argparse's convention).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ledger.errors import LedgerError

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
    args: argparse.Namespace, *, read_replica: bool = False, existing: str | None = None
) -> tuple[Settings, LedgerStore]:
    """The settings and the store the command's ``--db`` (or the environment) names. With
    ``existing`` (what the command would do: "rebuild", "export"), a database that holds no
    ledger is refused in one line rather than made one: a command that only reads (rebuild and
    export bundle check a restored backup, docs/operations.md "Backup") must not start a new,
    empty ledger at a mistyped URL and answer from it."""
    from api.operator import load_operator
    from ledger.store.ledger import LedgerStore

    settings = _settings(args)
    if existing is not None:
        from ledger.store.engine import missing_ledger

        if (missing := missing_ledger(settings.database_url)) is not None:
            raise CommandError(
                f"no ledger at {missing}; nothing to {existing} (is the URL right? a ledger "
                "is started by `spola serve` or `spola demo`, or restored from a backup)"
            )
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


def cmd_demo(args: argparse.Namespace) -> int:
    from api.demo import seed_demo

    settings, store = open_store(args)
    try:
        added = seed_demo(store, settings.home)
        print(f"demo ledger ready: {added} entries appended, tree size {store.tree_size()}")
    finally:
        store.close()
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from verifier.cli import run

    return run(args)


def _verify_jobs(text: str) -> int:
    # verify's --jobs, checked as python -m verifier checks it; imported only when given.
    from verifier.cli import jobs

    return jobs(text)


def build_parser() -> argparse.ArgumentParser:
    from signer.cli import add_terminal_commands  # the workshop terminal: key, sign, sync, queue
    from spola.access import add_token_commands
    from spola.actor import add_actor_commands
    from spola.directory import add_directory_commands
    from spola.export import add_export_commands
    from spola.labels import add_labels_command
    from spola.log import add_log_commands, add_rebuild_command
    from spola.serve import add_serve_command

    parser = argparse.ArgumentParser(prog="spola", description="spola traceability ledger")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create the log key and origin in $SPOLA_HOME (./.spola)")
    p.add_argument("--origin", help="the log's origin line, e.g. ledger.example.it/spola")
    p.add_argument("--exist-ok", action="store_true", help="keep an existing key")
    p.set_defaults(func=cmd_init)

    db_help = "database URL (default $SPOLA_DATABASE_URL or sqlite:///./spola.db)"
    add_serve_command(sub, db_help)
    p = sub.add_parser("demo", help="seed the demo supply chain (idempotent)")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=cmd_demo)
    add_rebuild_command(sub, db_help)

    add_export_commands(sub, db_help)
    add_actor_commands(sub, db_help)
    add_token_commands(sub, db_help)
    add_labels_command(sub, db_help)
    add_directory_commands(sub, db_help)
    _add_verify_command(sub)
    add_log_commands(sub, db_help)
    add_terminal_commands(sub)
    return parser


def _add_verify_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
