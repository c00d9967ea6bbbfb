"""The resolver as GS1 tooling and phones use it: the GS1-Conformant Resolver's rules, over HTTP.

A brand's passports for items under three GTINs (one a GTIN-8, one a GTIN-12, one a GTIN-13
when written without its leading zeros) and for a batch, whose items' serials the log does not
know. Each test names the conformance statement it checks (GS1 Digital Link 1.2 / GS1-
Conformant Resolver 1.x, as the GS1 resolver test suite words them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.identifiers import DigitalLink
from tests.integration.api_support import Api, assert_problem, running_api
from tests.integration.test_scan_path_review import silk_passports

pytestmark = pytest.mark.integration

GTIN13 = "08000000001016"  # "8000000001016" as a GTIN-13
GTIN12 = "00012345678905"  # "012345678905" as a GTIN-12 (UPC-A)
GTIN8 = "00000096385074"  # "96385074" as a GTIN-8
PIECE = DigitalLink(GTIN13, serial="S1")
SMALL = DigitalLink(GTIN8, serial="S8")
UPC = DigitalLink(GTIN12, serial="U1")
BATCH = DigitalLink(GTIN13, lot="L26")
JSON = {"Accept": "application/json"}
LINKSET = {"Accept": "application/linkset+json"}


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """The app over one brand's passports for ``PIECE``, ``SMALL``, ``UPC`` and ``BATCH``."""
    with running_api(database_url, tmp_path / "home") as api:
        silk_passports(
            api, [PIECE, SMALL, UPC], BATCH, lambda link: f"Foulard {link.serial or link.lot}"
        )
        yield api


def _uri(api: Api, link: DigitalLink) -> str:
    return link.uri(api.settings.public_base_url)


def _path(api: Api, link: DigitalLink) -> str:
    return _uri(api, link).removeprefix(api.settings.public_base_url)


def _links(header: str) -> dict[str, dict[str, str]]:
    """An RFC 8288 ``Link`` header as {rel: {"href": ..., param: value}} (one link per rel)."""
    found: dict[str, dict[str, str]] = {}
    for target, params in re.findall(r"<([^>]*)>((?:\s*;\s*[\w*-]+=\"[^\"]*\")*)", header):
        fields = dict(re.findall(r"([\w*-]+)=\"([^\"]*)\"", params))
        found[fields["rel"]] = {"href": target} | fields
    return found


def test_a_short_gtin_names_the_same_passport_as_its_14_digits(site: Api) -> None:
    # Digital Link URI syntax: a GTIN-8, -12 or -13 in the path is the GTIN-14 it pads to.
    for link, short in [(PIECE, "8000000001016"), (UPC, "012345678905"), (SMALL, "96385074")]:
        answer = site.client.get(f"/01/{short}/21/{link.serial}", headers=LINKSET)
        assert answer.status_code == 200, answer.text
        assert answer.json()["linkset"][0]["anchor"] == _uri(site, link)


def test_data_attributes_and_foreign_parameters_do_not_break_resolution(site: Api) -> None:
    # GS1 Digital Link: data attributes ride in the query string (expiry 17, net weight 3103);
    # a campaign's parameters do too. Neither names another passport nor is refused.
    query = "17=261231&3103=000195&utm_source=label&context=dscsaSaleableReturn"
    answer = site.client.get(f"{_path(site, PIECE)}?{query}", headers=LINKSET)
    assert answer.status_code == 200, answer.text
    assert answer.json()["linkset"][0]["anchor"] == _uri(site, PIECE)


