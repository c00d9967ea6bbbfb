"""The company page renders one maturity document: chart by pygal, no script, text escaped."""

from __future__ import annotations

import re
from decimal import Decimal

from api.routes.maturity import maturity_json
from ledger.assessment import AssessmentEvent
from ledger.canonical import canonical_bytes
from ledger.events import ActorEvent, parse_event
from ledger.store.maturity import AssessmentRecord, Evidence, MaturityFacts, Metric
from scoring.maturity import METRICS
from scoring.maturity_page import radar_svg, render_company

NAME = 'Atelier <script>alert("x")</script> & Figli'


def _actor() -> ActorEvent:
    event = parse_event(
        canonical_bytes({
            "v": 1, "type": "actor", "actor": "urn:spola:actor:operator", "seq": 1, "prev": None,
            "time": "2026-01-02T08:00:00Z", "op": "register", "id": "urn:spola:actor:atelier",
            "name": NAME, "roles": ["supplier"], "country": "IT",
        })
    )  # fmt: skip
    assert isinstance(event, ActorEvent)
    return event


def _assessment(day: str, answer: str) -> AssessmentEvent:
    event = parse_event(
        canonical_bytes({
            "v": 1, "type": "assessment", "actor": "urn:spola:actor:atelier", "seq": 0,
            "prev": None, "time": f"{day}T10:00:00Z", "model": "2026.1", "date": day,
            "answers": [{"question": q, "answer": answer} for q in ("tr-1", "tr-2", "so-1")],
        })
    )  # fmt: skip
    assert isinstance(event, AssessmentEvent)
    return event


def _evidence(upto: int, coverage: str | None) -> Evidence:
    metrics = {name: Metric(name, None, Decimal(0), Decimal(0), "kg", ()) for name in METRICS}
    if coverage is not None:
        value = Decimal(coverage)
        metrics["traceability_coverage"] = Metric(
            "traceability_coverage", value, value, Decimal(1), "kg", (upto,)
        )
    return Evidence(upto, metrics, (), ())


def _document() -> dict[str, object]:
    history = (
        AssessmentRecord(5, _assessment("2026-03-01", "partial"), _evidence(5, None)),
        AssessmentRecord(9, _assessment("2026-09-01", "yes"), _evidence(9, "0.9")),
    )
    return maturity_json(MaturityFacts(_actor(), _evidence(12, "0.9"), history))


def test_document_keeps_history_and_absolute_masses_out() -> None:
    doc = _document()
    assert [h["date"] for h in doc["history"]] == ["2026-03-01", "2026-09-01"]  # type: ignore[attr-defined]
    assert doc["assessment"] == {"index": 9, "date": "2026-09-01", "time": "2026-09-01T10:00:00Z"}
    coverage = doc["evidence"]["traceability_coverage"]  # type: ignore[index]
    assert coverage["value"] == "0.9" and coverage["numerator"] is None


def test_page_has_the_chart_no_script_and_the_name_escaped() -> None:
    html = render_company(_document(), lang="en")
    assert html.count('class="pygal-chart"') == 1
    assert "First assessment (1 Mar 2026)" in html  # the chart compares with the first
    assert "<script" not in html  # neither pygal's nor the company name's
    assert "Atelier &lt;script&gt;" in html
    assert not re.search(r"(?:src|href)=\"https?://|url\(|@import", html)
    assert render_company(_document(), lang="en") == html  # the same bytes every time


def test_page_speaks_italian() -> None:
    html = render_company(_document(), lang="it")
    assert 'lang="it"' in html and "Prossimi passi" in html and "Storico delle valutazioni" in html


def test_radar_is_pygal_svg_without_comments_or_scripts() -> None:
    svg = radar_svg(["a", "b", "c"], [("now", [1.0, 2.5, 5.0])])
    assert svg.startswith("<svg") and 'id="chart-maturity"' in svg
    assert "<!--" not in svg and "<script" not in svg
