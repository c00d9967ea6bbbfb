"""Company maturity, reviewed over real HTTP on SQLite and PostgreSQL: who may read it.

A company that leaves ``maturity`` out of its profile's ``public_figures`` has its maturity
hidden from the public in the directory; the maturity API and the company page must keep it
hidden too (docs/directory.md, Access tiers), while its own brand token and the operator see it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest

from api.demo_story import BRAND
from tests.integration.api_support import Api, assert_problem, running_api, store_of, urn
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

SLUG = "conceria-riva"
ASSESSMENT: dict[str, Any] = {
    "type": "assessment", "model": "2026.1", "date": "2026-01-05",
    "answers": [{"question": "tr-1", "answer": "yes", "note": "elenco fornitori 2026"}],
}  # fmt: skip


def _assessed(api: Api, slug: str = SLUG, name: str = "Conceria Riva") -> Terminal:
    # Brand tokens are issued to actors with the brand role: both companies also sell.
    terminal = api.enrol(slug, name=name, roles=["supplier", "brand"])
    api.accept(terminal.sign(ASSESSMENT))
    return terminal


def _bearer(api: Api, tier: Literal["brand", "operator"], actor: str | None) -> dict[str, str]:
    secret = store_of(api).create_token(tier=tier, actor=actor)[1]
    return {"Authorization": f"Bearer {secret}"}


def test_hidden_maturity_is_not_served_to_the_public(database_url: str, tmp_path: Path) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        terminal = _assessed(api)
        api.accept(terminal.sign({"type": "profile", "public_figures": ["partners"]}))
        _assessed(api, "setificio-lario", "Setificio Lario")
        path = f"/v1/actors/{urn(SLUG)}/maturity"
        # The directory hides it from the public...
        public_profile = api.client.get(f"/v1/directory/{urn(SLUG)}").json()
        assert "maturity" not in public_profile["track_record"]["figures"]
        # ...and so do the maturity document and the company page.
        assert_problem(api.client.get(path), 404, "not-found", urn(SLUG), "maturity")
        page = api.client.get(f"/companies/{SLUG}", headers={"Accept": "application/json"})
        assert_problem(page, 404, "not-found", urn(SLUG))
        assert api.client.head(f"/companies/{SLUG}").status_code == 404
        # The home page lists the assessed companies whose pages it may link to.
        home = api.client.get("/").text
        assert "/companies/setificio-lario" in home and f"/companies/{SLUG}" not in home
        # Another company's brand token is the public here.
        stranger = _bearer(api, "brand", urn("setificio-lario"))
        assert api.client.get(path, headers=stranger).status_code == 404
        # The company itself and the operator still read it.
        own = api.client.get(path, headers=_bearer(api, "brand", urn(SLUG)))
        assert own.status_code == 200 and own.json()["assessment"] is not None
        operator = _bearer(api, "operator", None)
        page = api.client.get(f"/companies/{SLUG}?lang=en", headers=operator)
        assert page.status_code == 200 and "Conceria Riva" in page.text
        # What a token reveals must not be kept by a shared cache for the next caller.
        for response in (own, page):
            assert "authorization" in response.headers["vary"].lower()
            assert "private" in response.headers["cache-control"]
        # A company that publishes it (the default) is public as before.
        assert api.client.get(f"/v1/actors/{urn('setificio-lario')}/maturity").status_code == 200
        assert api.client.get("/companies/setificio-lario").status_code == 200


def test_publishing_maturity_again_makes_it_public(database_url: str, tmp_path: Path) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        terminal = _assessed(api)
        api.accept(terminal.sign({"type": "profile", "public_figures": ["partners"]}))
        path = f"/v1/actors/{urn(SLUG)}/maturity"
        assert api.client.get(path).status_code == 404
        api.accept(terminal.sign({"type": "profile", "public_figures": ["partners", "maturity"]}))
        assert api.client.get(path).status_code == 200


def test_history_columns_name_each_dimension_readably(database_url: str, tmp_path: Path) -> None:
    # Four letters of "Modelli di business circolari" read "Mode.", of "Inclusione sociale"
    # "Incl.": the columns use the chart's short names, in the page's language.
    with running_api(database_url, tmp_path / "home") as api:
        _assessed(api)
        italian = api.client.get(f"/companies/{SLUG}?lang=it").text
        english = api.client.get(f"/companies/{SLUG}", headers={"Accept-Language": "en"}).text
    history = italian[italian.index('id="history"') :]
    for short in ("Tracciabilità", "Materiali", "Circolarità", "Ambiente", "Sociale", "Digitale"):
        assert f">{short}</th>" in history, short
    assert "Mode.</th>" not in history and "Incl.</th>" not in history
    history = english[english.index('id="history"') :]
    assert ">Circularity</th>" in history and ">Environment</th>" in history


def test_roadmap_says_what_is_missing_for_an_answer_already_given(
    database_url: str, tmp_path: Path
) -> None:
    # tr-1 answered "yes" without a certificate counts half: the roadmap keeps it, but must say
    # it is declared and what is missing (evidence), not ask the tannery to start it again.
    with running_api(database_url, tmp_path / "home") as api:
        _assessed(api)
        doc = api.client.get(f"/v1/actors/{urn(SLUG)}/maturity").json()
        page = api.client.get(f"/companies/{SLUG}?lang=en").text
    (traceability,) = [r for r in doc["roadmap"] if r["dimension"] == "traceability"]
    items = {i["question"]: i for i in traceability["items"]}
    assert (items["tr-1"]["answer"], items["tr-1"]["basis"]) == ("yes", "self-declared")
    assert (items["tr-2"]["answer"], items["tr-2"]["basis"]) == (None, "unanswered")
    roadmap = page[page.index('id="roadmap"') : page.index('id="evidence"')]
    declared = roadmap[roadmap.index("Register every direct supplier") :]
    declared = declared[: declared.index("</li>")]
    assert "Already declared" in declared and "certificate" in declared
    started = roadmap[roadmap.index("Sign the receipt of every delivery") :]
    assert "Already declared" not in started[: started.index("</li>")]


def test_each_passport_version_is_scored_once_per_document(
    demo: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The history re-scores every assessment (up to 24) with the evidence of its time; the
    # passports behind mean_product_mci mostly stand at the same version across them. Reading
    # and scoring each again per assessment makes one anonymous GET cost 25 times the passports.
    store = store_of(demo)
    read: list[tuple[str, int | None]] = []
    real = store.passport_facts

    def counted(subject: str, version: int | None = None) -> Any:
        read.append((subject, version))
        return real(subject, version)

    monkeypatch.setattr(store, "passport_facts", counted)
    doc = demo.client.get(f"/v1/actors/{urn(BRAND)}/maturity").json()
    assert len(doc["history"]) >= 2 and read
    assert len(read) == len(set(read)), sorted(read)


def test_the_italian_page_explains_a_missing_metric_in_italian(
    database_url: str, tmp_path: Path
) -> None:
    # A tannery with no passport yet: the evidence table says so in the page's language.
    with running_api(database_url, tmp_path / "home") as api:
        _assessed(api)
        italian = api.client.get(f"/companies/{SLUG}?lang=it").text
        english = api.client.get(f"/companies/{SLUG}?lang=en").text
    evidence = italian[italian.index('id="evidence"') :]
    assert "no passport issued" not in evidence
    assert "Nessun passaporto emesso" in evidence
    assert "No passport issued by this company yet" in english[english.index('id="evidence"') :]


def test_the_operator_is_no_company_and_has_no_maturity_page(
    database_url: str, tmp_path: Path
) -> None:
    """The ledger's operator signs registry events, not a company's work: its maturity would
    be a level-0 page about nothing (it was served, for anyone to find at /companies/operator)."""
    with running_api(database_url, tmp_path / "home") as api:
        response = api.client.get(f"/v1/actors/{urn('operator')}/maturity")
        assert_problem(response, 404, "not-found", "operator")
        page = api.client.get("/companies/operator", headers={"Accept": "text/html"})
        assert page.status_code == 404
        assert "Overall level" not in page.text and "Livello complessivo" not in page.text


def test_the_history_keeps_the_first_assessment_when_it_is_cut(
    database_url: str, tmp_path: Path
) -> None:
    # The history holds at most 24 assessments; cut to the latest 24, its oldest was taken by
    # the page for "First assessment" and the radar compared today with, say, the third.
    # It keeps the first ever and the latest 23.
    with running_api(database_url, tmp_path / "home") as api:
        terminal = api.enrol(SLUG, name="Conceria Riva", roles=["supplier", "brand"])
        days = [f"2026-01-{day:02d}" for day in range(1, 27)]  # 26 assessments
        receipts = api.accept([terminal.sign({**ASSESSMENT, "date": day}) for day in days])
        doc = api.client.get(f"/v1/actors/{urn(SLUG)}/maturity").json()
        page = api.client.get(f"/companies/{SLUG}?lang=en").text
    indexes = [r["index"] for r in receipts]
    assert [h["date"] for h in doc["history"]] == [days[0], *days[-23:]]
    assert [h["index"] for h in doc["history"]] == [indexes[0], *indexes[-23:]]
    assert "First assessment (1 Jan 2026)" in page and "First assessment (3 Jan 2026)" not in page
