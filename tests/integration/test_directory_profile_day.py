"""The profile page takes the day its track record ends on, as ``GET /v1/directory/{actor}`` does.

``/directory/{actor}?on=YYYY-MM-DD`` shows the year before that day and the certificates valid
on it, the same figures as the JSON answer for the same ``on``; the page's other languages and
a dated search's results lead to the page of the same day. A bad ``on`` is refused as the API
refuses it: for a browser a 400 page in its reader's language naming ``on`` and quoting the
value, for a client asking for JSON the API's problem.
"""

from __future__ import annotations

from typing import Any

import pytest

from api.demo_story import PRINTER
from passports.page import Formatter
from tests.integration.api_support import (
    Api,
    PageText,
    assert_problem,
    browser,
    get_json,
    refusal_page,
    urn,
)

pytestmark = pytest.mark.integration

BEFORE_RENEWAL = "2026-11-01"  # the printer's renewed GOTS is valid from 2026-11-03
ON = "2026-11-26"
JSON = {"Accept": "application/json"}
NOT_VALID = {"it": "non valido il {date}", "en": "not valid on {date}"}


def _page(api: Api, path: str, lang: str) -> PageText:
    response = api.client.get(path, headers=browser(lang))
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    page = PageText(response.text)
    assert page.lang == lang
    return page


def test_the_profile_page_shows_the_record_of_the_day_asked(demo: Api) -> None:
    printer = urn(PRINTER)
    for on, valid in ((BEFORE_RENEWAL, False), (ON, True)):
        answer: dict[str, Any] = get_json(demo, f"/v1/directory/{printer}?on={on}")
        record = answer["track_record"]
        (certificate,) = answer["certificates"]
        assert certificate["valid"] is valid
        for lang in ("it", "en"):
            fmt = Formatter(lang)
            page = _page(demo, f"/directory/{printer}?on={on}", lang)
            window = f"{fmt.date(record['from'])} \u2013 {fmt.date(record['to'])}"
            assert window in page.text
            assert (NOT_VALID[lang].format(date=fmt.date(on)) in page.text) is not valid
            # The page in the other languages is the page of the same day.
            assert (
                f'href="?on={on}&amp;lang='
                in demo.client.get(f"/directory/{printer}?on={on}", headers=browser(lang)).text
            )


def test_without_a_day_the_profile_page_shows_today(demo: Api) -> None:
    printer = urn(PRINTER)
    record = get_json(demo, f"/v1/directory/{printer}")["track_record"]
    fmt = Formatter("en")
    page = _page(demo, f"/directory/{printer}", "en")
    assert f"{fmt.date(record['from'])} \u2013 {fmt.date(record['to'])}" in page.text
    assert 'href="?lang=it"' in demo.client.get(f"/directory/{printer}", headers=browser("en")).text


def test_a_dated_search_leads_to_the_profile_of_the_same_day(demo: Api) -> None:
    response = demo.client.get(f"/directory?process=printing&on={ON}", headers=browser("en"))
    assert response.status_code == 200
    assert f'href="/directory/{urn(PRINTER)}?on={ON}&amp;lang=en"' in response.text
    undated = demo.client.get("/directory?process=printing", headers=browser("en")).text
    assert f'href="/directory/{urn(PRINTER)}?lang=en"' in undated


@pytest.mark.parametrize(
    ("on", "said"),
    [
        ("26-11-2026", {"it": "«26-11-2026» non è una data AAAA-MM-GG",
                        "en": "“26-11-2026” is not a date YYYY-MM-DD"}),
        ("2026-02-30", {"it": "«2026-02-30» non è una data AAAA-MM-GG",
                        "en": "“2026-02-30” is not a date YYYY-MM-DD"}),
        ("0001-06-01", {"it": "«0001-06-01» è una data troppo antica",
                        "en": "“0001-06-01” is too early"}),
    ],
)  # fmt: skip
def test_a_bad_day_on_the_profile_page_is_refused_as_the_api_refuses_it(
    app: Api, on: str, said: dict[str, str]
) -> None:
    mill = app.enrol("mill", name="Workshop mill")
    api = assert_problem(app.client.get(f"/v1/directory/{mill.actor}?on={on}"), 400, "bad-request")
    assert api["detail"].startswith("on: ")
    for lang in ("it", "en"):
        response = app.client.get(
            f"/directory/{mill.actor}?on={on}&lang={lang}", headers=browser(lang)
        )
        page = refusal_page(response, 400, lang)
        assert f"on: {said[lang]}" in page.text
        assert f'href="/directory/{mill.actor}?lang={lang}"' in response.text  # without the day
    asked = app.client.get(f"/directory/{mill.actor}?on={on}", headers=JSON)
    assert assert_problem(asked, 400, "bad-request")["detail"] == api["detail"]


def test_an_overlong_or_repeated_day_on_the_profile_page_is_refused(app: Api) -> None:
    mill = app.enrol("mill", name="Workshop mill")
    long_day = "2026-11-26" + "0" * 91  # 101 characters
    for query, said in (
        (f"on={long_day}", {"it": "on: sono ammessi al massimo 100 caratteri",
                            "en": "on: at most 100 characters"}),
        (f"on={ON}&on={BEFORE_RENEWAL}", {"it": "on: più di un valore; lasciane uno solo",
                                          "en": "on: given more than once; give it once"}),
    ):  # fmt: skip
        for lang in ("it", "en"):
            response = app.client.get(f"/directory/{mill.actor}?{query}", headers=browser(lang))
            assert said[lang] in refusal_page(response, 400, lang).text
        asked = app.client.get(f"/directory/{mill.actor}?{query}", headers=JSON)
        assert assert_problem(asked, 400, "bad-request")["detail"] == said["en"]


def test_the_company_page_has_no_day_to_ask_for(demo: Api) -> None:
    # Its document stands as of the log's latest entry, its assessments at their own dates: an
    # ``on`` is not read, and the page is the same with or without one.
    plain = demo.client.get(f"/companies/{PRINTER}", headers=browser("en"))
    dated = demo.client.get(f"/companies/{PRINTER}?on={BEFORE_RENEWAL}", headers=browser("en"))
    assert plain.status_code == dated.status_code == 200
    assert dated.text == plain.text
