"""The directory's refusals, as the search page and the maturity route say them.

1. A control character in a free-text filter (``region=Lomb%01ardia``) was put back raw in
   the search form's field, where a reader cannot see it.
2. After a refusal the search form put back every value as typed into its fields, invisible
   characters included (a right-to-left override, a control, a no-break space), where a reader
   cannot see what the field holds. A field now shows what was typed only when every character
   of it prints and it is within the length a filter may have; otherwise it is empty, and the
   refusal above the form quotes the value with its escapes.
3. ``GET /v1/actors/{id}/maturity`` worded an unknown actor, the ledger's operator and a
   company keeping its maturity from the reader three different ways, where the company page
   says the same for each: the JSON route now words them alike too.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from tests.integration.api_support import Api, PageText, assert_problem, urn

pytestmark = pytest.mark.integration

HTML = {"Accept": "text/html"}
SLUG = "conceria-riva"
HIDDEN = "setificio-lario"
ASSESSMENT: dict[str, Any] = {
    "type": "assessment", "model": "2026.1", "date": "2026-01-05",
    "answers": [{"question": "tr-1", "answer": "yes", "note": "elenco fornitori 2026"}],
}  # fmt: skip


class Form(HTMLParser):
    """The search form's text fields by name, each with its ``value`` attribute as parsed, and
    the refusal announced (the text of the ``role="alert"`` element)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.values: dict[str, str | None] = {}
        self.alert = ""
        self._in_alert = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("type") != "hidden" and found.get("name"):
            self.values[found["name"] or ""] = found.get("value")
        if found.get("role") == "alert":
            self._in_alert = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._in_alert = False

    def handle_data(self, data: str) -> None:
        if self._in_alert:
            self.alert += data


# -- 1. a control character in a free-text filter ----------------------------------------------


@pytest.mark.parametrize("lang", ["it", "en"])
def test_a_control_character_in_a_filter_never_reaches_the_page_raw(app: Api, lang: str) -> None:
    # A line break, an ESC, a DEL in a free-text filter are searched for (no scheme or region
    # holds one, so nothing matches); the form does not put them back where no one sees them.
    response = app.client.get(
        f"/directory?region=Lomb%01ardia&certificate=GOTS%1B%7F&lang={lang}", headers=HTML
    )
    assert response.status_code == 200, response.text[:300]
    assert PageText(response.text).lang == lang
    form = Form(response.text)
    assert (form.values["region"], form.values["certificate"]) == ("", "")
    assert not any(c in response.text for c in "\x01\x1b\x7f")
    # A filter that prints is put back as typed.
    plain = Form(app.client.get(f"/directory?region=Lombardia&lang={lang}").text)
    assert plain.values["region"] == "Lombardia"


# -- 2. what the form puts back after a refusal ---------------------------------------------------


def test_the_form_leaves_out_a_refused_value_holding_invisible_characters(app: Api) -> None:
    response = app.client.get(
        "/directory?near=45,9&radius_km=6%E2%80%AE0%01%C2%A0&lang=en", headers=HTML
    )
    assert response.status_code == 400
    form = Form(response.text)
    # The refusal quotes it with its escapes; the field is empty, not a hidden override.
    assert "“6\\u202e0\\x01\\xa0”" in form.alert, form.alert
    assert form.values["radius_km"] == ""
    assert form.values["near"] == "45,9"  # an accepted value stays
    assert "\u202e" not in response.text and "\xa0" not in response.text


def test_the_form_keeps_a_refused_value_that_prints_to_be_corrected(app: Api) -> None:
    typed = app.client.get("/directory?near=%3Cb%3EMilano&lang=it", headers=HTML)
    assert typed.status_code == 400
    assert Form(typed.text).values["near"] == "<b>Milano"  # parsed back from an escaped value
    assert 'value="&lt;b&gt;Milano"' in typed.text and "<b>Milano" not in typed.text
    arabic = app.client.get("/directory?near=45,9&radius_km=%D9%A5%D9%A0&lang=it", headers=HTML)
    assert Form(arabic.text).values["radius_km"] == "\u0665\u0660"


def test_the_form_leaves_out_an_unchecked_value_with_invisible_characters(app: Api) -> None:
    # ``on`` is refused first: the region after it was never read, and holds an override.
    response = app.client.get("/directory?on=yesterday&region=Lomb%E2%80%AEardia&lang=en")
    assert response.status_code == 400
    form = Form(response.text)
    assert form.alert.startswith("on: ")
    assert form.values["region"] == ""
    assert "\u202e" not in response.text


def test_the_form_leaves_out_a_value_over_the_length_of_a_filter(app: Api) -> None:
    long = "Lombardia" * 12  # 108 characters, over the 100 a filter may have
    response = app.client.get(f"/directory?region={long}&lang=en", headers=HTML)
    assert response.status_code == 400
    form = Form(response.text)
    assert form.alert == "Region: at most 100 characters"
    assert form.values["region"] == ""
    # Only the links to the page in the other language carry it, to say the same refusal.
    assert response.text.count(long) == 2


# -- 3. a company without a public maturity, in JSON ---------------------------------------------


def test_unknown_operator_and_hidden_maturity_are_worded_alike_in_json(app: Api) -> None:
    for slug in (SLUG, HIDDEN):
        terminal = app.enrol(slug, name=slug.title(), roles=["supplier", "brand"])
        app.accept(terminal.sign(ASSESSMENT))
    app.accept(terminal.sign({"type": "profile", "public_figures": ["partners"]}))
    assert app.client.get(f"/v1/actors/{urn(SLUG)}/maturity").status_code == 200
    details = {}
    for slug in (HIDDEN, "nessuno", "operator"):
        response = app.client.get(f"/v1/actors/{urn(slug)}/maturity")
        body = assert_problem(response, 404, "not-found", urn(slug))
        details[slug] = body["detail"].replace(urn(slug), "ID")
        # The company page's client asking for JSON gets the very same problem.
        page = app.client.get(f"/companies/{slug}", headers={"Accept": "application/json"})
        assert assert_problem(page, 404, "not-found")["detail"] == body["detail"]
    assert set(details.values()) == {"no company ID makes its maturity public"}, details


# -- 4. a NUL character in a filter ------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "said"),
    [
        (
            "region=Lomb%00ardia&lang=it",
            "Regione: «Lomb\\x00ardia» contiene un carattere NUL, che nessun filtro ammette",
        ),
        ("process=%00&lang=en", "Process: “\\x00” is not a process of the catalogue"),
        ("on=%00&lang=en", "on: “\\x00” is not a date YYYY-MM-DD"),
    ],
)
def test_a_nul_in_a_filter_is_refused_on_the_page_in_its_language(
    app: Api, query: str, said: str
) -> None:
    # No filter holds one, and PostgreSQL text cannot: the page refuses it before any read,
    # as it refuses any other ill-formed value, not with the API's English problem.
    response = app.client.get(f"/directory?{query}", headers=HTML)
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    assert PageText(response.text).lang == query[-2:]
    form = Form(response.text)
    assert said in form.alert, form.alert
    assert "\x00" not in response.text and set(form.values.values()) == {""}
    # The JSON search still answers the API's problem.
    assert_problem(app.client.get(f"/v1/directory?{query}"), 400, "bad-request", "%00")
