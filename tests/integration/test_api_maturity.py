"""Company maturity over real HTTP on the demo ledger, SQLite and PostgreSQL.

The brand assessed itself in June and November, the wool mill once citing its RWS certificate:
self-declared answers count half, ledger evidence and valid certificates in full, the history
shows the progress, and the company page draws its chart with no script and no other host.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from api.demo_story import BRAND, WOOL_MILL
from tests.integration.api_support import Api, assert_problem, running_api, store_of, urn

pytestmark = pytest.mark.integration

EXTERNAL = re.compile(
    r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import""",
    re.I,
)


def maturity(api: Api, slug: str) -> dict[str, Any]:
    response = api.client.get(f"/v1/actors/{urn(slug)}/maturity")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def question(doc: dict[str, Any], qid: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        q for d in doc["dimensions"] for q in d["questions"] if q["id"] == qid
    ]
    assert len(found) == 1
    return found[0]


def test_self_declared_answer_counts_half_and_ledger_evidence_in_full(demo: Api) -> None:
    doc = maturity(demo, BRAND)
    conduct = question(doc, "so-1")  # a code of conduct: no ledger metric can show it
    assert (conduct["answer"], conduct["basis"], conduct["credit"]) == (
        "yes",
        "self-declared",
        "0.5",
    )
    # Every piece the brand received is traced and settled by a signed receipt.
    assert doc["evidence"]["traceability_coverage"]["value"] == "1"
    assert doc["evidence"]["signed_receipts_share"]["value"] == "1"
    assert question(doc, "tr-3")["basis"] == "metric" and question(doc, "tr-3")["credit"] == "1"
    assert doc["evidence"]["signed_receipts_share"]["entries"]
    assert doc["assessment"]["date"] == "2026-11-15"
    assert doc["overall"] == sorted(d["level"] for d in doc["dimensions"])[2]


def test_an_answer_citing_a_valid_certificate_counts_in_full(demo: Api) -> None:
    doc = maturity(demo, WOOL_MILL)
    assert question(doc, "ma-4")["basis"] == "certificate"
    assert question(doc, "ma-4")["credit"] == "1"
    assert question(doc, "so-3")["basis"] == "self-declared"
    assert question(doc, "so-3")["credit"] == "0.25"
    assert doc["evidence"]["local_share_italy"]["value"] == "1"
    assert doc["evidence"]["local_share_lombardy"]["value"] == "0"  # Biella is in Piedmont


def test_history_shows_progress_and_the_roadmap_is_ranked(demo: Api) -> None:
    doc = maturity(demo, BRAND)
    june, november = doc["history"]
    assert (june["date"], november["date"]) == ("2026-06-01", "2026-11-15")
    assert november["index"] == doc["assessment"]["index"] > june["index"]
    assert all(november["levels"][k] >= v for k, v in june["levels"].items())
    assert november["levels"]["traceability"] > june["levels"]["traceability"]
    assert doc["roadmap"], "a brand below level 5 somewhere has next steps"
    for step in doc["roadmap"]:
        priorities = [float(i["priority"]) for i in step["items"]]
        assert priorities == sorted(priorities, reverse=True)
        assert all(i["level"] <= step["next_level"] and i["action"]["en"] for i in step["items"])


def test_company_without_assessment_is_scored_from_evidence_alone(demo: Api) -> None:
    doc = maturity(demo, "atelier-brera")
    assert doc["assessment"] is None and doc["history"] == []
    assert doc["evidence"]["social_data_coverage"]["value"] == "1"
    assert question(doc, "so-2")["basis"] == "metric"


def test_company_page_draws_the_chart_without_script_or_other_hosts(demo: Api) -> None:
    page = demo.client.get(f"/companies/{BRAND}", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and 'class="pygal-chart"' in html
    assert "Maison Navigli" in html and "Next steps" in html and "Assessment history" in html
    assert "<script" not in html.lower()
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    italian = demo.client.get(f"/companies/{BRAND}?lang=it")
    assert "Prossimi passi" in italian.text and 'lang="it"' in italian.text


def test_the_latest_assessments_read_agrees_with_every_maturity_document(demo: Api) -> None:
    # The home page lists assessed companies from this one read an actor, not from the
    # maturity document's evidence; both must name the same latest assessment.
    store = store_of(demo)
    companies = [a for a in store.actors(offset=0, limit=200) if "operator" not in a.roles]
    slugs = [a.id.removeprefix("urn:spola:actor:") for a in companies]
    latest = store.latest_assessments([urn(slug) for slug in slugs])
    assert {urn(BRAND), urn(WOOL_MILL)} <= set(latest)
    for slug in slugs:
        assessment = maturity(demo, slug)["assessment"]
        event = latest.get(urn(slug))
        assert (None if event is None else event.date) == (
            None if assessment is None else assessment["date"]
        ), slug


def test_assessment_with_an_unknown_question_is_refused(database_url: str, tmp_path: Path) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        terminal = api.enrol("sartoria-nuova", name="Sartoria Nuova")
        fields: dict[str, Any] = {"type": "assessment", "model": "2026.1", "date": "2026-01-05",
                                  "answers": [{"question": "tr-42", "answer": "yes"}]}  # fmt: skip
        assert_problem(api.post(terminal.sign_unchecked(fields)), 422, "format", "tr-42")
        fields["answers"] = [{"question": "tr-1", "answer": "yes"}] * 2
        assert_problem(api.post(terminal.sign_unchecked(fields)), 422, "format", "twice")
        fields["answers"] = [{"question": "tr-1", "answer": "yes"}]
        (receipt,) = api.accept(terminal.sign(fields))
        doc = maturity(api, "sartoria-nuova")
    assert doc["assessment"]["index"] == receipt["index"]
    assert question(doc, "tr-1")["basis"] == "self-declared"
    assert question(doc, "tr-1")["credit"] == "0.5"
    # tr-1 (weight 2) at half credit is exactly band 1 (0.5) of traceability's level-1 weight.
    levels = {d["id"]: d["level"] for d in doc["dimensions"]}
    assert levels.pop("traceability") == 1 and set(levels.values()) == {0}
    assert doc["overall"] == 0


def test_maturity_of_an_unknown_actor_is_not_found(demo: Api) -> None:
    response = demo.client.get("/v1/actors/urn:spola:actor:nobody/maturity")
    assert_problem(response, 404, "not-found", "nobody")
