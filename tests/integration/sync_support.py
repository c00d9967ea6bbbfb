"""A workshop terminal syncing to a running ledger that refuses it: the actors, the key fields
and the steps the refusal tests share (tests/integration/conftest.py builds the fixtures
`actor_key` and `start_ledger` from them)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import pytest

from signer.keyfile import read_key_info
from tests.integration.api_support import Api
from tests.terminal import run_cli as run

ACTOR = "urn:spola:actor:tessitura-consiglio"
OTHER = "urn:spola:actor:filatura-altrove"
LOT = "urn:spola:lot:tessitura-consiglio"
SYNC = ("sync", "--ledger", "http://ledger.test")


def sign_lot(capsys: pytest.CaptureFixture[str], lot: str) -> None:
    code, _, err = run(
        capsys, "sign", "material", "--lot", f"{LOT}:{lot}", "--material", "silk-mulberry",
        "--quantity", "10", "--facility", "main",
    )  # fmt: skip
    assert code == 0, err


def terminal_key(home: Path) -> dict[str, str]:
    """The key fields of the terminal's current key (`spola key show`)."""
    info = read_key_info(home / "terminal.key")
    return {"key_id": info.key_id, "public_key": info.public_key.to_base64()}


def add_key(api: Api, subject: str, key: dict[str, str]) -> list[dict[str, object]]:
    return api.accept(api.operator.sign({"type": "key", "op": "add", "subject": subject, **key}))


def blocked(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """Sync (refused: exit 1, one line) and the queue's SYNC BLOCKED line: both advices."""
    code, _, err = run(capsys, *SYNC)
    assert code == 1
    (line,) = [line for line in err.splitlines() if line.startswith("spola:")]
    code, out, _ = run(capsys, "queue")
    assert code == 0
    (shown,) = [line for line in out.splitlines() if line.startswith("SYNC BLOCKED")]
    return line, shown


def advice(sync_line: str) -> str:
    """What `spola sync` advises: its line after the refusal it quotes."""
    return sync_line.split("); ", 1)[1]


class StartLedger(Protocol):
    """`with start_ledger(*actors, key_of=None) as api`: see the fixture in conftest.py."""

    def __call__(self, *actors: str, key_of: str | None = None) -> AbstractContextManager[Api]: ...
