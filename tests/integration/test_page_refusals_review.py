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

from typing import Any, Literal

import httpx
import pytest

from tests.integration.api_support import Api, PageText, assert_problem, store_of, urn
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
