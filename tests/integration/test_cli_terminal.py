"""The workshop's commands: ``spola key``, ``spola sign``, ``spola sync``, ``spola queue``.

Contract (spola/cli.py): success exits 0; an error is one line ``spola: …`` on stderr and exit
1. The passphrase comes from ``SPOLA_KEY_PASSPHRASE``; neither it nor the seed is ever printed.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from signer import cli as signer_cli
from signer.keyfile import read_key_info
from signer.queue import Queue
from spola.cli import main
from tests.integration.api_support import route_terminal_to, running_api
from tests.supply import facility
from tests.terminal import TERMINAL_PASSPHRASE
from tests.terminal import run_cli as run

pytestmark = pytest.mark.integration

ACTOR = "urn:spola:actor:setificio-cli"
LOT = "urn:spola:lot:setificio-cli"
PASSPHRASE = TERMINAL_PASSPHRASE


def key_id(out: str) -> str:
    return next(line.split()[1] for line in out.splitlines() if line.startswith("key_id"))


def test_generate_show_and_wrong_passphrase(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "key", "generate", "--actor", ACTOR)
    assert code == 0 and PASSPHRASE not in out
    assert stat.S_IMODE((home / "terminal.key").stat().st_mode) == 0o600
    code, shown, _ = run(capsys, "key", "show")
    assert code == 0 and key_id(shown) == key_id(out) and ACTOR in shown

    env = {**os.environ, "SPOLA_KEY_PASSPHRASE": "wrong"}
    done = subprocess.run(
        [sys.executable, "-m", "spola", "sign", "material", "--lot", f"{LOT}:A"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"spola: cannot unlock {home / 'terminal.key'}: wrong passphrase, or the file was altered"
    ]


def test_sign_names_the_bad_row_and_field(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "key", "generate", "--actor", ACTOR)
    rows = tmp_path / "lots.csv"
    rows.write_text(
        "lot,material,quantity.value,quantity.unit,facility\n"
        f"{LOT}:A1,silk-mulberry,10,KGM,main\n"
        f"{LOT}:A2,silk-mulberry,ten,KGM,main\n"
    )
    code, _, err = run(capsys, "sign", "material", "--from", str(rows))
    assert code == 1
    assert err.startswith("spola: row 3: material event: quantity.value")
    assert len(err.strip().splitlines()) == 1


def test_signing_a_long_file_shows_its_progress_on_stderr(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 100,000 rows take half a minute to check and sign: the workshop sees how far it got,
    # checking first (nothing is queued until every row is good), then signing; a line at
    # every tenth when stderr is no terminal; stdout keeps the one result line.
    run(capsys, "key", "generate", "--actor", ACTOR)
    monkeypatch.setattr(signer_cli, "PROGRESS_FROM", 5)
    rows = tmp_path / "lots.csv"
    lines = [f"{LOT}:P{i},silk-mulberry,10,KGM,main" for i in range(20)]
    rows.write_text("lot,material,quantity.value,quantity.unit,facility\n" + "\n".join(lines))
    code, out, err = run(capsys, "sign", "material", "--from", str(rows))
    assert code == 0, err
    assert out == "signed and queued 20 material event(s); 20 waiting to sync\n"
    shown = err.splitlines()
    checked = [line for line in shown if line.startswith("checked ")]
    signed = [line for line in shown if line.startswith("signed ")]
    assert checked[-1] == "checked 20 of 20 rows (100%)" and len(checked) == 11, shown
    assert signed[-1] == "signed 20 of 20 rows (100%)" and len(signed) == 11, shown
    assert shown == checked + signed  # all checked before the first is signed
    # Below the threshold, nothing but the result.
    monkeypatch.setattr(signer_cli, "PROGRESS_FROM", 21)
    rows.write_text(
        "lot,material,quantity.value,quantity.unit,facility\n"
        + f"{LOT}:Q1,silk-mulberry,1,KGM,main"
    )
    code, _, err = run(capsys, "sign", "material", "--from", str(rows))
    assert code == 0 and err == ""


def test_sign_sync_queue_and_rotate_through_the_api(
    home: Path,
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, generated, _ = run(capsys, "key", "generate", "--actor", ACTOR)
    with running_api(database_url, tmp_path / "ledger-home") as api:
        info = read_key_info(home / "terminal.key")
        api.accept(
            [
                api.operator.register(ACTOR, facilities=[facility()]),
                api.operator.sign(
                    {
                        "type": "key",
                        "op": "add",
                        "subject": ACTOR,
                        "key_id": info.key_id,
                        "public_key": info.public_key.to_base64(),
                    }
                ),
            ]
        )

        route_terminal_to(api, monkeypatch)
        material = ["sign", "material", "--material", "silk-mulberry", "--facility", "main"]
        assert run(capsys, *material, "--lot", f"{LOT}:A1", "--quantity", "120.5")[0] == 0
        code, out, _ = run(
            capsys, "sign", "handover", "--id", "DDT-1", "--to", "urn:spola:actor:operator",
            "--lot", f"{LOT}:A1=500KGM", "--mode", "road",
        )  # fmt: skip
        assert code == 0 and "2 waiting to sync" in out
        code, out, err = run(capsys, "queue")
        assert code == 0 and "2 pending" in out

        code, out, err = run(capsys, "sync", "--ledger", "http://ledger.test")
        assert code == 0, err
        assert "sent 2: 1 applied, 1 not applied" in out and "synced 2 of 2" in err
        code, out, _ = run(capsys, "queue", "--state", "not_applied")
        assert "handover" in out and "1 applied, 1 not applied" in out

        code, rotated, _ = run(capsys, "key", "rotate", "--reason", "new terminal")
        assert code == 0 and key_id(rotated) != key_id(generated)
        assert run(capsys, *material, "--lot", f"{LOT}:A2", "--quantity", "5")[0] == 0
        code, out, err = run(capsys, "sync", "--ledger", "http://ledger.test")
        assert code == 0, err
        assert "sent 2: 2 applied" in out
        code, shown, _ = run(capsys, "key", "show")
        assert key_id(shown) == key_id(rotated)

        alarmed = Queue(home / "queue.db")
        alarmed.halt("the ledger signed two different trees of 9 entries: a fork")
        alarmed.close()
        code, _, err = run(capsys, "sync", "--ledger", "http://ledger.test")
        assert code == 1 and err.startswith("spola: sync is halted by an alarm: the ledger")
        assert len(err.strip().splitlines()) == 1
        assert "SYNC HALTED by an alarm" in run(capsys, "queue")[1]
        code, out, err = run(
            capsys, "sync", "--ledger", "http://ledger.test", "--resume-after-alarm"
        )
        assert code == 0, err
        assert "alarm lifted" in out and "SYNC HALTED" not in run(capsys, "queue")[1]


class PowerCut(BaseException):
    """The terminal loses power here."""


def test_rotation_cut_short_after_it_was_queued_is_finished_by_the_next_command(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "key", "generate", "--actor", ACTOR)
    material = ["sign", "material", "--material", "silk-mulberry", "--facility", "main"]
    assert run(capsys, *material, "--lot", f"{LOT}:A1", "--quantity", "1")[0] == 0

    def cut(*_: object) -> None:
        raise PowerCut

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", cut)  # the rotation is queued, the files not yet renamed
        with pytest.raises(PowerCut):
            run(capsys, "key", "rotate")
    new = read_key_info(home / "terminal.key.new").key_id

    assert run(capsys, *material, "--lot", f"{LOT}:A2", "--quantity", "1")[0] == 0
    assert key_id(run(capsys, "key", "show")[1]) == new
    queue = Queue(home / "queue.db")
    try:
        events = queue.events()
    finally:
        queue.close()
    assert [(e.type, e.seq) for e in events] == [("material", 0), ("key", 1), ("material", 0)]
    assert events[-1].key_id == new  # not the old key, signing after its own rotation


def test_a_queue_held_by_another_command_is_one_line_not_a_traceback(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "key", "generate", "--actor", ACTOR)
    monkeypatch.setattr("signer.queue.BUSY_TIMEOUT", 0.05)
    other = Queue(home / "queue.db")  # a long `spola sign --from` in another window
    try:
        with other.transaction():
            code, _, err = run(
                capsys, "sign", "material", "--lot", f"{LOT}:A1", "--material", "silk-mulberry",
                "--quantity", "1", "--facility", "main",
            )  # fmt: skip
    finally:
        other.close()
    assert code == 1
    assert err.startswith(f"spola: the queue {home / 'queue.db'} is busy")
    assert len(err.strip().splitlines()) == 1


def test_a_mistyped_ledger_address_is_one_line(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "sync", "--ledger", "http://[::1")
    assert code == 1
    assert err.startswith("spola: --ledger 'http://[::1' is not a URL")
    assert len(err.strip().splitlines()) == 1


def test_end_of_input_at_the_passphrase_prompt_is_one_line(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPOLA_KEY_PASSPHRASE")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)

    def ctrl_d(prompt: str) -> str:
        raise EOFError

    monkeypatch.setattr("getpass.getpass", ctrl_d)
    code, _, err = run(capsys, "key", "generate", "--actor", ACTOR)
    assert (code, err) == (1, "spola: no passphrase given\n")
    assert not (home / "terminal.key").exists()


def test_a_damaged_queue_file_is_one_line_not_a_traceback(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "key", "generate", "--actor", ACTOR)
    rows = home.parent / "lots.csv"
    rows.write_text(
        "lot,material,quantity.value,quantity.unit,facility\n"
        + "".join(f"{LOT}:B{i},silk-mulberry,{i + 1},KGM,main\n" for i in range(400))
    )
    assert run(capsys, "sign", "material", "--from", str(rows))[0] == 0
    with (home / "queue.db").open("r+b") as damaged:  # a bad disk sector, mid-file
        damaged.seek(4096 * 20)
        damaged.write(b"\xff" * 4096 * 3)
    code, _, err = run(capsys, "queue")
    assert code == 1
    assert err.startswith(f"spola: the queue {home / 'queue.db'} cannot be used: database disk")
    assert len(err.strip().splitlines()) == 1


def test_rotation_cut_short_before_it_was_queued_leaves_the_old_key_and_can_be_rerun(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, generated, _ = run(capsys, "key", "generate", "--actor", ACTOR)
    half_written = home / "terminal.key.new"  # the power went while the new key was written
    half_written.write_text('{"format": "spola terminal key v1", "act')
    half_written.chmod(0o600)
    material = ["sign", "material", "--material", "silk-mulberry", "--facility", "main"]
    assert run(capsys, *material, "--lot", f"{LOT}:A1", "--quantity", "1")[0] == 0
    assert key_id(run(capsys, "key", "show")[1]) == key_id(generated)
    code, rotated, err = run(capsys, "key", "rotate")
    assert code == 0, err
    assert key_id(run(capsys, "key", "show")[1]) == key_id(rotated) != key_id(generated)


def test_a_negative_timeout_is_one_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sync", "--ledger", "https://ledger.test", "--timeout", "-1")
    assert (code, err) == (1, "spola: --timeout -1.0: must be a number of seconds above 0\n")


@pytest.mark.parametrize(
    "flag", [["queue", "--limit"], ["sync", "--ledger", "http://x", "--batch"]]
)
def test_a_count_sqlite_cannot_hold_is_a_usage_error(
    home: Path, capsys: pytest.CaptureFixture[str], flag: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*flag, str(10**20)])
    assert exited.value.code == 2
    assert "is not between 1 and 1000000000" in capsys.readouterr().err
