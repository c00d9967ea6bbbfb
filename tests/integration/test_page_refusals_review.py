"""Refusals under review: pages a browser opened must not answer with a JSON problem.

1. The company page (``GET /companies/{slug}``) answered an unknown company, the ledger's
   operator and a company hiding its maturity with an English JSON 404 problem, and an overlong
   or ill-formed slug or an overlong ``lang`` with a JSON 400: a browser now gets a page in the
   reader's language with the page's cache headers, no more revealing than the JSON route (one
   wording for every company without a public page), and a client asking for JSON keeps the
   problem.
2. ``Accept: application/problem+json`` alone was not recognised as asking for JSON: such a
   client got the HTML pages of the passport page's and the profile page's refusals.
3. The directory profile page answered an actor id over 80 characters with FastAPI's JSON 400;
   it is the page's own 400 page now, as for its other refusals.
4. The company page took a parameter given twice (``?lang=it&lang=en``) and answered the last,
   where the directory's pages refuse it; and every page that refused a ``lang`` given twice
   still answered in the last of them. It is refused on each page now, in the language
   Accept-Language asks for (which ``lang`` counts would be a guess).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from api.main import create_app
from tests.integration.api_support import (
    Api,
    PageText,
    assert_problem,
    browser,
    refusal_page,
    running_api,
    served_fresh,
    serving,
    store_of,
    urn,
)
from tests.supply import item, material, passport, process, take
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

SLUG = "conceria-riva"
HIDDEN = "setificio-lario"
ASSESSMENT: dict[str, Any] = {
    "type": "assessment", "model": "2026.1", "date": "2026-01-05",
    "answers": [{"question": "tr-1", "answer": "yes", "note": "elenco fornitori 2026"}],
}  # fmt: skip
PAGE_VARY = {"accept", "accept-language", "authorization"}
JSON_ACCEPTS = ("application/json", "application/ld+json", "application/problem+json")
GTIN = "08000000001016"


def _page(response: httpx.Response, status: int, lang: Literal["it", "en"]) -> PageText:
    """An HTML page answered with ``status`` in ``lang``, with the page's cache headers (and
    varying with Accept: a client asking for JSON gets a problem at the same address)."""
    assert response.status_code == status, response.text[:300]
    headers = response.headers
    assert headers["content-type"].startswith("text/html"), headers
    assert {v.strip().lower() for v in headers["vary"].split(",")} == PAGE_VARY, headers
    assert headers["cache-control"] == "private, no-cache", headers
    parsed = PageText(response.text)
    assert parsed.lang == lang
    return parsed


def _problem_headers(response: httpx.Response) -> None:
    assert {v.strip().lower() for v in response.headers["vary"].split(",")} == PAGE_VARY
    assert response.headers["cache-control"] == "private, no-cache"


def _bearer(api: Api, tier: Literal["brand", "operator"], actor: str | None) -> dict[str, str]:
    secret = store_of(api).create_token(tier=tier, actor=actor)[1]
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def companies(app: Api) -> Api:
    """Two assessed companies: ``SLUG`` public, ``HIDDEN`` keeping its maturity to itself."""

    def assessed(slug: str, name: str) -> Terminal:
        terminal = app.enrol(slug, name=name, roles=["supplier", "brand"])
        app.accept(terminal.sign(ASSESSMENT))
        return terminal

    assessed(SLUG, "Conceria Riva")
    hidden = assessed(HIDDEN, "Setificio Lario")
    app.accept(hidden.sign({"type": "profile", "public_figures": ["partners"]}))
    return app


# -- 1. the company page ----------------------------------------------------------------------


def test_an_unknown_company_is_a_friendly_404_page_in_the_readers_language(
    companies: Api,
) -> None:
    assert companies.client.get(f"/companies/{SLUG}?lang=it").status_code == 200
    italian = _page(companies.client.get("/companies/nessuno?lang=it"), 404, "it")
    assert "Pagina dell'azienda non trovata" in italian.text, italian.text
    assert "Non c'è alcuna pagina pubblica di maturità per nessuno" in italian.text
    english = _page(
        companies.client.get("/companies/nessuno", headers={"Accept-Language": "en-GB,it;q=0.5"}),
        404,
        "en",
    )
    assert "Company page not found" in english.text, english.text
    assert "There is no public maturity page for nessuno" in english.text
    # The page leads to the supplier directory, in the page's language.
    assert "/directory?lang=en" in english.links and "/directory?lang=it" in italian.links


def test_hidden_unknown_and_operator_pages_say_the_same_to_the_public(companies: Api) -> None:
    for lang in ("it", "en"):
        said = {
            slug: _page(companies.client.get(f"/companies/{slug}?lang={lang}"), 404, lang)
            for slug in (HIDDEN, "nessuno", "operator")
        }
        texts = {p.text.replace(slug, "SLUG") for slug, p in said.items()}
        links = {tuple(p.links) for p in said.values()}
        assert len(texts) == 1 and len(links) == 1, texts
        hidden = companies.client.get(f"/companies/{HIDDEN}?lang={lang}").text
        assert "Setificio Lario" not in hidden and "Livello" not in hidden, hidden
    # Another company's brand token is the public here; the company's own token sees its page.
    stranger = _bearer(companies, "brand", urn(SLUG))
    assert companies.client.get(f"/companies/{HIDDEN}", headers=stranger).status_code == 404
    own = companies.client.get(
        f"/companies/{HIDDEN}", headers=_bearer(companies, "brand", urn(HIDDEN))
    )
    assert own.status_code == 200 and "Setificio Lario" in own.text


def test_the_slug_is_shown_escaped_and_visible(companies: Api) -> None:
    # Not a slug (a 400), but the value is said as typed, without markup or a bidi override.
    page = companies.client.get("/companies/a%3Cb%3Ex%E2%80%AE?lang=en")
    assert page.status_code == 400
    assert "<bdi>a&lt;b&gt;x\\u202e</bdi>" in page.text
    assert "<b>x" not in page.text and "\u202e" not in page.text


def test_an_overlong_or_ill_formed_slug_is_a_400_page(companies: Api) -> None:
    overlong = "a" * 64
    assert companies.client.get(f"/companies/{'a' * 63}?lang=it").status_code == 404
    italian = _page(companies.client.get(f"/companies/{overlong}?lang=it"), 400, "it")
    assert "Indirizzo della pagina: sono ammessi al massimo 63 caratteri" in italian.text
    italian = _page(companies.client.get("/companies/-riva?lang=it"), 400, "it")
    assert (
        "Indirizzo della pagina: «-riva» non è l'indirizzo di una pagina d'azienda: lettere "
        "minuscole, cifre e trattini, a cominciare da una lettera o una cifra" in italian.text
    ), italian.text
    assert overlong not in italian.text
    english = _page(
        companies.client.get("/companies/Conceria_Riva", headers={"Accept-Language": "en"}),
        400,
        "en",
    )
    assert (
        "Page address: “Conceria_Riva” is not a company page's address: lower-case letters, "
        "digits and hyphens, starting with a letter or digit" in english.text
    ), english.text
    # A slug refused has no company page to go back to: only the directory.
    assert english.links[-1:] == ["/directory?lang=en"]
    assert not [link for link in english.links if link.startswith("/companies/")]


def test_an_overlong_lang_is_refused_on_the_company_page(companies: Api) -> None:
    response = companies.client.get(
        f"/companies/{SLUG}?lang=" + "x" * 9, headers={"Accept-Language": "it"}
    )
    page = _page(response, 400, "it")
    assert "lang: sono ammessi al massimo 8 caratteri" in page.text, page.text
    assert "Conceria Riva" not in page.text
    # The page links to the company page without the refused parameter, which is served.
    assert f"/companies/{SLUG}?lang=it" in page.links
    assert "Conceria Riva" in companies.client.get(f"/companies/{SLUG}?lang=it").text
    english = companies.client.get(
        f"/companies/{SLUG}?lang=" + "e" * 9, headers={"Accept-Language": "en"}
    )
    assert "lang: at most 8 characters" in _page(english, 400, "en").text


def test_head_of_a_company_refusal_is_the_page_without_its_body(companies: Api) -> None:
    for target, status in (("/companies/nessuno", 404), ("/companies/" + "a" * 64, 400)):
        get, head = companies.client.get(target), companies.client.head(target)
        assert head.status_code == get.status_code == status
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.headers["vary"] == get.headers["vary"] and not head.content


def test_machines_asking_for_json_keep_the_company_problem(companies: Api) -> None:
    for accept in JSON_ACCEPTS:
        headers = {"Accept": accept}
        for slug in (HIDDEN, "nessuno", "operator"):
            api = companies.client.get(f"/v1/actors/{urn(slug)}/maturity")
            page = companies.client.get(f"/companies/{slug}?lang=it", headers=headers)
            # The same problem as the JSON route: the page is no more revealing than it.
            assert assert_problem(page, 404, "not-found") == api.json()
            _problem_headers(page)
        long_slug = companies.client.get("/companies/" + "a" * 64, headers=headers)
        assert_problem(long_slug, 400, "bad-request", "slug: at most 63 characters")
        bad_slug = companies.client.get("/companies/Conceria_Riva", headers=headers)
        assert_problem(bad_slug, 400, "bad-request", "slug: 'Conceria_Riva' is not a slug")
        long_lang = companies.client.get(f"/companies/{SLUG}?lang=xxxxxxxxx", headers=headers)
        assert_problem(long_lang, 400, "bad-request", "lang: at most 8 characters")
        for answer in (long_slug, bad_slug, long_lang):
            _problem_headers(answer)


# -- 2. application/problem+json is asking for JSON ---------------------------------------------


def test_a_client_accepting_only_problem_json_gets_the_problem(app: Api) -> None:
    headers = {"Accept": "application/problem+json"}
    passport = app.client.get(f"/01/{GTIN}/21/NOPE", headers=headers)
    assert_problem(passport, 404, "not-found", "no passport")
    profile = app.client.get(f"/directory/{urn('nobody')}", headers=headers)
    assert_problem(profile, 404, "not-found", f"no actor {urn('nobody')} in the directory")
    twice = app.client.get(f"/directory/{urn('nobody')}?on=1&on=2", headers=headers)
    assert_problem(twice, 400, "bad-request", "on: given more than once")
    # With q-values, the client's preference decides as before.
    for accept, html in (
        ("application/problem+json;q=0.5, text/html", True),
        ("text/html;q=0.5, application/problem+json", False),
        ("application/problem+json;q=0", True),
    ):
        answer = app.client.get(f"/01/{GTIN}/21/NOPE", headers={"Accept": accept})
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html") is html, accept


# -- 3. the profile page's overlong actor id ----------------------------------------------------


def test_an_overlong_actor_id_is_the_profile_pages_400_page(app: Api) -> None:
    fits = "urn:spola:actor:" + "a" * 64  # 80 characters: looked up, and unknown
    assert len(fits) == 80
    assert app.client.get(f"/directory/{fits}?lang=it").status_code == 404
    overlong = fits + "a"
    italian = _page(app.client.get(f"/directory/{overlong}?lang=it"), 400, "it")
    assert "Richiesta non valida" in italian.text
    assert "Identificativo del fornitore: sono ammessi al massimo 80 caratteri" in italian.text
    english = _page(
        app.client.get(f"/directory/{overlong}", headers={"Accept-Language": "en"}), 400, "en"
    )
    assert "Supplier identifier: at most 80 characters" in english.text, english.text
    # No profile to go back to: the search only.
    assert not [link for link in english.links if link.startswith("/directory/")]
    assert "/directory?lang=en" in english.links
    for accept in JSON_ACCEPTS:
        answer = app.client.get(f"/directory/{overlong}", headers={"Accept": accept})
        assert_problem(answer, 400, "bad-request", "actor_id: at most 80 characters")
        _problem_headers(answer)
    head = app.client.head(f"/directory/{overlong}")
    assert head.status_code == 400 and head.headers["content-type"].startswith("text/html")


# -- 4. a parameter given twice ------------------------------------------------------------------


def test_a_parameter_given_twice_is_refused_on_the_company_page(companies: Api) -> None:
    for query in ("lang=en&lang=en", "lang=en&lang=it", "view=a&view=b"):
        response = companies.client.get(
            f"/companies/{SLUG}?{query}", headers={"Accept-Language": "it"}
        )
        page = _page(response, 400, "it")
        name = query.partition("=")[0]
        assert f"{name}: più di un valore; lasciane uno solo" in page.text, page.text
        assert "Conceria Riva" not in page.text
        assert f"/companies/{SLUG}?lang=it" in page.links
        for accept in JSON_ACCEPTS:
            answer = companies.client.get(f"/companies/{SLUG}?{query}", headers={"Accept": accept})
            assert_problem(answer, 400, "bad-request", f"{name}: given more than once")
            _problem_headers(answer)
    # Given once, each is served as before.
    assert "Conceria Riva" in companies.client.get(f"/companies/{SLUG}?lang=en&view=a").text


def test_a_lang_given_twice_is_refused_in_the_accept_language(companies: Api) -> None:
    # Which ``lang`` would count is a guess: the refusal is worded as Accept-Language asks.
    wording = "lang: given more than once; give it once"
    for target in (f"/companies/{SLUG}", f"/directory/{urn(SLUG)}"):
        response = companies.client.get(
            f"{target}?lang=it&lang=it", headers={"Accept-Language": "en"}
        )
        assert wording in _page(response, 400, "en").text, target
    # The search page is its form, whatever the client accepts, with the refusal beside it.
    search = companies.client.get("/directory?lang=it&lang=it", headers={"Accept-Language": "en"})
    assert search.status_code == 400
    page = PageText(search.text)
    assert page.lang == "en" and wording in page.text, page.text


# -- 5. refusals before routing, and the home page's and passport page's own -----------------------
#
# A control character in a page's path, a NUL in its query and an address over the limit are
# refused before any route runs; the home page refused an overlong ``lang``, and the passport page
# (what a phone opens from a label) an overlong ``lang`` or ``linkType`` and a Digital Link it
# cannot read. Each answered the API's English JSON problem to a browser: each is a page now, in
# the reader's language, and stays the problem for a client asking for JSON. Asked of the real
# server over real HTTP.


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    with served_fresh(database_url, tmp_path / "home") as http:
        yield http


ITEM = f"/01/{GTIN}/21/A1"
# Pages refused before routing: (the target, the status, what the refusal page says in it, en).
BEFORE_ROUTING = [
    ("/directory/urn:spola:actor:a%0Ab", 400, "Page address: “/directory/urn:spola:actor:a\\nb”"
     " holds a control character"),
    ("/companies/a%09b", 400, "Page address: “/companies/a\\tb” holds a control character"),
    (f"/companies/{SLUG}?lang=%00", 400, "lang: “\\x00” holds a NUL character"),
    (f"/directory/{urn(SLUG)}?on=%00", 400, "on: “\\x00” holds a NUL character"),
    ("/?lang=%00", 400, "lang: “\\x00” holds a NUL character"),
    ("/companies/" + "a" * 8200, 414, "Page address: at most 8192 characters"),
]  # fmt: skip


@pytest.mark.parametrize(("target", "status", "said"), BEFORE_ROUTING)
def test_a_page_refused_before_routing_is_a_page(
    site: httpx.Client, target: str, status: int, said: str
) -> None:
    english = refusal_page(site.get(target, headers=browser("en")), status, "en")
    assert said in english.text, english.text
    assert "/directory?lang=en" in english.links
    italian = refusal_page(site.get(target, headers=browser("it-IT,it;q=0.9")), status, "it")
    assert "Richiesta non valida" in italian.text, italian.text
    head = site.head(target, headers=browser("en"))
    assert head.status_code == status and not head.content
    assert head.headers["content-type"].startswith("text/html")
    for accept in JSON_ACCEPTS:
        kind = "uri-too-long" if status == 414 else "bad-request"
        answer = site.get(target, headers={"Accept": accept})
        assert_problem(answer, status, kind)
        _problem_headers(answer)  # the same address answers a page: it varies with Accept


def test_a_valid_lang_words_a_refusal_before_routing(site: httpx.Client) -> None:
    response = site.get("/companies/a%0Ab?lang=it", headers=browser("en"))
    assert "Indirizzo della pagina" in refusal_page(response, 400, "it").text


@pytest.mark.parametrize(
    "target",
    [f"{ITEM}%0A", f"/01/{GTIN}/10/L%0A1/21/A", f"{ITEM}?lang=%00", f"/01/{GTIN}/21/" + "A" * 8200],
)
def test_a_scanned_address_refused_before_routing_is_the_passport_pages_refusal(
    site: httpx.Client, target: str
) -> None:
    status = 414 if target.endswith("A" * 8200) else 400
    italian = refusal_page(site.get(target, headers=browser("it")), status, "it")
    assert "Indirizzo non valido" in italian.text, italian.text
    response = site.get(target, headers=browser("en-GB"))
    english = refusal_page(response, status, "en")
    assert "Address not valid" in english.text, english.text
    # In the passport page's look, and under its policy: no script, nothing fetched.
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert site.head(target).status_code == status
    for accept in JSON_ACCEPTS:
        answer = site.get(target, headers={"Accept": accept})
        assert answer.headers["content-type"] == "application/problem+json"
        assert "accept" in answer.headers["vary"].lower(), answer.headers


def test_an_overlong_lang_on_the_home_page_is_a_page(site: httpx.Client) -> None:
    target = "/?lang=" + "x" * 101
    italian = refusal_page(site.get(target, headers=browser("it")), 400, "it")
    assert "lang: sono ammessi al massimo 100 caratteri" in italian.text, italian.text
    assert "/?lang=it" in italian.links  # the home page without the refused parameter
    english = refusal_page(site.get(target, headers=browser("en")), 400, "en")
    assert "lang: at most 100 characters" in english.text, english.text
    head = site.head(target, headers=browser("en"))
    assert head.status_code == 400 and head.headers["content-type"].startswith("text/html")
    for accept in JSON_ACCEPTS:
        answer = site.get(target, headers={"Accept": accept})
        assert_problem(answer, 400, "bad-request", "lang: at most 100 characters")
    # At the bound, the home page is served.
    assert site.get("/?lang=" + "x" * 100, headers=browser("en")).status_code == 200


@pytest.mark.parametrize(
    ("target", "detail"),
    [
        (f"{ITEM}?lang=" + "i" * 17, "query.lang: String should have at most 16 characters"),
        (
            f"{ITEM}?linkType=" + "g" * 65,
            "query.linkType: String should have at most 64 characters",
        ),
        (f"/01/{GTIN[:-1]}7/21/A1", "check digit 7, expected 6"),
        (f"/01/{GTIN}/21/" + "A" * 21, "is longer than 20"),
        ("/01/123/21/X", "8, 12, 13 or 14"),
        (f"/01/{GTIN}/21/", "is empty"),
    ],
)
def test_a_label_address_the_passport_page_cannot_read_is_a_page(
    site: httpx.Client, target: str, detail: str
) -> None:
    italian = refusal_page(site.get(target, headers=browser("it")), 400, "it")
    assert "Indirizzo non valido" in italian.text, italian.text
    assert "Controlla di aver inquadrato tutto il codice QR" in italian.text, italian.text
    english = refusal_page(site.get(target, headers=browser("en")), 400, "en")
    assert "Address not valid" in english.text, english.text
    head = site.head(target, headers=browser("en"))
    assert head.status_code == 400 and head.headers["content-type"].startswith("text/html")
    kind = "bad-request" if "query." in detail else "bad-identifier"
    for accept in JSON_ACCEPTS:
        answer = site.get(target, headers={"Accept": accept})
        assert_problem(answer, 400, kind, detail)
        assert "accept" in answer.headers["vary"].lower(), answer.headers


def test_the_passport_page_reads_a_lang_up_to_its_bound(site: httpx.Client) -> None:
    # 16 characters are read (and name no language: Accept-Language decides), not refused.
    page = site.get(f"{ITEM}?lang=" + "i" * 16, headers=browser("en"))
    assert page.status_code == 404 and PageText(page.text).lang == "en"
    assert site.get(f"{ITEM}?lang=it", headers=browser("en")).status_code == 404
    # Over it, a ``lang`` is not read, even one that starts as a language would.
    refused = site.get(f"{ITEM}?lang=en-" + "x" * 14, headers=browser("it"))
    assert "Indirizzo non valido" in refusal_page(refused, 400, "it").text


# A broken percent-escape (``%ZZ``, or escapes that are no UTF-8) was the API's 422 problem on
# every page: a browser now gets a page saying where it is, a client asking for JSON the problem.
BROKEN_ESCAPES = [
    ("/?lang=%ZZ", "lang: “%ZZ” holds a '%' not followed by two hex digits"),
    ("/directory?region=Lomb%E9", "Region: “Lomb%E9” holds a '%' not followed by two hex"),
    (f"/companies/{SLUG}?lang=e%E9n", "lang: “e%E9n” holds a '%'"),
    ("/directory/urn:spola:actor:a%E9", "Page address: “/directory/urn:spola:actor:a%E9” holds"),
    ("/companies/a%G1", "Page address: “/companies/a%G1” holds a '%'"),
]


@pytest.mark.parametrize(("target", "said"), BROKEN_ESCAPES)
def test_a_broken_escape_on_a_page_is_a_page(site: httpx.Client, target: str, said: str) -> None:
    english = refusal_page(site.get(target, headers=browser("en")), 422, "en")
    assert said in english.text, english.text
    italian = refusal_page(site.get(target, headers=browser("it")), 422, "it")
    assert "Richiesta non valida" in italian.text, italian.text
    head = site.head(target, headers=browser("it"))
    assert head.status_code == 422 and head.headers["content-type"].startswith("text/html")
    for accept in JSON_ACCEPTS:
        assert_problem(site.get(target, headers={"Accept": accept}), 422, "format")


def test_a_broken_escape_in_a_scanned_address_is_the_passport_pages_refusal(
    site: httpx.Client,
) -> None:
    for target in (f"{ITEM[:-1]}%ZZ", f"{ITEM}?lang=%E9"):
        english = refusal_page(site.get(target, headers=browser("en")), 422, "en")
        assert "Address not valid" in english.text, english.text
        answer = site.get(target, headers={"Accept": "application/json"})
        assert_problem(answer, 422, "format", "is not a percent-escape" if "ZZ" in target else "")


# A link type the label's product does not offer (``?linkType=gs1:recallStatus``) was the API's
# JSON 404 to a browser too: it is the passport page's 404 page, naming no passport missing.


@pytest.fixture
def issued(database_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    """The service, served by uvicorn, over one item whose passport is issued: ``ITEM``."""
    with running_api(database_url, tmp_path / "home") as api:
        works = {"id": "main", "name": "Opificio", "town": "Como", "region": "Lombardia",
                 "country": "IT", "lat": "45.8081", "lon": "9.0852"}  # fmt: skip
        brand = api.enrol("maison", name="Maison", roles=["supplier", "brand"], facilities=[works])
        silk = "urn:spola:lot:maison:S1"
        events = [material(silk), process([take(silk, "20")], items=[item(ITEM)]), passport(ITEM)]
        for event in events:
            (logged,) = api.accept([brand.sign(event)])
            assert logged["applied"], logged
        settings = api.settings
    with serving(create_app(settings)) as host, httpx.Client(base_url=f"http://{host}") as http:
        yield http


def test_a_link_type_not_offered_is_a_page_for_abrowser(issued: httpx.Client) -> None:
    assert issued.get(ITEM, headers=browser("en")).status_code == 200
    for link_type in ("gs1:recallStatus", ""):
        target = f"{ITEM}?linkType={link_type}"
        italian = refusal_page(issued.get(target, headers=browser("it")), 404, "it")
        assert "Collegamento non disponibile" in italian.text, italian.text
        english = refusal_page(issued.get(target, headers=browser("en")), 404, "en")
        assert "Link not available" in english.text, english.text
        assert "Passport not found" not in english.text
        for accept in JSON_ACCEPTS:
            answer = issued.get(target, headers={"Accept": accept})
            assert_problem(answer, 404, "not-found", f"linkType {link_type!r} is not served")
            assert "accept" in answer.headers["vary"].lower(), answer.headers
    # A link type it offers is still a redirect, for a browser as for a machine.
    served = issued.get(f"{ITEM}?linkType=gs1:pip", headers=browser("en"), follow_redirects=False)
    assert served.status_code == 307


def test_the_home_page_does_not_read_a_lang_given_twice(site: httpx.Client) -> None:
    # Which one would count is a guess, as on the other pages: Accept-Language chooses.
    for query in ("lang=en&lang=en", "lang=it&lang=en"):
        page = site.get(f"/?{query}", headers=browser("it"))
        assert page.status_code == 200 and PageText(page.text).lang == "it", query
    assert PageText(site.get("/?lang=en", headers=browser("it")).text).lang == "en"
