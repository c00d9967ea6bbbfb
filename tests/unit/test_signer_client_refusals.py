"""The terminal's client refuses, in one clear error, what it cannot do: no test of the sync
path reaches these (a mutation check replaced each refusal by ``pass`` and nothing failed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.keys import PrivateKey
from signer.client import LedgerClient, Row
from signer.errors import QueueError, RowError, SignerError
from signer.keyfile import TerminalKey
from signer.queue import Queue
from tests.supply import material

ACTOR = "urn:spola:actor:filanda"


def _terminal(tmp_path: Path, key: TerminalKey | None) -> LedgerClient:
    return LedgerClient(transport=None, key=key, queue=Queue(tmp_path / "queue.db"))


def _key() -> TerminalKey:
    return TerminalKey(actor=ACTOR, key=PrivateKey.generate())


def _row(**fields: object) -> Row:
    return Row(label="row 7", fields=material("urn:spola:lot:filanda:L1") | fields)


def test_a_batch_size_under_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SignerError, match="batch size must be at least 1"):
        LedgerClient(transport=None, key=None, queue=Queue(tmp_path / "q.db"), batch_size=0)


def test_signing_without_an_unlocked_key_is_refused_and_queues_nothing(tmp_path: Path) -> None:
    terminal = _terminal(tmp_path, None)
    with pytest.raises(SignerError, match="no key: unlock the terminal's key file"):
        terminal.sign([_row()])
    assert terminal.queue.events() == []


@pytest.mark.parametrize("field", ["seq", "prev", "actor", "v"])
def test_a_row_setting_what_the_terminal_sets_is_refused_by_label(
    tmp_path: Path, field: str
) -> None:
    terminal = _terminal(tmp_path, _key())
    with pytest.raises(RowError, match=f"row 7: {field}: set by the terminal, not by the row"):
        terminal.sign([_row(**{field: 1})])
    assert terminal.queue.events() == []


def test_a_row_the_schema_refuses_is_named_by_its_label(tmp_path: Path) -> None:
    terminal = _terminal(tmp_path, _key())
    good = _row()
    bad = Row(label="row 8", fields=material("urn:spola:lot:filanda:L2") | {"quantity": 3.5})
    with pytest.raises(RowError, match=r"^row 8: "):
        terminal.sign([good, bad])
    assert terminal.queue.events() == []  # all or nothing


def test_syncing_an_offline_terminal_is_refused(tmp_path: Path) -> None:
    terminal = _terminal(tmp_path, _key())
    terminal.sign([_row()])
    with pytest.raises(SignerError, match="no ledger to sync with"):
        terminal.sync()
    assert len(terminal.queue.events()) == 1


def test_dropping_what_is_not_queued_is_refused(tmp_path: Path) -> None:
    terminal = _terminal(tmp_path, _key())
    with pytest.raises(QueueError, match="no queued event at position 5"):
        terminal.drop(5, {})
