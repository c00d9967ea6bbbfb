"""``spola verify`` / ``python -m verifier``: exit 0 valid, 1 invalid, 2 unusable input."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from ledger.errors import LedgerError
from ledger.note import DEFAULT_MAX_BYTES
from verifier.findings import UnusableInputError
from verifier.report import visible
from verifier.steps import MAX_JOBS, verify_bundle

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNUSABLE = 2

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
    if value.count("+") < 2 or _is_file(path):
        data = _read_bounded(path, MAX_LOG_KEY_BYTES, "the log key")
        try:
            return data.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise UnusableInputError(
                f"cannot read the log key {value}: not UTF-8 text (byte {exc.start})"
            ) from exc
    return value


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name no file can have (too long, say): then it is no path
        return False


class Progress:
    """Progress of a large bundle (``MIN_ENTRIES`` entries or more) on ``stream`` (stderr).

    On a terminal: one line redrawn in place, a bar with the share done, the entries checked,
    the rate and the time left; ``close`` ends the line. Elsewhere (a log file, CI): a line at
    every tenth. Written by hand, not taken from a progress-bar package: the auditor's install
    is kept to what verification needs.
    """

    MIN_ENTRIES = 10_000
    WIDTH = 24  # characters of the bar

    def __init__(
        self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.terminal = self.stream.isatty()
        self.clock = clock
        self.started = clock()
        self.shown = -1  # the percentage last shown
        self.drawn = 0  # characters of the line drawn in place, 0 when none is open

    def __call__(self, done: int, size: int) -> None:
        if size < self.MIN_ENTRIES:
            return
        done = min(done, size)
        percent = done * 100 // size
        if self.terminal:
            self._draw(done, size, percent)
        elif percent // 10 != self.shown // 10:
            print(f"verified {done:,} of {size:,} entries ({percent}%)", file=self.stream)
        self.shown = percent

    def _draw(self, done: int, size: int, percent: int) -> None:
        filled = self.WIDTH * done // size
        elapsed = self.clock() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {percent:3d}% "
        line += f"{done:,} of {size:,} entries"
        if rate >= 1:
            line += f", {rate:,.0f}/s"
            if done < size:
                line += f", about {_duration((size - done) / rate)} left"
        # Back to the line's start; spaces wipe what a longer line before left behind.
        self.stream.write("\r" + line.ljust(self.drawn))
        self.stream.flush()
        self.drawn = len(line)

    def close(self) -> None:
        """End the line drawn in place, so that what is printed next starts on its own."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = 0


def _duration(seconds: float) -> str:
    whole = max(1, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    return (
        f"{minutes} min {rest:02d} s"
        if minutes < 60
        else f"{minutes // 60} h {minutes % 60:02d} min"
    )


def _given(args: argparse.Namespace) -> None:
    # An empty argument is most often a shell variable left unset: said as such, not read as
    # "." (a directory) nor, for --trusted-checkpoint, taken for none given (step 4 skipped).
    if args.bundle == "":
        raise UnusableInputError("the bundle's path is empty: give the bundle file to verify")
    if args.log_key == "":
        raise UnusableInputError("--log-key is empty: give the log's vkey or a file holding it")
    if args.trusted_checkpoint == "":
        raise UnusableInputError(
            "--trusted-checkpoint is empty: give a file holding a checkpoint you trust"
        )


def run(args: argparse.Namespace) -> int:
    """Verify ``args.bundle``; print the report; the exit status."""
    progress = Progress()
    try:
        _given(args)
        vkey = _log_key(args.log_key)
        trusted = None
        if args.trusted_checkpoint is not None:
            trusted = _read_bounded(
                Path(args.trusted_checkpoint), MAX_CHECKPOINT_BYTES, "the trusted checkpoint"
            )
        try:
            opened = Path(args.bundle).open("rb")  # noqa: SIM115 (closed by the with below)
        except OSError as exc:
            raise UnusableInputError(
                f"cannot read the bundle {args.bundle}: {exc.strerror or exc}"
            ) from exc
        with opened as source:
            try:
                report = verify_bundle(
                    source, vkey, trusted_checkpoint=trusted, jobs=args.jobs, progress=progress
                )
            finally:
                progress.close()  # before any message or the report
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
    try:
        status = run(parser.parse_args(argv))
        sys.stdout.flush()  # a pipe is buffered: a closed reader is found here, not at exit
        return status
    except BrokenPipeError:  # `… | head` closed the pipe: no verdict was delivered, none is told
        # stdout goes to /dev/null so that flushing it at exit does not fail again; 141 is what
        # a shell reports for a command SIGPIPE stopped (0, 1 and 2 are verdicts).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
