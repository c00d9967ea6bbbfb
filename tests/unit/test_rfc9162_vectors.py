"""The transparency-dev/merkle RFC 9162 probes: every happy path verifies, every tampering fails.

The probes are read in place from the shared folder (``../shared/vectors/rfc9162``, or
``$SPOLA_SHARED_DIR/vectors/rfc9162``); see ``vectors/README.md`` there for the fields.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import ProofError, ProofShapeError, RootMismatchError
from ledger.proofs import (
    check_consistency,
    check_inclusion,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)


def _vectors_dir() -> Path:
    shared = os.environ.get("SPOLA_SHARED_DIR")
    if shared:
        return Path(shared) / "vectors" / "rfc9162"
    return Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "rfc9162"


VECTORS = _vectors_dir()
INCLUSION = sorted((VECTORS / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((VECTORS / "consistency").rglob("*.json"))

# transparency-dev/merkle's probe generator writes 98 inclusion probes (5 proofs with their
# tamperings, 12 static, 4 single-entry) and 98 consistency probes (5 proofs with their
# tamperings, 14 static). The shared README's "197" counts the folder's LICENSE file as well.
EXPECTED_INCLUSION = 98
EXPECTED_CONSISTENCY = 98


def _probe_id(path: Path) -> str:
    return path.relative_to(VECTORS).as_posix()


def _load(path: Path) -> dict[str, Any]:
    probe: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return probe


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _proof(probe: dict[str, Any]) -> list[bytes]:
    return [_b64(h) for h in probe["proof"] or []]  # Go writes an empty proof as null


def test_every_probe_is_collected() -> None:
    assert (len(INCLUSION), len(CONSISTENCY)) == (EXPECTED_INCLUSION, EXPECTED_CONSISTENCY)
    assert len(INCLUSION) + len(CONSISTENCY) == 196


@pytest.mark.parametrize("path", INCLUSION, ids=_probe_id)
def test_inclusion_probe(path: Path) -> None:
    probe = _load(path)
    args = (
        _b64(probe["leafHash"]),
        probe["leafIdx"],
        probe["treeSize"],
        _proof(probe),
        _b64(probe["root"]),
    )
    if probe["wantErr"]:
        with pytest.raises(ProofError) as refused:
            verify_inclusion(*args)
        assert type(refused.value) in (ProofShapeError, RootMismatchError), probe["desc"]
        assert isinstance(check_inclusion(*args), type(refused.value))
    else:
        verify_inclusion(*args)
        assert check_inclusion(*args) is None
        assert root_from_inclusion_proof(*args[:4]) == args[4]


@pytest.mark.parametrize("path", CONSISTENCY, ids=_probe_id)
def test_consistency_probe(path: Path) -> None:
    probe = _load(path)
    args = (
        probe["size1"],
        probe["size2"],
        _proof(probe),
        _b64(probe["root1"]),
        _b64(probe["root2"]),
    )
    if probe["wantErr"]:
        with pytest.raises(ProofError) as refused:
            verify_consistency(*args)
        assert type(refused.value) in (ProofShapeError, RootMismatchError), probe["desc"]
        assert isinstance(check_consistency(*args), type(refused.value))
    else:
        verify_consistency(*args)
        assert check_consistency(*args) is None
