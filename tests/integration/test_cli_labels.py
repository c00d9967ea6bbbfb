"""``spola labels``: an A4 sheet whose every QR code decodes to a passport's URI."""

from __future__ import annotations

from pathlib import Path

import pypdfium2
import pytest
import zxingcpp

from api.demo_story import BAGS, JACKETS, SCARVES
from spola import labels
from spola.cli import main
from tests.integration.test_cli import Operator, _one_line_error

pytestmark = pytest.mark.integration

BASE = "https://id.maison-navigli.example"


def _codes(pdf: Path) -> list[str]:
    found: list[str] = []
    for page in pypdfium2.PdfDocument(pdf):
        image = page.render(scale=4).to_pil().convert("L")
        found += [r.text for r in zxingcpp.read_barcodes(image)]
    return found


@pytest.fixture
def seeded(tmp_path: Path, database_url: str) -> Operator:
    operator = Operator(tmp_path / "home", database_url, tmp_path, [])
    assert operator.spola("init").code == 0
    assert operator.spola("demo").code == 0
    return operator


def test_labels_print_every_passport_on_the_public_base_url(seeded: Operator) -> None:
    out = seeded.cwd / "labels.pdf"
    run = seeded.spola_with({"SPOLA_PUBLIC_BASE_URL": BASE}, "labels", "--out", str(out))
    assert run.code == 0, run
    assert run.stdout == f"7 labels for {BASE} written to {out}\n"
    assert sorted(_codes(out)) == sorted(BASE + p for p in [*SCARVES, *JACKETS, *BAGS])
    assert "SPOLA_PUBLIC_BASE_URL" not in run.stderr, run.stderr


def test_labels_for_chosen_pieces_only(seeded: Operator) -> None:
    out = seeded.cwd / "two.pdf"
    run = seeded.spola("labels", "--out", str(out), "--subject", BAGS[0], "--subject", BAGS[1])
    assert run.code == 0, run
    assert sorted(_codes(out)) == sorted("http://127.0.0.1:8000" + p for p in BAGS)
    # Printed on the default base URL: fine for a try, never for a real label; said on stderr.
    (warning,) = [line for line in run.stderr.splitlines() if "SPOLA_PUBLIC_BASE_URL" in line]
    assert warning.startswith("spola: these labels point at http://127.0.0.1:8000, this machine")


@pytest.mark.parametrize(
    ("base", "why"),
    [
        ("http://127.0.0.1:8000", "this machine's own address"),
        ("http://localhost:8000", "this machine's own address"),
        ("http://[::1]:8000", "this machine's own address"),
        ("http://0.0.0.0:8000", "this machine's own address"),
        ("http://spola.local", "this machine's own address"),
        ("https://192.168.1.20", "a private address"),
        ("http://10.0.0.5:8000", "a private address"),
        ("http://id.maison-navigli.example", "plain http"),
        (BASE, None),
        ("https://93.184.215.14", None),
    ],
)
def test_a_base_url_a_phone_cannot_reach_is_named(base: str, why: str | None) -> None:
    said = labels.unreachable(base)
    assert (said is None) if why is None else (said is not None and said.startswith(why)), said


def test_labels_for_an_unknown_piece_fail_in_one_line(seeded: Operator) -> None:
    out = seeded.cwd / "none.pdf"
    unknown = "/01/08000000002020/21/NOSUCHSERIAL"
    _one_line_error(seeded.spola("labels", "--out", str(out), "--subject", unknown), unknown)
    _one_line_error(
        seeded.spola("labels", "--out", str(out), "--subject", "/01/08000000002021/21/X"),
        "check digit",
    )
    assert not out.exists()


def test_labels_to_a_directory_or_a_missing_folder_fail_in_one_line(seeded: Operator) -> None:
    folder = seeded.cwd / "sheets"
    folder.mkdir()
    line = _one_line_error(seeded.spola("labels", "--out", str(folder)), str(folder), "directory")
    assert ".tmp" not in line  # the path the operator gave, not a temporary file beside it
    missing = seeded.cwd / "nowhere" / "labels.pdf"
    _one_line_error(seeded.spola("labels", "--out", str(missing)), "nowhere", "does not exist")
    assert list(folder.iterdir()) == [] and not missing.parent.exists()


@pytest.fixture
def in_process(seeded: Operator, monkeypatch: pytest.MonkeyPatch) -> Operator:
    """``seeded``, for ``main`` called in this process (to change the command's limits)."""
    monkeypatch.setenv("SPOLA_HOME", str(seeded.home))
    monkeypatch.setenv("SPOLA_DATABASE_URL", seeded.database_url)
    return seeded


def test_more_passports_than_a_sheet_holds_are_refused_not_cut(
    in_process: Operator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The demo's 7 passports against a limit of 3: printing the first 3 as if they were all
    # would leave 4 pieces without a label and say nothing.
    monkeypatch.setattr(labels, "MAX_LABELS", 3)
    out = in_process.cwd / "cut.pdf"
    assert main(["labels", "--out", str(out)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert (
        line == "spola: 7 passports are more than 3 labels in one file: choose them with --subject"
    )
    assert not out.exists()
    # Chosen ones are found wherever they sort among all the passports, not only in the first 3.
    last = sorted([*SCARVES, *JACKETS, *BAGS])[-1]
    assert main(["labels", "--out", str(out), "--subject", last, "--subject", last]) == 0
    assert _codes(out) == ["http://127.0.0.1:8000" + last] * 2


def test_a_long_sheet_shows_its_progress_on_stderr(
    in_process: Operator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # 10,000 labels take a minute or two (each QR code's mask is searched): the operator sees
    # how far it got, a line at every tenth when stderr is no terminal; stdout stays the result.
    monkeypatch.setattr(labels, "PROGRESS_FROM", 5)
    monkeypatch.setenv("SPOLA_PUBLIC_BASE_URL", BASE)  # no warning about the base URL
    out = in_process.cwd / "all.pdf"
    assert main(["labels", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"7 labels for {BASE} written to {out}\n"
    shown = captured.err.splitlines()
    assert shown[-1] == "drew 7 of 7 labels (100%)", shown
    percents = [int(line.rpartition("(")[2].rstrip("%)")) for line in shown]
    assert percents == sorted(percents) and len({p // 10 for p in percents}) == len(percents)
    assert all(line.startswith("drew ") and " of 7 labels (" in line for line in shown), shown
    # Below the threshold, nothing but the result.
    monkeypatch.setattr(labels, "PROGRESS_FROM", 8)
    assert main(["labels", "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("jobs", ["0", "-1", "17", "two"])
def test_labels_refuse_a_number_of_processes_out_of_range(seeded: Operator, jobs: str) -> None:
    run = seeded.spola("labels", "--out", str(seeded.cwd / "x.pdf"), "--jobs", jobs)
    assert run.code == 2
    assert "--jobs: must be a whole number of processes from 1 to 16" in run.stderr
    assert not (seeded.cwd / "x.pdf").exists()


def test_labels_with_several_processes_print_the_same_sheet(seeded: Operator) -> None:
    one, two = seeded.cwd / "one.pdf", seeded.cwd / "two.pdf"
    assert seeded.spola("labels", "--out", str(one), "--jobs", "1").code == 0
    assert seeded.spola("labels", "--out", str(two), "--jobs", "2").code == 0
    assert one.read_bytes() == two.read_bytes()
