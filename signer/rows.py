"""Events to sign from a file: CSV or JSON rows into payload fields, each row labelled.

- JSON: a list of objects (or ``{"events": [...]}``), each the event's own fields, as in
  docs/formats.md; ``type`` may be left out.
- CSV: cells separated by commas, or semicolons as a spreadsheet set up for Italian writes
  them; a header row naming payload fields; nested fields take dotted names (``quantity.value``,
  ``quantity.unit``), list members an index (``inputs.0.lot``, ``inputs.0.quantity.value``).
  Empty cells are left out. Cells are text, except the few fields the schemas type otherwise
  (``accepted``, ``zdhc_mrsl_compliant``: true/false; ``workers``, ``women``: integers).

Every row becomes a ``Row`` labelled with its place in the file; the client validates it
against the ledger's schemas, so errors name the row and the field.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Final

from signer.client import Row
from signer.errors import RowError

MAX_FILE_BYTES: Final = 64 * 1024 * 1024
MAX_ROWS: Final = 100_000
MAX_DEPTH: Final = 16  # the deepest payload field, inputs.0.quantity.value, is 4 levels down
_BOOLEANS: Final = frozenset({"accepted", "zdhc_mrsl_compliant"})
_INTEGERS: Final = frozenset({"workers", "women"})


def read_rows(path: Path, kind: str) -> list[Row]:
    """The rows of a ``.json`` or ``.csv`` file, each of event type ``kind``."""
    try:
        with path.open("rb") as source:  # a pipe may never end: read one byte past the limit
            data = source.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise RowError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise RowError(f"{path} is over {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RowError(f"{path} is not UTF-8 text") from None
    rows = _json_rows(text) if path.suffix.lower() == ".json" else _csv_rows(text)
    if not rows:
        raise RowError(f"{path} holds no rows")
    if len(rows) > MAX_ROWS:
        raise RowError(f"{path} holds {len(rows)} rows, over {MAX_ROWS}")
    return [_typed(row, kind) for row in rows]


def _typed(row: Row, kind: str) -> Row:
    given = row.fields.get("type", kind)
    if given != kind:
        raise RowError(f"{row.label}: type: {given!r} in a file of {kind} events")
    return Row(label=row.label, fields={**row.fields, "type": kind})


def _json_rows(text: str) -> list[Row]:
    try:
        data = json.loads(text, parse_float=str)  # no floats: decimals stay exact strings
    except ValueError as exc:
        raise RowError(f"not JSON: {exc}") from None
    except RecursionError:
        raise RowError(f"not JSON: nested deeper than {MAX_DEPTH} levels") from None
    if isinstance(data, dict) and set(data) == {"events"}:
        data = data["events"]
    if not isinstance(data, list):
        raise RowError('a JSON file holds a list of events, or {"events": [...]}')
    rows = []
    for number, fields in enumerate(data, start=1):
        if not isinstance(fields, dict):
            raise RowError(f"event {number}: must be a JSON object")
        label = f"event {number}"
        rows.append(Row(label=label, fields=_decimals(fields, "", label, 1)))
    return rows


def _decimals(value: Any, key: str, label: str, depth: int) -> Any:
    """JSON numbers as exact decimal strings, whole ones too (``120`` → ``"120"``), but for the
    schemas' whole-number fields (``workers``, ``women``)."""
    if depth > MAX_DEPTH:
        raise RowError(f"{label}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        return {name: _decimals(item, name, label, depth + 1) for name, item in value.items()}
    if isinstance(value, list):
        return [_decimals(item, key, label, depth + 1) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and key not in _INTEGERS:
        return str(value)
    return value


def _csv_rows(text: str) -> list[Row]:
    # A spreadsheet set up for Italian (decimal comma) saves CSV with semicolons between cells.
    header = text.partition("\n")[0]
    delimiter = ";" if ";" in header and "," not in header else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = []
    try:
        for record in reader:
            label = f"row {reader.line_num}"
            if None in record:
                raise RowError(f"{label}: more cells than the header has columns")
            cells = {name.strip(): value for name, value in record.items() if value}
            rows.append(Row(label=label, fields=nest(cells, label)))
    except csv.Error as exc:
        # The line the parser stopped at: ``reader.line_num`` is still the last good row's.
        raise RowError(f"row {reader.reader.line_num}: not CSV: {exc}") from None
    return rows


def nest(cells: dict[str, str], label: str) -> dict[str, Any]:
    """Dotted names into nested objects and lists: ``{"a.0.b": "x"}`` → ``{"a": [{"b": "x"}]}``."""
    root: dict[str, Any] = {}
    for name, value in cells.items():
        parts = name.split(".")
        if not all(parts):
            raise RowError(f"{label}: column {name!r} has an empty part")
        if len(parts) > MAX_DEPTH:
            raise RowError(f"{label}: column {name[:64]!r}… nests deeper than {MAX_DEPTH} levels")
        node = root
        for depth, part in enumerate(parts[:-1], 1):
            node = _child(node, part, ".".join(parts[:depth]), label)
        _set(node, parts[-1], _cell(parts[-1], value, label, name), name, label)
    nested: dict[str, Any] = _lists(root)
    return nested


def _plain_and_nested(plain: str, label: str) -> RowError:
    return RowError(
        f"{label}: column {plain!r} holds a plain value, and other columns nest under it "
        f"({plain + '.…'!r}): keep one or the other"
    )


def _child(node: dict[str, Any], part: str, prefix: str, label: str) -> dict[str, Any]:
    existing = node.setdefault(part, {})
    if not isinstance(existing, dict):
        raise _plain_and_nested(prefix, label)
    return existing


def _set(node: dict[str, Any], part: str, value: Any, name: str, label: str) -> None:
    if isinstance(node.get(part), dict):
        raise _plain_and_nested(name, label)
    if part in node:
        raise RowError(f"{label}: column {name!r} is given twice")
    node[part] = value


def _lists(node: Any) -> Any:
    """Objects whose keys are all 0..n-1 become lists (CSV ``inputs.0.lot`` columns)."""
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdecimal() for key in converted):  # "²" is a digit, no number
        indices = sorted(int(key) for key in converted)
        if indices == list(range(len(indices))):
            return [converted[str(i)] for i in indices]
    return converted


def _cell(field: str, value: str, label: str, name: str) -> Any:
    value = value.strip()
    if field in _BOOLEANS:
        if value.lower() not in ("true", "false"):
            raise RowError(f"{label}: {name}: must be true or false, not {value!r}")
        return value.lower() == "true"
    if field in _INTEGERS:
        if not value.isdecimal():
            raise RowError(f"{label}: {name}: must be a whole number, not {value!r}")
        return int(value)
    return value
