"""``POST /v1/entries`` against a hostile client: bodies that cost more to parse than they
weigh, and key ids that are not key ids.

Each test runs on SQLite and PostgreSQL (the ``database_url`` fixture), through the real ASGI
app. The per-key rate limit is switched off here, so the route is the only reader of a body:
the rate limit reads it first otherwise (``tests/integration/test_write_path_middleware.py``).
The route's parser is watched where a test says what it must not parse, or where.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.routes import entries
from ledger.envelope import MAX_SIGNATURES
from tests.integration.api_support import (
    Api,
    Parses,
    assert_problem,
    batch_body,
    running_api,
    watch_parses,
)
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

# A body of 8 MiB (the default limit) made of the smallest JSON values there are.
TINY_VALUES = 2_700_000


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(database_url, tmp_path / "home", rate_per_key=0) as running:
        yield running


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Parses:
    """Each body the route parses, and whether on the event loop."""
    return watch_parses(monkeypatch, entries)


def _tiny_batch(count: int) -> bytes:
    return b'{"envelopes":[' + b",".join([b"[]"] * count) + b"]}"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_tiny_batch(100_000), id="batch-of-empty-arrays"),
        pytest.param(b'{"payload":[' + b",".join([b"0"] * 100_000) + b"]}", id="one-envelope"),
        pytest.param(b"[" + b",".join([b"{}"] * 100_000) + b"]", id="array-of-objects"),
    ],
)
def test_a_body_of_more_values_than_a_full_batch_holds_is_refused_before_parsing(
    app: Api, parses: Parses, body: bytes
) -> None:
    problem = assert_problem(app.post(body), 413, "too-large", "commas and opening brackets")
    assert str(app.settings.max_batch) in problem["detail"]
    assert parses == []
    assert app.tree_size() == 1


def test_eight_mebibytes_of_empty_arrays_are_refused_unparsed(app: Api, parses: Parses) -> None:
    # Parsed, the body is 2.7 million lists: seconds of a worker and 400 MB of memory. Each
    # list is a comma and an opening bracket, and the batch adds two brackets and no comma.
    body = _tiny_batch(TINY_VALUES)
    assert len(body) <= app.settings.max_body_bytes
    marks = 2 * TINY_VALUES + 1
    assert_problem(
        app.post(body), 413, "too-large", f"body has {marks} commas and opening brackets"
    )
    assert parses == []


def test_a_body_within_the_bound_is_parsed_off_the_event_loop(app: Api, parses: Parses) -> None:
    # Even bounded, a batch of 8 MiB takes milliseconds to parse: no other request waits.
    app.accept(app.operator.register("urn:spola:actor:x"))
    app.accept([app.operator.register("urn:spola:actor:y")])
    assert parses == [("api.routes.entries", False)] * 2


def test_a_full_batch_of_envelopes_with_every_signature_allowed_passes_the_bound(app: Api) -> None:
    # The bound refuses no body a batch of max_batch envelopes could be: such a batch is
    # refused for what it is (here, more signatures than an event carries), not for its size.
    envelope = Terminal(actor="urn:spola:actor:x").sign_unchecked({"type": "actor"}).to_json()
    envelope["signatures"] = envelope["signatures"] * MAX_SIGNATURES
    response = app.post(batch_body([envelope] * app.settings.max_batch))
    assert_problem(response, 422, "format", "envelopes[0]", "exactly one signature")


@pytest.mark.parametrize("batch", [False, True], ids=["one", "batch"])
def test_an_oversize_key_id_is_refused_and_not_echoed(app: Api, batch: bool) -> None:
    envelope = Terminal(actor="urn:spola:actor:x").sign_unchecked({"type": "actor"}).to_json()
    envelope["signatures"][0]["keyid"] = "k" * 100_000
    response = app.post(batch_body([envelope]) if batch else json.dumps(envelope).encode())
    where = "envelopes[0]: " if batch else ""
    assert_problem(response, 422, "format", f"{where}signatures[0].keyid", "64 lowercase hex")
    assert len(response.content) < 1024, response.content[:300]
    assert app.tree_size() == 1


@pytest.mark.parametrize("keyid", ["A" * 64, "0" * 63, "0" * 65, "g" * 64, "0" * 63 + "\n"])
def test_a_key_id_that_no_key_can_have_is_refused_422(app: Api, keyid: str) -> None:
    envelope = Terminal(actor="urn:spola:actor:x").sign_unchecked({"type": "actor"}).to_json()
    envelope["signatures"][0]["keyid"] = keyid
    assert_problem(app.post(json.dumps(envelope).encode()), 422, "format", "signatures[0].keyid")


def test_a_well_formed_key_id_nobody_registered_is_still_unknown_403(app: Api) -> None:
    envelope = Terminal(actor="urn:spola:actor:x").sign_unchecked({"type": "actor"})
    assert_problem(app.post(envelope), 403, "unknown-key", envelope.signatures[0].keyid)
