"""A directory answer asked for a day ``on`` says what the log said on that day.

A profile's maturity figure is the latest assessment the actor had signed by ``on`` (the day of
its signed time, whatever day its answers are dated): none before the first, the earlier one
between two. A process or material is verified, and a certificate evidenced, only by work
signed by ``on``, in a profile and in a search alike. The search page's links to the other
language keep the day, and so does the link back from a profile page that refused its
language.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from api.demo_story import BRAND, PRINTER, WOOL_MILL
from tests.integration.api_support import (
    Api,
    browser,
    get_json,
    operator_headers,
    refusal_page,
    urn,
)

pytestmark = pytest.mark.integration

ON = "2026-11-26"
NO_ASSESSMENT = {"maturity": "the actor has signed no maturity assessment"}


def _maturity(api: Api, actor: str, on: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    answer = get_json(api, f"/v1/directory/{actor}?on={on}", **operator_headers(api))
    figure: dict[str, Any] | None = answer["track_record"]["figures"]["maturity"]
    return figure, answer


def _entry_link(index: int) -> str:
    return f'href="/v1/log/entries?start={index}&amp;end={index + 1}"'


def test_a_profile_dated_before_the_first_assessment_shows_none(demo: Api) -> None:
    mill = urn(WOOL_MILL)  # assessed itself on 18 November
    signed, answer = _maturity(demo, mill, "2026-11-18")
    assert signed is not None and answer["notes"] == {}
    (index,) = signed["entries"]
    before, answer = _maturity(demo, mill, "2026-11-17")
    assert before is None and answer["notes"] == NO_ASSESSMENT
    assert answer["track_record"]["complete"] is True
    for on, shown in (("2026-11-17", False), ("2026-11-18", True)):
        page = demo.client.get(f"/directory/{mill}?on={on}", headers=browser("en"))
        assert page.status_code == 200
        assert (_entry_link(index) in page.text) is shown


def test_a_profile_between_two_assessments_shows_the_earlier(demo: Api) -> None:
    brand = urn(BRAND)  # assessed itself on 1 June and on 15 November
    document = get_json(demo, f"/v1/actors/{brand}/maturity")
    june, november = document["history"]
    between, _ = _maturity(demo, brand, "2026-07-01")
    assert between is not None
    assert between["entries"] == [june["index"]]
    assert (between["level"], between["date"]) == (june["overall"], "2026-06-01")
    after, _ = _maturity(demo, brand, ON)
    assert after is not None and after["entries"] == [november["index"]]
    assert after["level"] == document["overall"]  # the latest: as its company page says


def test_an_assessment_counts_from_the_day_it_was_signed(app: Api) -> None:
    mill = app.enrol("filatura-tarda", name="Filatura Tarda")
    fields = {"type": "assessment", "model": "2026.1", "date": "2026-03-01",
              "time": "2026-03-10T10:00:00Z",
              "answers": [{"question": "tr-1", "answer": "yes"}]}  # fmt: skip
    (receipt,) = app.accept(mill.sign(fields))
    # Its answers are dated 1 March, but on 5 March the log held no assessment of it.
    early, answer = _maturity(app, mill.actor, "2026-03-05")
    assert early is None and answer["notes"] == NO_ASSESSMENT
    signed, _ = _maturity(app, mill.actor, "2026-03-10")
    assert signed is not None and signed["entries"] == [receipt["index"]]
    assert signed["date"] == "2026-03-01"


def test_work_signed_after_the_day_evidences_nothing_on_it(demo: Api) -> None:
    printer = urn(PRINTER)  # pretreated on 8 April, printed on 17 April
    for on, printed in (("2026-04-10", False), ("2026-04-17", True)):
        profile = get_json(demo, f"/v1/directory/{printer}?on={on}")
        offers = {o["id"]: o for o in profile["processes"]}
        assert offers["pretreatment"]["verified"]
        assert offers["printing"]["verified"] is printed
        assert bool(offers["printing"]["entries"]) is printed
        search = get_json(demo, f"/v1/directory?process=printing&on={on}")
        (match,) = [m for m in search["matches"] if m["actor"] == printer]
        assert match["process"]["verified"] is printed
    before = get_json(demo, f"/v1/directory/{printer}?on=2026-03-01")
    assert not any(o["verified"] for o in before["processes"] + before["materials"])
    assert [c["evidenced"] for c in before["certificates"]] == [False]


def test_the_search_page_in_the_other_language_keeps_the_day(demo: Api) -> None:
    page = demo.client.get(f"/directory?process=printing&on={ON}", headers=browser("en"))
    assert page.status_code == 200
    links = re.findall(r'<a href="\?([^"]*)" hreflang="(\w+)"', page.text)
    assert {lang for _, lang in links} == {"it", "en"}
    for query, lang in links:
        assert query == f"process=printing&amp;on={ON}&amp;lang={lang}"
    refused = demo.client.get("/directory?on=26-11-2026", headers=browser("en"))
    assert refused.status_code == 400  # a refused day is carried too, to be refused there
    assert 'href="?on=26-11-2026&amp;lang=it"' in refused.text


def test_a_refused_language_leads_back_to_the_profile_of_the_same_day(demo: Api) -> None:
    printer = urn(PRINTER)
    long_lang = "e" * 101
    for lang in ("it", "en"):
        response = demo.client.get(
            f"/directory/{printer}?on={ON}&lang={long_lang}", headers=browser(lang)
        )
        refusal_page(response, 400, lang)
        assert f'href="/directory/{printer}?on={ON}&amp;lang={lang}"' in response.text
        # A day that is no date is not carried back: it would only be refused again.
        bad_day = demo.client.get(
            f"/directory/{printer}?on=26-11-2026&lang={long_lang}", headers=browser(lang)
        )
        refusal_page(bad_day, 400, lang)
        assert f'href="/directory/{printer}?lang={lang}"' in bad_day.text
