"""The home page at ``/`` over the real app, on the demo ledger and on an empty one, SQLite and
PostgreSQL.

A newcomer runs ``make run`` and opens ``/``: a page in Italian or English that says what the
ledger is, shows the log's origin and size (the same as ``/healthz``), lists the passports with
links that open their consumer pages and the assessed companies with links to their company
pages, and never shows a restricted field: lots and delivery notes stay out of it.
"""

from __future__ import annotations

import json
import re
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from api.demo_story import BAGS, BRAND, DOUBLE_SPEND, FLANNEL, JACKETS, SCARVES, TWILL, WOOL_MILL
from api.operator import load_operator
from api.routes import home
from ledger.store.ledger import LedgerStore
from tests.integration.api_support import (
    Api,
    assert_problem,
    get_json,
    operator_at_head,
    running_api,
    seed_demo_database,
    store_of,
)

pytestmark = pytest.mark.integration

PIECES = {*SCARVES, *JACKETS, *BAGS}
LOT_OR_NOTE = re.compile(r"urn:spola:lot:[\w.:-]+|DDT-[A-Z]{2}-\d+")
EXTERNAL = re.compile(
    r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import""",
    re.I,
)


class Page(HTMLParser):
    """The links of a page, and the text of each element that carries an ``id``."""

    VOID = frozenset({"meta", "link", "br", "img", "input", "hr"})

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[str] = []
        self.by_id: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        if tag in self.VOID:
            return
        self._open.append((tag, found.get("id")))
        if found.get("id"):
            self.by_id[str(found["id"])] = ""

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        for _, element in self._open:
            if element:
                self.by_id[element] += data


def home_page(api: Api, lang: str | None = None, **headers: str) -> httpx.Response:
    """GET / (in ``lang``, if given) and insist on a 200 HTML page."""
    params = {} if lang is None else {"lang": lang}
    response: httpx.Response = api.client.get("/", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response


def english(api: Api) -> str:
    return home_page(api, "en").text


def test_home_page_speaks_italian_by_default_and_english_when_asked(demo: Api) -> None:
    italian = home_page(demo).text
    assert '<html lang="it">' in italian and "Passaporti emessi" in italian
    for answer in (
        demo.client.get("/", params={"lang": "en"}),
        home_page(demo, **{"Accept-Language": "en-GB,en;q=0.9,it;q=0.5"}),
    ):
        assert answer.status_code == 200
        assert '<html lang="en">' in answer.text
        assert "Passports issued" in answer.text and "Passaporti emessi" not in answer.text
    # ?lang= wins over Accept-Language; an unknown language falls back to Italian.
    chosen = demo.client.get("/", params={"lang": "it"}, headers={"Accept-Language": "en"})
    assert '<html lang="it">' in chosen.text
    assert '<html lang="it">' in demo.client.get("/", params={"lang": "klingon"}).text
    assert home_page(demo).headers["vary"] == "Accept-Language"


def test_head_answers_like_get_and_other_methods_are_refused(demo: Api) -> None:
    head = demo.client.head("/")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "text/html; charset=utf-8"
    for method in ("POST", "PUT", "DELETE"):
        # A client asking for JSON: a browser is refused a page's method with a page.
        refused = demo.client.request(method, "/", headers={"Accept": "application/json"})
        assert_problem(refused, 405, "method-not-allowed")
        assert refused.headers["allow"] == "GET, HEAD"


def test_every_passport_link_opens_its_consumer_page(demo: Api) -> None:
    page = Page(english(demo))
    pieces = [link for link in page.links if link.startswith("/01/")]
    assert {link.removesuffix("?lang=en") for link in pieces} == PIECES
    listed = get_json(demo, "/v1/passports")["passports"]
    assert page.by_id["passports-total"].strip() == f"{len(listed)} in all"
    for link in pieces:
        consumer = demo.client.get(link)
        assert consumer.status_code == 200, link
        assert consumer.headers["content-type"].startswith("text/html")
        assert '<html lang="en">' in consumer.text


def test_every_company_link_opens_its_company_page_and_every_other_link_answers(
    demo: Api,
) -> None:
    page = Page(english(demo))
    companies = [link for link in page.links if link.startswith("/companies/")]
    # The brand assessed itself twice, the wool mill once; no one else signed an assessment.
    assert companies == [f"/companies/{WOOL_MILL}?lang=en", f"/companies/{BRAND}?lang=en"]
    for link in companies:
        answer = demo.client.get(link)
        assert answer.status_code == 200, link
        assert answer.headers["content-type"].startswith("text/html")
    others = [link for link in page.links if not link.startswith(("/01/", "/companies/"))]
    for link in ("/v1/log/checkpoint", "/v1/log/key", "/directory?lang=en", "/docs"):
        assert link in others
    for link in others:
        if link.startswith("#"):
            continue  # the skip link, to the page's own main
        target = link if link.startswith("/") else "/" + link  # the language switch: ?lang=
        assert demo.client.get(target).status_code == 200, link


def test_the_tree_size_and_origin_shown_are_the_logs(demo: Api) -> None:
    page = Page(home_page(demo).text)
    health = get_json(demo, "/healthz")
    assert int(page.by_id["tree-size"]) == health["tree_size"] > 100
    assert page.by_id["origin"] == health["origin"]


def test_the_page_says_how_many_when_it_shows_only_the_first(
    demo: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(home, "SHOWN_PASSPORTS", 3)
    page = Page(english(demo))
    assert len([link for link in page.links if link.startswith("/01/")]) == 3
    assert page.by_id["passports-total"].strip() == f"{len(PIECES)} in all"
    assert "/v1/passports" in page.links
    monkeypatch.setattr(home, "SHOWN_PASSPORTS", 50)
    _grow(demo, "urn:spola:actor:sartoria-nuova")  # the facts are kept until the log grows
    page = Page(english(demo))
    assert len([link for link in page.links if link.startswith("/01/")]) == len(PIECES)
    assert page.by_id["passports-total"].strip() == f"{len(PIECES)} in all"
    assert "/v1/passports" not in page.links  # every one is shown: no pointer to the list


def _grow(api: Api, actor: str) -> None:
    envelope = operator_at_head(store_of(api), api.settings.home).register(actor)
    response = api.client.post(
        "/v1/entries", content=envelope.to_bytes(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text


def test_the_facts_are_gathered_once_per_tree_size(
    demo: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A public page must not cost hundreds of reads a request: the facts are kept for the
    # log's size, and gathered again once it grows.
    gathered = []
    real = home.home_facts

    def counting(store: LedgerStore) -> home.Home:
        gathered.append(store.tree_size())
        return real(store)

    monkeypatch.setattr(home, "home_facts", counting)
    for _ in range(3):
        home_page(demo)
    assert len(gathered) == 1
    _grow(demo, "urn:spola:actor:laboratorio-nuovo")
    page = Page(home_page(demo).text)
    assert gathered == [gathered[0], gathered[0] + 1]
    assert int(page.by_id["tree-size"]) == get_json(demo, "/healthz")["tree_size"]


def test_an_empty_ledger_renders_and_says_no_passport_was_issued(
    database_url: str, tmp_path: Path
) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        page = Page(english(api))
        assert page.by_id["no-passports"] == "No passport has been issued on this ledger yet."
        assert page.by_id["no-companies"] == "No company has signed a self-assessment yet."
        assert not [link for link in page.links if link.startswith(("/01/", "/companies/"))]
        assert int(page.by_id["tree-size"]) == api.tree_size() == 1
        italian = Page(home_page(api).text)
        assert italian.by_id["no-passports"].startswith("Nessun passaporto")


def test_no_restricted_field_value_appears_on_the_home_page(demo: Api) -> None:
    operator = store_of(demo).create_token(tier="operator", actor=None)[1]
    restricted = {DOUBLE_SPEND, FLANNEL, TWILL}
    for piece in PIECES:
        full = get_json(demo, f"/v1/passports{piece}", Authorization=f"Bearer {operator}")
        restricted.update(LOT_OR_NOTE.findall(json.dumps(full)))
    assert len(restricted) > 10
    for lang in ("it", "en"):
        page = home_page(demo, lang).text
        assert not LOT_OR_NOTE.search(page), LOT_OR_NOTE.search(page)
        assert not [value for value in restricted if value in page]
        assert "restricted" not in page


def test_the_page_has_no_script_and_fetches_nothing_from_another_host(demo: Api) -> None:
    for lang in ("it", "en"):
        page = home_page(demo, lang).text
        assert "<script" not in page.lower()
        assert not EXTERNAL.search(page), EXTERNAL.search(page)
        assert "@font-face" not in page


def test_an_entry_appended_while_the_facts_are_read_is_shown_on_the_next_request(
    demo: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The facts are kept for the tree size they were read at: an entry appended while they
    # are read (after the passports, before the size) must not be taken as already in them,
    # or the page would miss it until the log grows again.
    store = store_of(demo)
    real_passports = LedgerStore.passports
    appended: list[int] = []

    def passports_then_an_append(self: LedgerStore, **kwargs: object) -> object:
        rows = real_passports(self, **kwargs)  # type: ignore[arg-type]
        if not appended:
            operator = operator_at_head(self, demo.settings.home)
            appended.append(self.append([operator.register("urn:spola:actor:in-corsa")])[0].index)
        return rows

    monkeypatch.setattr(LedgerStore, "passports", passports_then_an_append)
    home_page(demo)
    gathered: list[int] = []
    real_facts = home.home_facts

    def counting(store: LedgerStore) -> home.Home:
        gathered.append(store.tree_size())
        return real_facts(store)

    monkeypatch.setattr(home, "home_facts", counting)
    page = Page(home_page(demo).text)
    assert gathered == [appended[0] + 1]  # read again: the first facts predate the append
    assert int(page.by_id["tree-size"]) == store.tree_size()


def _snapshot(source: Path, target: Path) -> str:
    """A copy of the SQLite ledger at ``source`` as it stands (a replica at that point): its URL."""
    with sqlite3.connect(source) as reading, sqlite3.connect(target) as writing:
        reading.backup(writing)
    return f"sqlite:///{target}"


def test_with_a_replica_behind_the_primary_the_facts_follow_the_replica(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The facts are read from the replica: kept under the primary's size, older facts would be
    # taken as current, and kept until the next append even once the replica had caught up.
    primary, home_dir = tmp_path / "primary.db", tmp_path / "home"
    seed_demo_database(f"sqlite:///{primary}", home_dir)
    operator = load_operator(home_dir)
    behind = _snapshot(primary, tmp_path / "behind.db")
    store = LedgerStore.open(
        f"sqlite:///{primary}", operator=operator.key, origin=operator.origin, read_url=behind
    )
    gathered: list[int] = []
    real = home.home_facts

    def counting(store: LedgerStore) -> home.Home:
        facts = real(store)
        gathered.append(facts.tree_size)
        return facts

    monkeypatch.setattr(home, "home_facts", counting)
    latest = home._Latest()
    try:
        store.append([operator_at_head(store, home_dir).register("urn:spola:actor:appena-nata")])
        size = store.tree_size()
        assert latest.get(store).tree_size == size - 1  # what the replica holds, not more
        caught_up = _snapshot(primary, tmp_path / "caught-up.db")
    finally:
        store.close()
    store = LedgerStore.open(
        f"sqlite:///{primary}", operator=operator.key, origin=operator.origin, read_url=caught_up
    )
    try:
        assert latest.get(store).tree_size == size
        assert gathered == [size - 1, size]
    finally:
        store.close()


README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_demo_link_of_the_readme_answers_and_the_double_spend_is_where_it_says(
    demo: Api,
) -> None:
    # A newcomer runs `make run` and follows the README's links on the fresh demo ledger.
    text = README.read_text(encoding="utf-8")
    links = sorted(set(re.findall(r"http://127\.0\.0\.1:8000(/[^\s<>`'\")]*)", text)))
    assert len(links) > 10
    for link in links:
        assert demo.client.get(link).status_code == 200, link
    (verdict,) = [link for link in links if link.endswith("/verdict")]
    answer = get_json(demo, verdict)
    assert answer["applied"] is False, answer
    assert answer["violation"]["rule"] == "balance.insufficient"
    index = verdict.split("/")[-2]
    assert f"entry {index} on a fresh database" in " ".join(text.split())


def test_the_directory_linked_from_the_home_page_shows_a_facility_without_a_region(
    database_url: str, tmp_path: Path
) -> None:
    # `region` is optional in a facility; the search and the profile page must still render.
    bottega = {"id": "f1", "name": "Bottega <b>&amp;</b>", "town": "Cantù", "country": "IT",
               "lat": "45.74", "lon": "9.13"}  # fmt: skip
    with running_api(database_url, tmp_path / "home") as api:
        api.enrol("senza-regione", name="Senza Regione", facilities=[bottega])
        directory = next(link for link in Page(english(api)).links if link.startswith("/dir"))
        search = api.client.get(directory, params={"near": "45.7,9.1"})
        assert search.status_code == 200, search.text
        (profile,) = [link for link in Page(search.text).links if "senza-regione" in link]
        for lang in ("it", "en"):
            page = api.client.get(profile, params={"lang": lang})
            assert page.status_code == 200, page.text
            assert "Bottega &lt;b&gt;&amp;amp;&lt;/b&gt;, Cantù" in page.text