def test_a_redirect_passes_the_query_string_on(site: Api) -> None:
    # "By default, SHALL pass on all key=value pairs in the query string of the request URI
    # when redirecting": the reader's language and the label's data attributes reach the page.
    query = "lang=en&17=261231&foo=bar%26baz"
    answer = site.client.get(
        f"{_path(site, PIECE)}?linkType=gs1:pip&{query}", follow_redirects=False
    )
    assert answer.status_code == 307, answer.text
    assert answer.headers["location"] == f"{_uri(site, PIECE)}?{query}"
    # A target with a fragment takes the query before it.
    data = site.client.get(
        f"{_path(site, PIECE)}?{query}&linkType=gs1:certificationInfo", follow_redirects=False
    )
    api = f"{site.settings.public_base_url}/v1/passports{_path(site, PIECE)}"
    assert data.headers["location"] == f"{api}?{query}#certificates"
    # Without another pair, the target is as the linkset gives it.
    plain = site.client.get(f"{_path(site, PIECE)}?linkType=gs1:pip", follow_redirects=False)
    assert plain.headers["location"] == _uri(site, PIECE)


def test_every_answer_and_redirect_lists_the_links_in_a_link_header(site: Api) -> None:
    # "SHOULD expose the full list of links available to the client in an HTTP Link header when
    # redirecting"; "all links exposed SHALL include the target URL, the link relationship type
    # and a human-readable title"; RFC 9264 section 6: rel="linkset" leads to the linkset.
    uri = _uri(site, PIECE)
    path = _path(site, PIECE)
    api = f"{site.settings.public_base_url}/v1/passports{path}"
    answers = [
        site.client.get(path, headers={"Accept": "text/html"}),
        site.client.get(path, headers={"Accept": "application/ld+json"}),
        site.client.get(path, params={"linkType": "linkset"}),
        site.client.get(path, params={"linkType": "gs1:pip"}, follow_redirects=False),
    ]
    for answer in answers:
        assert answer.status_code in (200, 307), answer.text
        links = _links(answer.headers["link"])
        assert links["linkset"]["href"] == f"{uri}?linkType=linkset"
        assert links["linkset"]["type"] == "application/linkset+json"
        assert links["https://gs1.org/voc/defaultLink"]["href"] == uri
        assert links["https://gs1.org/voc/pip"]["href"] == uri
        assert links["https://gs1.org/voc/sustainabilityInfo"]["href"] == api
        assert links["https://gs1.org/voc/certificationInfo"]["href"] == f"{api}#certificates"
        assert all(link["title"] and link["anchor"] == uri for link in links.values()), links


def test_the_resolver_answers_cross_origin_requests(site: Api) -> None:
    # "SHALL support CORS" and "SHALL support HTTP 1.1 GET, HEAD and OPTIONS requests": a web
    # app on another origin reads the linkset and the Link header.
    path = _path(site, PIECE)
    origin = {"Origin": "https://app.example.org"}
    answer = site.client.get(path, params={"linkType": "linkset"}, headers=origin)
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "link" in answer.headers["access-control-expose-headers"].lower()
    preflight = site.client.options(
        path,
        headers=origin | {"Access-Control-Request-Method": "GET",
                          "Access-Control-Request-Headers": "accept"},
    )  # fmt: skip
    assert preflight.status_code == 204, preflight.text
    assert preflight.headers["access-control-allow-origin"] == "*"
    allowed = {m.strip() for m in preflight.headers["access-control-allow-methods"].split(",")}
    assert allowed == {"GET", "HEAD", "OPTIONS"}
    assert {m.strip() for m in preflight.headers["allow"].split(",")} == allowed
    refused = site.client.get(f"/01/{GTIN13}/21/NOSUCH", headers=origin | JSON)
    assert refused.status_code == 404 and refused.headers["access-control-allow-origin"] == "*"
    described = site.client.get("/.well-known/gs1resolver", headers=origin)
    assert described.headers["access-control-allow-origin"] == "*"


