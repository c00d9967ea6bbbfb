"""Rows to sign from CSV, JSON and flags: checked against the ledger's schemas, errors naming
the row and the field, and all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.events import parse_event
from ledger.keys import PrivateKey
from ledger.supply import MaterialEvent, ProcessEvent
from signer.client import LedgerClient, Row
from signer.errors import RowError
from signer.keyfile import TerminalKey
from signer.queue import PENDING, Queue
from signer.rows import nest, read_rows

ACTOR = "urn:spola:actor:filanda-test"
LOT = "urn:spola:lot:filanda-test"


@pytest.fixture
def terminal(tmp_path: Path) -> LedgerClient:
    key = TerminalKey(actor=ACTOR, key=PrivateKey.generate())
    return LedgerClient(transport=None, key=key, queue=Queue(tmp_path / "queue.db"))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_dotted_csv_columns_nest_into_objects_and_lists() -> None:
    cells = {"a.0.b": "x", "a.1.b": "y", "q.value": "1", "q.unit": "KGM", "accepted": "true"}
    assert nest(cells, "row 2") == {
        "a": [{"b": "x"}, {"b": "y"}],
        "q": {"value": "1", "unit": "KGM"},
        "accepted": True,
    }


def test_csv_material_rows_are_signed_chained_and_queued(
    tmp_path: Path, terminal: LedgerClient
) -> None:
    csv_text = (
        "lot,material,quantity.value,quantity.unit,facility,feedstock.renewable\n"
        f"{LOT}:A1,silk-mulberry,120.5,KGM,main,1\n"
        f"{LOT}:A2,silk-mulberry,80,KGM,main,\n"
    )
    rows = read_rows(write(tmp_path, "lots.csv", csv_text), "material")
    terminal.sign(rows)
    queued = terminal.queue.events()
    events = [parse_event(e.envelope().payload) for e in queued]
    assert all(isinstance(e, MaterialEvent) for e in events)
    assert [(e.seq, e.actor) for e in events] == [(0, ACTOR), (1, ACTOR)]
    assert events[0].quantity.value == "120.5" and events[0].feedstock.renewable == "1"


def test_csv_process_with_indexed_inputs(tmp_path: Path, terminal: LedgerClient) -> None:
    csv_text = (
        "process,facility,inputs.0.lot,inputs.0.quantity.value,inputs.0.quantity.unit,"
        "outputs.0.lot,outputs.0.material,outputs.0.quantity.value,outputs.0.quantity.unit\n"
        f"dyeing,main,{LOT}:A1,60,KGM,{LOT}:D1,silk-mulberry,58,KGM\n"
    )
    terminal.sign(read_rows(write(tmp_path, "p.csv", csv_text), "process"))
    (event,) = [parse_event(e.envelope().payload) for e in terminal.queue.events()]
    assert isinstance(event, ProcessEvent) and event.outputs[0].lot == f"{LOT}:D1"


def test_bad_csv_row_is_named_by_line_and_field_and_nothing_is_queued(
    tmp_path: Path, terminal: LedgerClient
) -> None:
    csv_text = (
        "lot,material,quantity.value,quantity.unit,facility\n"
        f"{LOT}:A1,silk-mulberry,120.5,KGM,main\n"
        f"{LOT}:A2,silk-mulberry,80,KGX,main\n"
    )
    rows = read_rows(write(tmp_path, "lots.csv", csv_text), "material")
    with pytest.raises(RowError, match=r"^row 3: material event: quantity"):
        terminal.sign(rows)
    assert terminal.queue.counts()[PENDING] == 0


def test_json_rows_keep_decimals_exact(tmp_path: Path, terminal: LedgerClient) -> None:
    rows = [
        {
            "lot": f"{LOT}:J1",
            "material": "silk-mulberry",
            "quantity": {"value": 0.1, "unit": "KGM"},
            "facility": "main",
        }
    ]
    terminal.sign(read_rows(write(tmp_path, "lots.json", json.dumps(rows)), "material"))
    (event,) = [parse_event(e.envelope().payload) for e in terminal.queue.events()]
    assert isinstance(event, MaterialEvent) and event.quantity.value == "0.1"


def test_json_event_of_another_type_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "x.json", json.dumps({"events": [{"type": "handover"}]}))
    with pytest.raises(RowError, match="event 1: type: 'handover' in a file of material"):
        read_rows(path, "material")


def test_rows_may_not_set_the_feed(terminal: LedgerClient) -> None:
    row = Row(label="row 2", fields={"type": "material", "seq": 7})
    with pytest.raises(RowError, match="row 2: seq: set by the terminal"):
        terminal.sign([row])


def test_missing_field_is_named(terminal: LedgerClient) -> None:
    row = Row(label="--flags", fields={"type": "material", "lot": f"{LOT}:A1"})
    with pytest.raises(RowError, match=r"--flags: material event: material: Field required"):
        terminal.validate([row])


def test_bad_boolean_cell_is_named(tmp_path: Path) -> None:
    csv_text = "handover.sender,handover.id,accepted\nurn:spola:actor:x,D-1,maybe\n"
    with pytest.raises(RowError, match="row 2: accepted: must be true or false"):
        read_rows(write(tmp_path, "r.csv", csv_text), "receipt")


def test_json_whole_numbers_are_decimals_too(tmp_path: Path, terminal: LedgerClient) -> None:
    rows = [  # as an ERP exports them: 60, not "60"; workers stay a whole number
        {
            "process": "dyeing",
            "facility": "main",
            "inputs": [{"lot": f"{LOT}:A1", "quantity": {"value": 60, "unit": "KGM"}}],
            "outputs": [
                {
                    "lot": f"{LOT}:D1",
                    "material": "silk-mulberry",
                    "quantity": {"value": 58, "unit": "KGM"},
                }
            ],
            "workforce": {"workers": 12, "women": 7, "hours": 96},
        }
    ]
    terminal.sign(read_rows(write(tmp_path, "runs.json", json.dumps(rows)), "process"))
    (event,) = [parse_event(e.envelope().payload) for e in terminal.queue.events()]
    assert isinstance(event, ProcessEvent) and event.inputs[0].quantity.value == "60"
    assert event.workforce is not None and event.workforce.workers == 12


def test_json_nested_too_deep_is_one_row_error(tmp_path: Path) -> None:
    with pytest.raises(RowError, match="nested deeper"):
        read_rows(write(tmp_path, "deep.json", "[" * 100_000), "material")
    deep = json.dumps([{"lot": f"{LOT}:A1", "x": json.loads("[" * 500 + "]" * 500)}])
    with pytest.raises(RowError, match="event 1: nested deeper"):
        read_rows(write(tmp_path, "deep2.json", deep), "material")


def test_csv_column_nested_too_deep_is_one_row_error(tmp_path: Path) -> None:
    csv_text = "a." * 60_000 + "b\nx\n"
    with pytest.raises(RowError, match=r"row 2: column .* nests deeper"):
        read_rows(write(tmp_path, "deep.csv", csv_text), "material")


def test_csv_saved_with_semicolons_is_read(tmp_path: Path, terminal: LedgerClient) -> None:
    csv_text = (  # Excel set up for Italian separates cells with ";" (the comma is decimal)
        "lot;material;quantity.value;quantity.unit;facility\r\n"
        f"{LOT}:S1;silk-mulberry;120.5;KGM;main\r\n"
    )
    terminal.sign(read_rows(write(tmp_path, "lotti.csv", csv_text), "material"))
    (event,) = [parse_event(e.envelope().payload) for e in terminal.queue.events()]
    assert isinstance(event, MaterialEvent) and event.lot == f"{LOT}:S1"


def test_a_superscript_digit_is_no_whole_number() -> None:
    with pytest.raises(RowError, match=r"workforce\.workers: must be a whole number"):
        nest({"workforce.workers": "²"}, "row 2")  # "²".isdigit(), but int("²") fails
    assert nest({"inputs.².lot": "x"}, "row 2") == {"inputs": {"²": {"lot": "x"}}}


@pytest.mark.parametrize(
    "cells", [{"quantity.value": "1", "quantity": "2"}, {"quantity": "2", "quantity.value": "1"}]
)
def test_a_plain_column_beside_columns_nested_under_it_is_named_as_such(
    cells: dict[str, str],
) -> None:
    # 'quantity' and 'quantity.value' side by side were said to be "given twice".
    with pytest.raises(RowError) as refused:
        nest(cells, "row 2")
    assert str(refused.value) == (
        "row 2: column 'quantity' holds a plain value, and other columns nest under it "
        "('quantity.…'): keep one or the other"
    )
