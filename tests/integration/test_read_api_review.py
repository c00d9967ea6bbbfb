"""The public read API as a client writing against docs/api.md meets it, and as an attacker does.

Each test runs on SQLite and PostgreSQL: pages that are cut say so (a client paging by the size
of what it got back must not stop early), a lot's read seeks an index instead of walking every
handover the ledger ever logged, and a refused what-if body is quoted back bounded, in JSON's
words rather than the server's.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.envelope import Envelope
from tests.integration.api_support import Api, assert_problem, running_api, store_of, urn
from tests.integration.test_store_indexes import plan
from tests.integration.test_store_indexes import sent as sent_to
from tests.supply import facility, handover, item, material, process, take
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

MAX_PAGE = 3


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(database_url, tmp_path / "home", max_page=MAX_PAGE) as running:
        yield running


def _register(app: Api, *slugs: str) -> None:
    app.accept([app.operator.register(urn(slug)) for slug in slugs])


def _next(response: httpx.Response) -> str | None:
    """The target of the answer's ``Link: <…>; rel="next"`` (RFC 8288), None without one."""
    header = response.headers.get("link")
    if header is None:
        return None
    found = re.fullmatch(r'<([^>]*)>; rel="next"', header)
    assert found is not None, header
    return found.group(1)


def _page_actors(app: Api, limit: int, *, between: Callable[[], None] = lambda: None) -> list[str]:
    """Every actor, paging as docs/api.md says: following ``rel="next"`` until there is none;
    ``between`` runs between two pages."""
    seen: list[str] = []
    target: str | None = f"/v1/actors?limit={limit}"
    while target is not None:
        response = app.client.get(target)
        assert response.status_code == 200, response.text
        seen += [a["id"] for a in response.json()["actors"]]
        target = _next(response)
        if target is not None:
            assert target.startswith(f"{app.settings.public_base_url}/v1/actors?"), target
            target = target.removeprefix(app.settings.public_base_url)
            between()
    return seen


# -- GET /v1/actors: a page cut to SPOLA_MAX_PAGE ------------------------------------------


def test_an_actor_page_cut_to_the_page_limit_links_to_the_next(app: Api) -> None:
    _register(app, "a1", "a2", "a3", "a4")  # five actors with the operator
    # Asked for 10, served MAX_PAGE: 3 actors of a limit of 10 look like the last page unless
    # the answer says more follow.
    first = app.client.get("/v1/actors", params={"limit": 10})
    assert len(first.json()["actors"]) == MAX_PAGE
    base = app.settings.public_base_url
    assert _next(first) == f"{base}/v1/actors?limit=10&offset={MAX_PAGE}"

    last = app.client.get("/v1/actors", params={"offset": MAX_PAGE, "limit": 10})
    assert [a["id"] for a in last.json()["actors"]] == [urn("a3"), urn("a4")]
    assert "link" not in last.headers


def test_an_actor_page_that_ends_exactly_at_the_last_actor_is_the_last_page(app: Api) -> None:
    _register(app, "a1", "a2")  # three actors: one full page of MAX_PAGE
    response = app.client.get("/v1/actors", params={"limit": MAX_PAGE})
    assert len(response.json()["actors"]) == MAX_PAGE
    assert "link" not in response.headers


def test_paging_actors_while_others_register_skips_and_repeats_none(app: Api) -> None:
    _register(app, "a1", "a2", "a3", "a4", "a5")
    late: list[str] = []

    def register_one() -> None:  # an actor registers between pages, twice
        if len(late) < 2:
            late.append(f"late{len(late) + 1}")
            _register(app, late[-1])

    seen = _page_actors(app, 100, between=register_one)
    assert late == ["late1", "late2"]
    expected = [urn(s) for s in ("operator", "a1", "a2", "a3", "a4", "a5", "late1", "late2")]
    assert seen == expected
    assert _page_actors(app, 2) == expected


# -- GET /v1/actors/{id}/holdings: lists cut at the limit ---------------------------------


def _mill_with_lots(app: Api, lots: int) -> Terminal:
    mill = app.enrol("seteria", roles=["supplier"], facilities=[facility()])
    app.accept([mill.sign(material(f"urn:spola:lot:seteria:L{n}")) for n in range(lots)])
    return mill


def test_holdings_cut_at_the_limit_say_they_are_incomplete(app: Api) -> None:
    mill = _mill_with_lots(app, 3)
    cut = app.client.get(f"/v1/actors/{mill.actor}/holdings", params={"limit": 2}).json()
    assert len(cut["lots"]) == 2
    assert cut["complete"] is False

    whole = app.client.get(f"/v1/actors/{mill.actor}/holdings", params={"limit": 3}).json()
    assert len(whole["lots"]) == 3
    assert whole["complete"] is True