def test_refusals_before_the_resolver_are_readable_cross_origin_too(
    database_url: str, tmp_path: Path
) -> None:
    # A web app told "too many requests", "not that method" or "broken escape" must be able to
    # read why: those refusals come from the app's limits and handlers, not the resolver's route.
    origin = {"Origin": "https://app.example.org"} | JSON
    with running_api(database_url, tmp_path / "home", rate_per_client=10) as api:
        item_path = f"/01/{GTIN13}/21/S1"
        refusals = [
            api.client.post(item_path, headers=origin),  # 405
            api.client.get(f"{item_path}%zz", headers=origin),  # a broken escape
            api.client.head(item_path, headers=origin),  # 404 without a body, a HEAD
        ]
        for _ in range(10):  # until the client's 10 a minute are spent
            refusals.append(api.client.get(item_path, headers=origin))
            if refusals[-1].status_code == 429:
                break
        assert [r.status_code for r in refusals[:3]] == [405, 422, 404]
        assert refusals[-1].status_code == 429
        for refused in refusals:
            assert refused.headers["access-control-allow-origin"] == "*", refused.headers
        elsewhere = api.client.get("/v1/actors", headers=origin)  # the API is not opened up
        assert "access-control-allow-origin" not in elsewhere.headers


def test_an_unknown_serial_of_a_batch_with_a_passport_is_not_answered_by_the_batch(
    site: Api,
) -> None:
    # Resolver 2.5.9 lets a resolver answer a URI at a less granular level. Not here: a label
    # /10/{lot}/21/{serial} with a serial the log does not know is what a counterfeit label
    # looks like, and answering it with the genuine batch's passport would vouch for it. The
    # scan says "no passport" (the page says so in the reader's language), naming the serial.
    path = f"{_path(site, BATCH)}/21/UNLOGGED7"
    for headers in (JSON, LINKSET):
        answer = site.client.get(f"{path}?17=261231", headers=headers, follow_redirects=False)
        assert_problem(answer, 404, "not-found", "UNLOGGED7")
        assert answer.headers["access-control-allow-origin"] == "*"
    page = site.client.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    typed = site.client.get(
        path, params={"linkType": "gs1:sustainabilityInfo"}, headers=JSON, follow_redirects=False
    )
    assert_problem(typed, 404, "not-found", "UNLOGGED7")
    # The batch itself answers at its own URI; a serial with its own passport is that item,
    # whatever lot the label gives.
    batch = site.client.get(_path(site, BATCH), headers=LINKSET, follow_redirects=False)
    assert batch.status_code == 200 and batch.json()["linkset"][0]["anchor"] == _uri(site, BATCH)
    other_lot = f"/01/{GTIN13}/10/L99/21/S1"
    own = site.client.get(other_lot, headers=LINKSET, follow_redirects=False)
    assert own.status_code == 200 and own.json()["linkset"][0]["anchor"] == _uri(site, PIECE)


def test_the_description_file_speaks_the_resolver_standards_terms(site: Api) -> None:
    # Resolver standard section 3 and its schema: primary keys by AI ("01", not the deprecated
    # convenience alpha "gtin"), link type namespaces once each, and no claim that the default
    # link type can be the linkset: without linkType or its media type a reader gets the page.
    described = site.client.get("/.well-known/gs1resolver")
    assert described.status_code == 200, described.text
    body = described.json()
    assert body["resolverRoot"] == site.settings.public_base_url
    assert body["supportedPrimaryKeys"] == ["01"]
    assert body["supportedLinkType"] == [{"namespace": "https://gs1.org/voc/", "prefix": "gs1:"}]
    assert body["linkTypeDefaultCanBeLinkset"] is False
    page = site.client.get(_path(site, PIECE))
    assert page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/414/8000000000007", "AI 414 (GLN)"),
        ("/00/080000000000000016", "AI 00 (SSCC)"),
        ("/8004/8000000ABC-1", "AI 8004 (GIAI)"),
    ],
)
def test_another_primary_key_is_told_what_this_resolver_serves(
    site: Api, path: str, key: str
) -> None:
    # A label of another GS1 key pointed at this resolver: the generic "no route" said nothing
    # of why; a program is told which key it sent and what is served, a browser gets the page.
    assert_problem(site.client.get(path, headers=JSON), 404, "not-found", key, "/01/{gtin}")
    page = site.client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    for unknown in ("/414", "/4140/8000000000007", "/nothing/here"):
        answer = site.client.get(unknown, headers=JSON)
        assert answer.status_code == 404 and "is not served here" not in answer.text
