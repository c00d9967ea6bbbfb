"""Progress of a large verification on stderr: a bar redrawn in place on a terminal, a line
at every tenth elsewhere, nothing for small bundles; whole and partial bundles alike."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ledger.bundle import Manifest
from tests.vectors.bundles.sealing import DATA, LOG_VKEY
from verifier import steps, verify_bundle
from verifier.cli import Progress, main


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _screen(text: str) -> list[str]:
    """What a terminal shows of ``text``: each line as its last redraw left it."""
    shown = []
    for line in text.split("\n"):
        cells: list[str] = []
        for part in line.split("\r"):  # back to the start, then overwrite
            cells[: len(part)] = part
        shown.append("".join(cells))
    return shown


def test_on_a_terminal_one_line_is_redrawn_with_bar_rate_and_time_left() -> None:
    stream, clock = Terminal(), Clock()
    progress = Progress(stream, clock)
    clock.now += 2.0
    progress(5_000, 20_000)
    assert _screen(stream.getvalue()) == [
        "[######..................]  25% 5,000 of 20,000 entries, 2,500/s, about 6 s left"
    ]
    clock.now += 6.0
    progress(20_000, 20_000)
    progress.close()
    assert stream.getvalue().count("\n") == 1 and stream.getvalue().endswith("\n")
    # The shorter last line wipes the longer one before it: no "left" lingers on screen.
    assert _screen(stream.getvalue())[0].rstrip() == (
        "[########################] 100% 20,000 of 20,000 entries, 2,500/s"
    )
    progress.close()
    assert stream.getvalue().count("\n") == 1  # a second close adds nothing


def test_elsewhere_a_line_at_every_tenth_and_nothing_redrawn() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    for done in range(0, 100_001, 2_500):
        progress(done, 100_000)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[0] == "verified 0 of 100,000 entries (0%)"
    assert lines[-1] == "verified 100,000 of 100,000 entries (100%)"
    assert len(lines) == 11


def test_small_bundles_show_no_progress() -> None:
    stream = Terminal()
    progress = Progress(stream)
    progress(9_999, Progress.MIN_ENTRIES - 1)
    progress.close()
    assert stream.getvalue() == ""


@pytest.mark.parametrize("name", ["valid", "valid_since", "valid_passport"])
def test_progress_counts_the_entries_of_whole_and_partial_bundles(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = DATA / f"{name}.bundle"
    monkeypatch.setattr(steps, "CHUNK", 3)
    calls: list[tuple[int, int]] = []
    data = path.read_bytes()
    manifest = Manifest.from_line(data.split(b"\n", 1)[0] + b"\n")
    report = verify_bundle(io.BytesIO(data), LOG_VKEY, jobs=1, progress=lambda *c: calls.append(c))
    assert report.valid, report.to_text()
    assert len(calls) >= 2
    assert calls[-1] == (manifest.entries, manifest.entries)
    assert [done for done, _ in calls] == sorted({done for done, _ in calls})


def test_the_command_ends_the_bar_before_the_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(Progress, "MIN_ENTRIES", 1)
    monkeypatch.setattr(steps, "CHUNK", 3)
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    bundle: Path = DATA / "valid.bundle"
    assert main([str(bundle), "--log-key", LOG_VKEY, "--jobs", "1"]) == 0
    shown = _screen(terminal.getvalue())
    assert shown[-1] == "" and "100%" in shown[0] and "\r" in terminal.getvalue()
    assert capsys.readouterr().out.startswith("bundle of ")


def test_lines_that_do_not_parse_count_as_progress_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(steps, "CHUNK", 3)
    data = (DATA / "valid.bundle").read_bytes()
    manifest = Manifest.from_line(data.split(b"\n", 1)[0] + b"\n")
    lines = data.split(b"\n")
    at = next(i for i, line in enumerate(lines) if b'"kind":"entry"' in line)
    lines[at + 2] = b'{"kind":"entry","broken":'  # an entry line that does not parse
    calls: list[tuple[int, int]] = []
    report = verify_bundle(
        io.BytesIO(b"\n".join(lines)), LOG_VKEY, jobs=1, progress=lambda *c: calls.append(c)
    )
    assert not report.valid
    assert calls[-1] == (manifest.entries, manifest.entries)
