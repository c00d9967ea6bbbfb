"""A log holding an assessment against the previous maturity model version, on a real database,
after the packaged model moves on: it still rebuilds, replays and scores, on both engines.

The model is moved by hand (``tests.unit.test_assessment_versions.use_model``): 2026.2 adds
tr-6. Admission then takes 2026.1 and 2026.2 assessments, each with its own version's questions,
and refuses one from a version newer than the installation's with a message that says so.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.routes.maturity import maturity_json
from ledger.assessment import NewerModelError
from ledger.bundle import SCOPE_ACTOR
from ledger.errors import FormatError, RefusedEnvelope
from ledger.store.bundle import export_partial_bundle
from ledger.store.ledger import LedgerStore
from tests.conftest import enrol
from tests.terminal import Terminal
from tests.unit.test_assessment_versions import (
    NEXT,
    PACKAGED,
    TRACEABILITY,
    forget_models,
    moved_on_model,
    use_model,
)
from verifier import UnusableInputError, verify_bundle

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def _assessment(model: str, *questions: str) -> dict[str, object]:
    answers = [{"question": q, "answer": "yes"} for q in questions]
    return {"type": "assessment", "model": model, "date": "2026-11-02", "answers": answers}


def traceability(document: dict[str, Any]) -> int:
    return next(d["level"] for d in document["dimensions"] if d["id"] == "traceability")


def _refusal(store: LedgerStore, terminal: Terminal, fields: dict[str, object]) -> FormatError:
    with pytest.raises(RefusedEnvelope) as refused:
        store.append([terminal.sign_unchecked(fields)])
    assert isinstance(refused.value.cause, FormatError)
    return refused.value.cause


def test_log_with_a_previous_version_assessment_rebuilds_after_the_model_moves_on(
    store: LedgerStore, operator: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = enrol(store, operator, "lanificio-biellese")
    (logged,) = store.append([terminal.sign(_assessment(PACKAGED, *TRACEABILITY))])
    assert logged.violation is None

    use_model(monkeypatch, moved_on_model())  # the next release: 2026.2 adds tr-6
    report = store.rebuild()
    assert report.equal, report.differences
    assert report.entries == store.tree_size()

    # A terminal that queued a 2026.1 assessment offline still gets it logged; a 2026.1
    # assessment may not answer tr-6, a 2026.2 one may.
    store.append([terminal.sign(_assessment(PACKAGED, "tr-1"))])
    refused = _refusal(store, terminal, _assessment(PACKAGED, "tr-1", "tr-6"))
    assert f"model {PACKAGED} has no question tr-6" in str(refused)
    (latest,) = store.append([terminal.sign(_assessment(NEXT, "tr-1", "tr-6"))])
    assert store.rebuild().equal

    # Every assessment is read back and scored against the current model.
    facts = store.maturity(terminal.actor)
    assert [r.event.model for r in facts.assessments] == [PACKAGED, PACKAGED, NEXT]
    document = maturity_json(facts)
    assert document["model"]["version"] == NEXT
    assert document["assessment"]["index"] == latest.index
    assert [h["model"] for h in document["history"]] == [PACKAGED, PACKAGED, NEXT]


def test_assessment_from_a_newer_model_is_refused_as_newer_than_the_installation(
    store: LedgerStore, operator: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = enrol(store, operator, "setificio-comasco")
    refused = _refusal(store, terminal, _assessment(NEXT, "tr-1"))
    assert isinstance(refused, NewerModelError)
    assert f"maturity model version {NEXT} is newer than this installation's ({PACKAGED})" in str(
        refused
    )
    # Once the installation is upgraded, the same terminal's assessment is taken.
    use_model(monkeypatch, moved_on_model())
    (receipt,) = store.append([terminal.sign(_assessment(NEXT, "tr-1"))])
    assert receipt.violation is None and store.rebuild().equal


def test_model_release_does_not_lower_the_level_of_an_earlier_version_assessment(
    store: LedgerStore, operator: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = enrol(store, operator, "tessitura-varesina")
    store.append([terminal.sign(_assessment(PACKAGED, *TRACEABILITY))])
    before = maturity_json(store.maturity(terminal.actor))
    use_model(monkeypatch, moved_on_model())  # 2026.2 adds tr-6 (level 2, weight 2)
    after = maturity_json(store.maturity(terminal.actor))
    assert traceability(before) == traceability(after) == 2
    assert after["history"][0]["levels"]["traceability"] == 2
    tr6 = next(q for d in after["dimensions"] for q in d["questions"] if q["id"] == "tr-6")
    assert (tr6["answer"], tr6["basis"]) == (None, "unanswered")


def test_actor_bundle_using_a_newer_model_is_unusable_by_an_older_verifier(
    store: LedgerStore, operator: Terminal, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The partial bundle of one company, exported by a ledger a release ahead, read by an
    auditor's older verifier: exit 2 naming the entry and the upgrade, not a finding."""
    use_model(monkeypatch, moved_on_model())
    terminal = enrol(store, operator, "filatura-comasca")
    (logged,) = store.append([terminal.sign(_assessment(NEXT, "tr-1", "tr-6"))])
    out = tmp_path / "actor.bundle"
    export_partial_bundle(store, out, scope=SCOPE_ACTOR, subject=terminal.actor)
    assert verify_bundle(io.BytesIO(out.read_bytes()), store.log_vkey, jobs=1).valid
    monkeypatch.undo()
    forget_models()
    want = f"entry {logged.index}: assessment event: model: maturity model version {NEXT} is newer"
    with pytest.raises(UnusableInputError, match=re.escape(want)):
        verify_bundle(io.BytesIO(out.read_bytes()), store.log_vkey, jobs=1)
