"""``spola verify`` / ``python -m verifier``: exit 0 valid, 1 invalid, 2 unusable input."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ledger.errors import LedgerError
from verifier.steps import UnusableInputError, verify_bundle

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNUSABLE = 2


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
    if number < 1:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of worker processes, 1 or more (1: none), not {text!r}"
        )
    return number


def _log_key(value: str) -> str:
    # A vkey always holds two "+": a path that exists and is no vkey is read as a file.
    path = Path(value)
    if value.count("+") < 2 or path.is_file():
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UnusableInputError(f"cannot read the log key {value}: {exc.strerror}") from exc
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
            trusted = Path(args.trusted_checkpoint).read_bytes()
        with Path(args.bundle).open("rb") as source:
            report = verify_bundle(
                source, vkey, trusted_checkpoint=trusted, jobs=args.jobs, progress=_Progress()
            )
    except UnusableInputError as exc:
        print(f"verify: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except OSError as exc:
        print(f"verify: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return EXIT_UNUSABLE
    except LedgerError as exc:  # not expected: every check reports a finding instead
        print(f"verify: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    sys.stdout.write(report.to_json_text() if args.json else report.to_text())
    return EXIT_VALID if report.valid else EXIT_INVALID


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m verifier", description="verify a spola bundle offline"
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
