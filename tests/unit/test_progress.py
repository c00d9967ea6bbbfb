"""The progress line of the long commands (rebuild, export, labels, sign, sync): a line on
stderr at every tenth of the work, and on a terminal more often where the command asks."""

from __future__ import annotations

import io

import pytest

from ledger.progress import tenths


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _shown(
    monkeypatch: pytest.MonkeyPatch,
    stream: io.StringIO,
    calls: list[int],
    total: int = 40,
    terminal_every: int | None = 1,
) -> list[str]:
    """The lines a printer of ``done`` entries of ``total`` shows on ``stream`` for ``calls``."""
    monkeypatch.setattr("sys.stderr", stream)
    progress = tenths("replayed", "entries", terminal_every=terminal_every)
    for done in calls:
        progress(done, total)
    return stream.getvalue().splitlines()


def test_elsewhere_than_a_terminal_a_line_at_each_new_tenth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shown = _shown(monkeypatch, io.StringIO(), list(range(41)))
    assert shown[:2] == ["replayed 0 of 40 entries (0%)", "replayed 4 of 40 entries (10%)"]
    assert shown[-1] == "replayed 40 of 40 entries (100%)" and len(shown) == 11


def test_on_a_terminal_a_line_at_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _shown(monkeypatch, Terminal(), [1, 2]) == [
        "replayed 1 of 40 entries (2%)",
        "replayed 2 of 40 entries (5%)",
    ]


def test_on_a_terminal_at_every_multiple_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _shown(monkeypatch, Terminal(), [1, 2, 10, 11, 20, 101], 1000, terminal_every=10)
    assert [line.split()[1] for line in shown] == ["1", "10", "20", "101"]  # 101: a new tenth


def test_on_a_terminal_tenths_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _shown(monkeypatch, Terminal(), [1, 2, 10, 101], 1000, terminal_every=None)
    assert [line.split()[1] for line in shown] == ["1", "101"]


def test_done_beyond_the_total_is_shown_as_the_total(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _shown(monkeypatch, io.StringIO(), [45]) == ["replayed 40 of 40 entries (100%)"]


def test_an_empty_total_is_shown_without_dividing_by_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _shown(monkeypatch, io.StringIO(), [0], 0) == ["replayed 0 of 0 entries (0%)"]
