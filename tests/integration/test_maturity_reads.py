"""A company's maturity reads the company once per request, on SQLite and PostgreSQL.

The JSON document and the company page need the company's registration (its name, whether it
is the operator) and what its latest profile makes public (whether the caller may see the
maturity at all). Both come from one statement, in the same snapshot as the evidence: the
visibility check and the facts used to read the company apart, in two statements on two
connections. Statements are counted as the store sends them (``before_cursor_execute``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from api.demo_story import BRAND
from ledger.assessment import model_document, model_history
from ledger.store.ledger import LedgerStore
from scoring.maturity import MaturityModel, load_model
from tests.integration.api_support import Api, running_api, store_of, urn
from tests.integration.test_store_indexes import Statement, sent

pytestmark = pytest.mark.integration

SLUG = "conceria-riva"
ASSESSMENT: dict[str, Any] = {
    "type": "assessment", "model": "2026.1", "date": "2026-01-05",
    "answers": [{"question": "tr-1", "answer": "yes"}],
}  # fmt: skip


@contextmanager
def statements(store: LedgerStore) -> Iterator[list[Statement]]:
    """What the store sends meanwhile, on its engine and its read engine."""
    with sent(store.engine) as found, sent(store.read_engine) as replica:
        yield found
    if store.read_engine is not store.engine:
        found += replica


def _values(params: Any) -> list[Any]:
    if isinstance(params, dict):
        return list(params.values())
    return list(params or ())


def company_reads(found: list[Statement], actor_id: str) -> list[str]:
    """The statements that read the company itself: its registration (``actors``) or its
    latest profile (its ``profile`` entries)."""
    return [
        sql
        for sql, params in found
        if actor_id in _values(params) and ("FROM actors" in sql or "profile" in _values(params))
    ]


@pytest.mark.parametrize("path", ["/v1/actors/{urn}/maturity", "/companies/{slug}"])
def test_a_maturity_request_reads_the_company_once(demo: Api, path: str) -> None:
    store = store_of(demo)
    with statements(store) as found:
        response = demo.client.get(path.format(urn=urn(BRAND), slug=BRAND))
    assert response.status_code == 200, response.text
    assert len(company_reads(found, urn(BRAND))) == 1, company_reads(found, urn(BRAND))


def test_a_hidden_maturity_is_told_from_the_same_read(database_url: str, tmp_path: Path) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        terminal = api.enrol(SLUG, name="Conceria Riva", roles=["supplier", "brand"])
        api.accept(terminal.sign(ASSESSMENT))
        api.accept(terminal.sign({"type": "profile", "public_figures": ["partners"]}))
        store = store_of(api)
        with statements(store) as found:
            hidden = api.client.get(f"/v1/actors/{urn(SLUG)}/maturity")
        assert hidden.status_code == 404 and "maturity public" in hidden.text
        assert len(company_reads(found, urn(SLUG))) == 1
        # Refused before its evidence is read: the company and the log's size at most.
        assert len(found) <= 2, [sql for sql, _ in found]
        secret = store.create_token(tier="brand", actor=urn(SLUG))[1]
        with statements(store) as found:
            own = api.client.get(
                f"/companies/{SLUG}", headers={"Authorization": f"Bearer {secret}"}
            )
        assert own.status_code == 200 and "Conceria Riva" in own.text
        assert len(company_reads(found, urn(SLUG))) == 1
        # Publishing it again is seen by the next request.
        api.accept(terminal.sign({"type": "profile", "public_figures": ["maturity"]}))
        assert api.client.get(f"/v1/actors/{urn(SLUG)}/maturity").status_code == 200


def test_the_questions_a_version_asked_are_the_core_histories() -> None:
    """Scoring answers "which questions did version v ask" with the core's ``ModelHistory``,
    built from the model it is given (tests give it models of their own), not with logic of
    its own that could drift from what admission checks."""
    model = load_model()
    assert model.history == model_history()
    data = copy.deepcopy(model_document())
    data["version"] = "2026.2"
    data["versions"].append({"version": "2026.2", "note": "moves tr-1 on"})
    data["questions"][0]["since"] = "2026.2"
    moved = MaturityModel.model_validate(data)
    assert moved.history.versions == ("2026.1", "2026.2")
    first = data["questions"][0]["id"]
    assert first not in moved.asked_in("2026.1") and first in moved.asked_in("2026.2")
    assert moved.asked_in("2026.1") == moved.history.questions("2026.1")
    assert model_history().questions("2026.1") == {q.id for q in model.questions}