def test_holdings_cut_to_the_page_limit_say_they_are_incomplete(app: Api) -> None:
    mill = _mill_with_lots(app, MAX_PAGE + 1)
    body = app.client.get(f"/v1/actors/{mill.actor}/holdings", params={"limit": 100}).json()
    assert len(body["lots"]) == MAX_PAGE
    assert body["complete"] is False


def test_holdings_with_pending_handovers_over_the_limit_are_incomplete(app: Api) -> None:
    mill = _mill_with_lots(app, 1)
    dyer = app.enrol("tintoria", roles=["supplier"], facilities=[facility()])
    lot = "urn:spola:lot:seteria:L0"
    app.accept([mill.sign(handover(f"DDT-{n}", dyer.actor, [take(lot, "1")])) for n in range(3)])
    incoming = app.client.get(f"/v1/actors/{dyer.actor}/holdings", params={"limit": 2}).json()
    assert (len(incoming["lots"]), len(incoming["incoming"])) == (0, 2)
    assert incoming["complete"] is False


# -- GET /v1/lots/{id}: in transit without a walk over every handover ------------------------


def test_a_lots_handovers_in_transit_are_found_through_an_index(app: Api) -> None:
    mill = _mill_with_lots(app, 2)
    dyer = app.enrol("tintoria", roles=["supplier"], facilities=[facility()])
    lot = "urn:spola:lot:seteria:L0"
    app.accept(mill.sign(handover("DDT-1", dyer.actor, [take(lot, "10")])))
    app.accept(mill.sign(handover("DDT-2", dyer.actor, [take("urn:spola:lot:seteria:L1", "5")])))
    engine = store_of(app).read_engine

    with sent_to(engine) as sent:
        response = app.client.get(f"/v1/lots/{lot}")
    assert response.status_code == 200, response.text
    assert response.json()["in_transit"] == [
        {"handover": {"sender": mill.actor, "id": "DDT-1"}, "to": dyer.actor, "amount": "10"}
    ]
    reads = [s for s in sent if "FROM handovers" in s[0]]
    assert reads, "the lot's read names no handover"
    for sql, params in reads:
        found = plan(engine, (sql, params))
        assert "SCAN handovers" not in found, found  # SQLite
        assert "Seq Scan on handovers" not in found, found  # PostgreSQL


# -- POST /v1/circularity/mci: refusals quote the body bounded ------------------------------


def _mci(app: Api, body: bytes) -> httpx.Response:
    return app.client.post(
        "/v1/circularity/mci", content=body, headers={"content-type": "application/json"}
    )


@pytest.mark.parametrize(
    "body",
    [
        {"method": "2019", "materials": [{"mass_kg": "1"}], "x" * 100_000: "1"},
        {"method": "2019", "materials": [{"mass_kg": "1", "y" * 100_000: "1"}]},
        {"method": "z" * 100_000, "materials": [{"mass_kg": "1"}]},
    ],
    ids=["unknown-member", "unknown-material-member", "unknown-method"],
)
def test_a_refused_what_if_quotes_at_most_64_characters_of_what_it_names(
    app: Api, body: dict[str, Any]
) -> None:
    response = _mci(app, json.dumps(body).encode())
    assert len(response.content) < 1000, response.text[:300]  # not the name sent back whole
    assert_problem(response, 422, "format", "… (100000 characters)")


@pytest.mark.parametrize(
    ("method", "said"),
    [
        ("2019", "the number 2019"),
        ("2015.0", "the number 2015.0"),
        ("null", "null"),
        ('["2019"]', "a list"),
        ('{"a": 1}', "an object"),
        ("true", "true"),
        ('"2020"', '"2020"'),
    ],
)
def test_a_method_that_is_not_one_of_the_two_strings_is_named_in_json_terms(
    app: Api, method: str, said: str
) -> None:
    body = f'{{"method": {method}, "materials": [{{"mass_kg": "1"}}]}}'.encode()
    problem = assert_problem(_mci(app, body), 422, "format", "method: ", said)
    assert "Decimal" not in problem["detail"], problem["detail"]
    assert '"2015" or "2019"' in problem["detail"], problem["detail"]


# -- GET /v1/lots/{id}: the first 200 custody changes and handovers, and whether that is all --


