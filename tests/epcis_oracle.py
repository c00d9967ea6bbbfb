"""The two oracles the EPCIS export is tested against, both dev-only dependencies.

- The EPCIS 2.0 JSON schema, read in place from the shared vectors folder
  (``../shared/vectors/epcis``, or ``$SPOLA_SHARED_DIR/vectors/epcis``), with its ``uri`` and
  ``date-time`` formats checked (``jsonschema[format-nongpl]``).
- GS1's reference implementation of the CBV 2.0 event hash (PyPI
  ``epcis-event-hash-generator``), fed the document as JSON, as any other party would.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from epcis_event_hash_generator import hash_generator, json_to_py


def vectors_dir() -> Path:
    shared = os.environ.get("SPOLA_SHARED_DIR")
    if shared:
        return Path(shared) / "vectors" / "epcis"
    return Path(__file__).resolve().parents[1].parent / "shared" / "vectors" / "epcis"


@cache
def _validator() -> jsonschema.Draft7Validator:
    schema = json.loads((vectors_dir() / "EPCIS-JSON-Schema.json").read_text(encoding="utf-8"))
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    assert {"uri", "date-time"} <= set(checker.checkers), "install jsonschema[format-nongpl]"
    return jsonschema.Draft7Validator(schema, format_checker=checker)


def schema_errors(document: dict[str, Any]) -> list[str]:
    """Every way ``document`` fails the EPCIS 2.0 JSON schema, as ``path: message`` lines."""
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in _validator().iter_errors(document)
    ]


def reference_prehashes(document: dict[str, Any]) -> list[str]:
    """The reference implementation's pre-hash strings, one per event of ``document``."""
    # It keeps the prefixes of every document it has read in a module global; start afresh.
    json_to_py._namespaces.clear()
    with warnings.catch_warnings():  # its context loader uses a deprecated importlib call
        warnings.simplefilter("ignore", DeprecationWarning)
        events = json_to_py.event_list_from_epcis_document_json(copy.deepcopy(document))
    prehashes: list[str] = hash_generator.derive_prehashes_from_events(events)
    # It logs and skips an event it cannot read: a shorter list is a failure, not a subset.
    assert len(prehashes) == len(document["epcisBody"]["eventList"]), "the reference skipped one"
    return prehashes


def reference_hashes(document: dict[str, Any]) -> list[str]:
    """The reference implementation's CBV 2.0 event hashes, one per event of ``document``."""
    hashes: list[str] = hash_generator.calculate_hashes_from_pre_hashes(
        reference_prehashes(document)
    )
    return hashes
