"""``spola verify`` / ``python -m verifier``: exit 0 valid, 1 invalid, 2 unusable input."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ledger.errors import LedgerError
from ledger.note import DEFAULT_MAX_BYTES
from verifier.report import visible
from verifier.steps import UnusableInputError, verify_bundle

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNUSABLE = 2

MAX_JOBS = 256  # far above any laptop's cores; a typo such as 10000 must not fork that many
MAX_LOG_KEY_BYTES = 4 * 1024  # a vkey is about 100 characters
MAX_CHECKPOINT_BYTES = DEFAULT_MAX_BYTES  # a signed note's own limit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", help="the bundle file (spola export bundle)")
    parser.add_argument(
        "--log-key", required=True, help="the log's C2SP vkey, or a file that holds it"
    )
    parser.add_argument(
        "--trusted-checkpoint", help="a signed checkpoint you already trust (a file)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--jobs",
        type=jobs,
        default=None,
        help="worker processes that check entries (default: cores; 1: none)",
    )


def jobs(text: str) -> int:
    """``--jobs``: a whole number of worker processes, at least 1 (argparse's ``type``)."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_JOBS:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of worker processes from 1 (none) to {MAX_JOBS}, not {text!r}"
        )
    return number


def _read_bounded(path: Path, limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of ``path`` (a file, a pipe or a device such as /dev/zero):
    one more byte than the limit is refused, not read to the end."""
    try:
        with path.open("rb") as source:
            data = source.read(limit + 1)
    except OSError as exc:
        raise UnusableInputError(f"cannot read {what} {path}: {exc.strerror}") from exc
    if len(data) > limit:
        raise UnusableInputError(f"cannot read {what} {path}: over the limit of {limit} bytes")
    return data


def _log_key(value: str) -> str:
    # A vkey always holds two "+": a path that exists and is no vkey is read as a file.
    path = Path(value)
    if value.count("+") < 2 or path.is_file():
        data = _read_bounded(path, MAX_LOG_KEY_BYTES, "the log key")
        try:
            return data.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise UnusableInputError(
                f"cannot read the log key {value}: not UTF-8 text (byte {exc.start})"
            ) from exc
    return value


class _Progress:
    """Every tenth of a large bundle (every chunk on a terminal), on stderr."""

    def __init__(self) -> None:
        self.shown = -1

    def __call__(self, done: int, size: int) -> None:
        if size < 10_000:
            return
        percent = min(done, size) * 100 // size
        if sys.stderr.isatty() or percent // 10 != self.shown // 10:
            print(f"verified {done:,} of {size:,} entries ({percent}%)", file=sys.stderr)
            self.shown = percent


def run(args: argparse.Namespace) -> int:
    """Verify ``args.bundle``; print the report; the exit status."""
    try:
        vkey = _log_key(args.log_key)
        trusted = None
        if args.trusted_checkpoint:
            trusted = _read_bounded(
                Path(args.trusted_checkpoint), MAX_CHECKPOINT_BYTES, "the trusted checkpoint"
            )
        with Path(args.bundle).open("rb") as source:
            report = verify_bundle(
                source, vkey, trusted_checkpoint=trusted, jobs=args.jobs, progress=_Progress()
            )
    except LedgerError as exc:  # UnusableInputError; any other is not expected (findings are)
        _say(str(exc))
        return EXIT_UNUSABLE
    except OSError as exc:
        _say(f"{exc.strerror or exc}: {exc.filename or ''}")
        return EXIT_UNUSABLE
    sys.stdout.write(report.to_json_text() if args.json else report.to_text())
    return EXIT_VALID if report.valid else EXIT_INVALID


def _say(message: str) -> None:
    # One line on stderr; a path or a bundle's text in it is shown, not obeyed by the terminal.
    print(f"verify: {visible(message)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m verifier", description="verify a spola bundle offline"
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
