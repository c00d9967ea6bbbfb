"""Refusals of the HTTP layer that nothing else pinned: each is asserted whole, over real HTTP.

Every test here was written against a copy of the service with one refusal taken out (its
``raise`` replaced by nothing, or a parameter's declared bound dropped), where it failed: the
request was answered as if it were valid (a 200 computed with a default in place of the refused
value, a 500 from the database), or refused by a later check with a less precise detail.
Each asserts the exact status, problem type and detail, so the refusal can neither disappear
nor be answered by a twin. Each runs on SQLite and PostgreSQL, except the checks of the
settings and of the operator's home, which read the environment and files only.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from api.demo_story import ATELIER, JACKETS, TWILL
from api.operator import KEY_FILE, KEY_HEADER, LOG_FILE, OperatorHomeError, init_home, load_operator
from api.settings import Settings, SettingsError
from ledger.events import OPERATOR_ACTOR
from tests.integration.api_support import Api, assert_problem, urn

pytestmark = pytest.mark.integration

CIRCULARITY = f"/v1/actors/{OPERATOR_ACTOR}/circularity"


# -- GET /v1/actors/{id}/circularity: the weighting ---------------------------------------------


def test_revenue_weighting_is_refused_saying_the_ledger_records_no_revenue(app: Api) -> None:
    # Not the generic "is mass or revenue" answer: revenue is a weighting the API knows of, and
    # the client is told why it cannot have it and what to ask for instead.
    response = app.client.get(f"{CIRCULARITY}?weighting=revenue")

    body = assert_problem(response, 422, "format")
    assert body["detail"] == (
        "weighting: revenue weighting needs each product's revenue (field 'revenue'), which "
        "the ledger does not record; use weighting=mass"
    )


@pytest.mark.parametrize("weighting", ["turnover", "MASS", "mass ", ""])
def test_a_weighting_other_than_mass_or_revenue_is_refused_not_read_as_mass(
    app: Api, weighting: str
) -> None:
    # An unknown weighting was answered 200 with the mass-weighted figures, as if asked for.
    response = app.client.get(CIRCULARITY, params={"weighting": weighting})

    body = assert_problem(response, 422, "format")
    assert body["detail"] == f"weighting: is mass or revenue, not {weighting!r}"


def test_mass_weighting_is_answered(app: Api) -> None:
    # The counterpart of the two refusals above: the one weighting served is not refused.
    response = app.client.get(CIRCULARITY, params={"weighting": "mass"})

    assert response.status_code == 200, response.text
    assert response.json()["company_mci"]["weighting"] == "mass"


# -- Declared bounds of query and path parameters -----------------------------------------------

ITEM = JACKETS[0].removeprefix("/")
SAFE = 2**53  # one past the largest integer a JSON client reads exactly
OVER_INT64 = "99999999999999999999999"
AT_LEAST_1 = "Input should be greater than or equal to 1"
AT_LEAST_0 = "Input should be greater than or equal to 0"


def _at_most(bound: int) -> str:
    return f"Input should be less than or equal to {bound}"


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        # Without its bound each of these was answered as if it were valid: on the demo
        # ledger a 200 (an empty page, every row at once for a negative limit, a page past
        # the bound) or a 500 (a number over 64 bits reaching the database).
        (f"/v1/log/entries?start={SAFE - 1}&end={SAFE + 1}", f"query.end: {_at_most(SAFE)}"),
        (f"/v1/lots/{TWILL}/trace?limit=0", f"query.limit: {AT_LEAST_1}"),
        (f"/v1/lots/{TWILL}/trace?limit=1001", f"query.limit: {_at_most(1000)}"),
        (f"/v1/lots/{TWILL}/trace?cursor=-1", f"query.cursor: {AT_LEAST_0}"),
        (f"/v1/lots/{TWILL}/trace?cursor=10001", f"query.cursor: {_at_most(10_000)}"),
        (f"/v1/items/{ITEM}/trace?limit=-1", f"query.limit: {AT_LEAST_1}"),
        (f"/v1/items/{ITEM}/trace?cursor=-1", f"query.cursor: {AT_LEAST_0}"),
        (f"/v1/items/{ITEM}/trace?cursor=10001", f"query.cursor: {_at_most(10_000)}"),
        (f"/v1/actors/{urn(ATELIER)}/holdings?limit=0", f"query.limit: {AT_LEAST_1}"),
        (f"/v1/actors/{urn(ATELIER)}/holdings?limit=1001", f"query.limit: {_at_most(1000)}"),
        ("/v1/epcis/events?limit=10001", f"query.limit: {_at_most(10_000)}"),
        ("/v1/epcis/events?cursor=-1", f"query.cursor: {AT_LEAST_0}"),
        (f"/v1/epcis/events?cursor={OVER_INT64}", f"query.cursor: {_at_most(SAFE)}"),
        (
            "/v1/epcis/events?since=2026-01-01T00:00:00." + "0" * 44 + "Z",
            "query.since: String should have at most 64 characters",
        ),
        (f"/v1/entries/{OVER_INT64}/verdict", f"path.index: {_at_most(SAFE - 1)}"),
        ("/v1/passports?limit=0", f"query.limit: {AT_LEAST_1}"),
        ("/v1/passports?limit=-1", f"query.limit: {AT_LEAST_1}"),
        ("/v1/passports?limit=1001", f"query.limit: {_at_most(1000)}"),
        (
            "/v1/passports?after=" + "0" * 131,
            "query.after: String should have at most 130 characters",
        ),
        (f"/{ITEM}?lang=" + "i" * 17, "query.lang: String should have at most 16 characters"),
    ],
)
def test_a_parameter_beyond_its_declared_bound_is_refused_naming_it(
    app: Api, path: str, detail: str
) -> None:
    # Asking for JSON: the passport page refuses a browser with a page.
    response = app.client.get(path, headers={"Accept": "application/json"})

    body = assert_problem(response, 400, "bad-request")
    assert body["detail"] == detail


# -- SPOLA_PUBLIC_BASE_URL ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://id.example.com",
        "id.example.com",
        "https://",
        "https://id.example.com?lang=it",
        "https://id.example.com#top",
    ],
)
def test_a_public_base_url_that_is_not_an_http_origin_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    # Every QR code and label is built on it: a base URL with another scheme, no host, a query
    # or a fragment would print labels no phone can resolve.
    monkeypatch.setenv("SPOLA_PUBLIC_BASE_URL", url)

    with pytest.raises(SettingsError) as refused:
        Settings.from_env()

    assert str(refused.value) == (
        f"SPOLA_PUBLIC_BASE_URL={url!r} must be an http(s) URL such as https://id.example.com"
    )


# -- The operator's home ------------------------------------------------------------------------

SEED = base64.b64encode(bytes(range(32))).decode()  # a well-formed seed, in a damaged file


@pytest.mark.parametrize(
    "key_text",
    [
        f"spola operator key v2\n{SEED}\n",  # another header
        f"{SEED}\n",  # the seed alone
        f"{KEY_HEADER}\n",  # the header alone
        f"{KEY_HEADER}\n{SEED}\n{SEED}\n",  # a line too many
        f"{KEY_HEADER}\n{SEED[:-4]}\n",  # a seed of 30 bytes
        f"{KEY_HEADER}\n{SEED[:-1]}*\n",  # not base64
    ],
    ids=["header", "no-header", "no-seed", "extra-line", "short-seed", "not-base64"],
)
def test_a_damaged_log_key_file_is_refused_naming_the_home(tmp_path: Path, key_text: str) -> None:
    # A key file in any other layout was read as long as its second line decoded (another
    # header, a line too many), or failed with an UnboundLocalError or an IndexError.
    home = tmp_path / "home"
    init_home(home)
    (home / KEY_FILE).write_text(key_text)  # keeps the file's mode 0600

    with pytest.raises(OperatorHomeError) as refused:
        load_operator(home)

    assert str(refused.value) == f"{home} holds a damaged log key or log.json"
    assert SEED[:16] not in str(refused.value)


@pytest.mark.parametrize(
    "log_text",
    ["{}\n", "not json\n", '["spola.local/ledger"]\n'],
    ids=["no-origin", "not-json", "not-an-object"],
)
def test_a_damaged_log_json_is_refused_naming_the_home(tmp_path: Path, log_text: str) -> None:
    home = tmp_path / "home"
    init_home(home)
    (home / LOG_FILE).write_text(log_text)

    with pytest.raises(OperatorHomeError) as refused:
        load_operator(home)

    assert str(refused.value) == f"{home} holds a damaged log key or log.json"


def test_an_intact_home_is_loaded(tmp_path: Path) -> None:
    # The counterpart of the refusals above: the home `spola init` writes is read back.
    home = tmp_path / "home"
    init_home(home, origin="id.example.com/ledger")

    assert load_operator(home).origin == json.loads((home / LOG_FILE).read_text())["origin"]
