"""``POST /v1/entries`` with JSON that parses but must not be accepted: a 4xx problem, never a 500.

Lone UTF-16 surrogates (refused by I-JSON, RFC 7493) in a signed payload or in the request body,
and quantities written with digits other than ASCII 0-9 ("²" made ``Decimal`` raise, "٣" was
taken for 3: a second spelling of one amount). Each refusal leaves the log as it was.

Each test runs on SQLite and PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

import pytest

from ledger.envelope import sign_envelope
from ledger.events import event_time_now
from tests.integration.api_support import Api, assert_problem
from tests.supply import material
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

LONE = "lone surrogate in a string (I-JSON, RFC 7493)"


def _signed_raw(terminal: Terminal, fields: str) -> bytes:
    """An envelope over a payload written by hand: the terminal's first event, ``fields`` its
    members after the header (parsing refuses a lone surrogate before it looks at order)."""
    assert terminal.seq == 0 and terminal.prev is None
    head = f'{{"actor":"{terminal.actor}","prev":null,"seq":0,"time":"{event_time_now()}",'
    return sign_envelope((head + fields + ',"v":1}').encode(), terminal.key).to_bytes()


@pytest.mark.parametrize(
    "fields",
    [
        '"type":"material","\\ud800":"\u00e9"',  # a member name, next to non-ASCII
        '"type":"material \\udc00 \u00e9"',  # a string
        '"type":"material","x":["\\uDBFF"]',  # upper-case hex, no non-ASCII
    ],
    ids=["member-name", "string", "nested"],
)
def test_payload_with_a_lone_surrogate_is_refused_422(app: Api, fields: str) -> None:
    terminal = app.enrol("filanda")
    size = app.tree_size()
    assert_problem(app.post(_signed_raw(terminal, fields)), 422, "format", LONE)
    assert app.tree_size() == size


def test_request_body_with_a_lone_surrogate_is_refused_400(app: Api) -> None:
    envelope = app.operator.register("urn:spola:actor:setificio").to_bytes()
    body = envelope.replace(b"{", '{"\\ud800":"\u00e9",'.encode(), 1)
    assert_problem(app.post(body), 400, "bad-request", LONE)
    assert app.tree_size() == 1


@pytest.mark.parametrize("amount", ["\u00b2", "\u0663", "1.\u0663", "\uff15"])
def test_quantity_with_digits_other_than_ascii_is_refused_422(app: Api, amount: str) -> None:
    terminal = app.enrol("filanda")
    size = app.tree_size()
    event = terminal.sign_unchecked(material("urn:spola:lot:filanda:Z", amount))
    assert_problem(app.post(event), 422, "format", ascii(amount), "ASCII 0-9")
    assert app.tree_size() == size
    # The feed did not move: the same event with ASCII digits is the terminal's first.
    app.accept(terminal.sign(material("urn:spola:lot:filanda:Z", "3")))
    assert app.tree_size() == size + 1


def test_a_problem_quoting_a_lone_surrogate_is_still_a_problem_not_a_500(app: Api) -> None:
    # /v1/circularity/mci reads its body with its own JSON reader and names what it refuses.
    body = '{"method":"2019","\\ud800\u00e9":1}'.encode()
    response = app.client.post(
        "/v1/circularity/mci", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "\\ud800" in response.json()["detail"]
