"""The progress line of the long commands (`spola rebuild`, `export`, `labels`, `sign`, `sync`):
``{verb} {done:,} of {total:,} {noun} ({percent}%)`` on stderr, at every tenth of the work (a
log file, CI), and on a terminal more often where the command asks."""

from __future__ import annotations

import sys
from collections.abc import Callable


def tenths(verb: str, noun: str, *, terminal_every: int | None = 1) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` that prints the line when the work reaches a new tenth, and on
    a terminal also whenever ``done`` is a multiple of ``terminal_every`` (1: at every call;
    None: at the tenths only). A ``done`` beyond ``total`` is shown as ``total``."""
    shown = -1  # the percentage last shown

    def progress(done: int, total: int) -> None:
        nonlocal shown
        done = min(done, total)
        percent = done * 100 // max(total, 1)
        often = terminal_every is not None and done % terminal_every == 0 and sys.stderr.isatty()
        if often or percent // 10 != shown // 10:
            print(f"{verb} {done:,} of {total:,} {noun} ({percent}%)", file=sys.stderr)
            shown = percent

    return progress