def test_a_lots_custody_and_transit_cut_at_200_say_so(database_url: str, tmp_path: Path) -> None:
    with running_api(database_url, tmp_path / "home") as app:
        mill = _mill_with_lots(app, 1)
        dyer = app.enrol("tintoria", roles=["supplier"], facilities=[facility()])
        lot = "urn:spola:lot:seteria:L0"
        sends = [mill.sign(handover(f"D{n}", dyer.actor, [take(lot, "0.1")])) for n in range(201)]
        app.accept(sends[:199])  # "made" and 199 "sent": 200 changes, all shown
        whole = app.client.get(f"/v1/lots/{lot}").json()
        assert (len(whole["custody"]), whole["custody_complete"]) == (200, True)

        app.accept(sends[199])
        cut = app.client.get(f"/v1/lots/{lot}").json()
        assert (len(cut["custody"]), cut["custody_complete"]) == (200, False)
        assert cut["custody"] == whole["custody"]  # the first 200, as the docs say
        assert (len(cut["in_transit"]), cut["in_transit_complete"]) == (200, True)

        # A sender can put a lot in transit in any number of tiny handovers: the answer (and
        # the read behind it) stops at 200 of them and says so.
        app.accept(sends[200])
        more = app.client.get(f"/v1/lots/{lot}").json()
        assert (len(more["in_transit"]), more["in_transit_complete"]) == (200, False)
        assert more["in_transit"] == cut["in_transit"]  # the first 200, in log order


def test_an_items_history_says_it_is_whole(app: Api) -> None:
    mill = app.enrol("seteria", roles=["supplier", "brand"], facilities=[facility()])
    scarf = "urn:spola:item:seteria:S1"
    app.accept(mill.sign(material("urn:spola:lot:seteria:L0")))
    app.accept(mill.sign(process([take("urn:spola:lot:seteria:L0", "1")], [], [item(scarf)])))
    body = app.client.get(f"/v1/items/{scarf}").json()
    assert [c["action"] for c in body["history"]] == ["made"]
    assert body["history_complete"] is True


# -- GET /v1/log/entries: a page bounded in bytes as well as in entries ---------------------

PAGE_BYTES = 100_000


def _big_handover(mill: Terminal, to: str, n: int) -> Envelope:
    """A valid handover of 256 lots with 40-character ids: an entry of about 38 KB (logged,
    not applied: the mill holds none of them)."""
    lots = [f"urn:spola:lot:seteria:{n:04d}{'x' * 32}{line:04d}" for line in range(256)]
    return mill.sign(handover(f"BIG-{n}", to, [take(lot, "1") for lot in lots]))


def test_a_page_of_entries_stops_at_the_byte_bound_and_paging_on_reads_every_entry(
    database_url: str, tmp_path: Path
) -> None:
    with running_api(database_url, tmp_path / "home", max_body_bytes=PAGE_BYTES) as app:
        mill = app.enrol("seteria", roles=["supplier"], facilities=[facility()])
        dyer = app.enrol("tintoria", roles=["supplier"], facilities=[facility()])
        for n in range(6):
            (logged,) = app.accept(_big_handover(mill, dyer.actor, n))
            assert logged["applied"] is False
        size = app.tree_size()

        first = app.client.get("/v1/log/entries", params={"start": 0, "end": size}).json()
        sizes = [len(base64.b64decode(row["entry"])) for row in first["entries"]]
        assert sum(sizes) <= PAGE_BYTES < sum(sizes) + 38_000
        assert len(sizes) < size and first["tree_size"] == size

        rows: list[dict[str, Any]] = []
        while len(rows) < size:  # as docs/api.md says: on from the last index + 1
            page = app.client.get("/v1/log/entries", params={"start": len(rows), "end": size})
            assert page.json()["entries"], page.text
            rows += page.json()["entries"]
        assert [row["index"] for row in rows] == list(range(size))


# -- a parameter given twice: which one counts would be a guess --------------------------------


@pytest.mark.parametrize(
    ("target", "name"),
    [
        # Two categories answered as the last one alone would look like "no leather here".
        ("/v1/catalogue/materials?category=leather&category=metal", "category"),
        ("/v1/catalogue/processes?stage=yarn&stage=fabric", "stage"),
        ("/v1/log/proof/inclusion?index=0&index=1", "index"),
        ("/v1/log/proof/consistency?first=1&first=2", "first"),
        ("/v1/log/entries?start=0&start=1", "start"),
        ("/v1/actors?offset=0&offset=1", "offset"),
        ("/v1/lots/urn:spola:lot:seteria:L0/trace?limit=1&limit=2", "limit"),
        ("/v1/actors/urn:spola:actor:operator/holdings?limit=1&limit=2", "limit"),
        ("/v1/passports?limit=1&limit=2", "limit"),
        ("/v1/items/urn:spola:item:x/circularity?method=2015&method=2019", "method"),
        (
            "/v1/actors/urn:spola:actor:operator/circularity?weighting=mass&weighting=x",
            "weighting",
        ),
    ],
)
def test_a_read_parameter_given_twice_is_refused_naming_it(
    app: Api, target: str, name: str
) -> None:
    _mill_with_lots(app, 1)
    response = app.client.get(target)
    assert_problem(response, 400, "bad-request", f"query.{name}: given more than once")
