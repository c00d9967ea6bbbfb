"""schemathesis against the app's own OpenAPI: no 5xx, every 4xx a problem, declared schemas kept.

The app is the real one (``create_app``, its lifespan run by ``running_api``) over a SQLite
database the demo has seeded, so generated identifiers sometimes hit real actors, lots, passports
and log entries. For every operation in ``/openapi.json`` schemathesis generates requests that
follow the schema (positive) and requests that break it (negative: wrong types, missing or
extra parameters, malformed bodies); each is sent in process to the ASGI app and checked:

- no 5xx, ever;
- every 4xx is ``application/problem+json`` with ``type``, ``title``, ``status`` (equal to the
  response's) and ``detail`` (RFC 9457, as ``api.problems`` writes them); pages for people
  (operations whose spec declares ``text/html``) may answer a refusal with a page instead;
- a response whose status and media type the spec declares conforms to the declared schema.

Deterministic (``derandomize``: the same requests on every run) and bounded: a fixed number of
examples per operation and mode, at least ``MIN_REQUESTS`` requests in all, counted and asserted.

SQLite only: what is fuzzed here is the HTTP layer (routing, parameter parsing, content
negotiation, problem details), which does not depend on the engine; the store's behaviour on
PostgreSQL is covered by the storage and API tests that run on both engines.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.integration.api_support import PROBLEM_JSON, seeded_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES_PER_OPERATION = 25  # per generation mode
MIN_REQUESTS = 1000
BASE_URL = "http://testserver"
FUZZ = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


@pytest.fixture
def demo_app(tmp_path: Path) -> Iterator[FastAPI]:
    with seeded_api(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path / "home") as api:
        app = api.client.app
        assert isinstance(app, FastAPI)
        yield app


def declares_html(operation: Any) -> bool:
    """A page for people (the spec declares ``text/html``): its refusals are pages too."""
    responses = operation.definition.raw.get("responses", {})
    return any("text/html" in (answer.get("content") or {}) for answer in responses.values())


def assert_problem_if_4xx(
    status: int, headers: dict[str, list[str]], body: bytes, *, html: bool = False
) -> None:
    assert status < 500, f"server error {status}: {body[:300]!r}"
    if status < 400:
        return
    content_type = headers.get("content-type", [""])[0]
    if html and content_type.startswith("text/html"):
        return  # e.g. the directory page re-rendering its form with the error named
    assert content_type == PROBLEM_JSON, (status, headers, body[:300])
    problem: dict[str, Any] = json.loads(body)
    assert problem["status"] == status, problem
    for member in ("type", "title", "detail"):
        assert isinstance(problem.get(member), str) and problem[member], problem


def fuzz_operation(operation: Any, mode: GenerationMode, session: ASGIClient) -> Counter[int]:
    """Send this operation's generated requests in ``mode``; their statuses, counted."""
    statuses: Counter[int] = Counter()
    html = declares_html(operation)

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(session=session, base_url=BASE_URL)
        statuses[response.status_code] += 1
        assert_problem_if_4xx(response.status_code, response.headers, response.content, html=html)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    try:
        run()
    except Unsatisfiable:
        # Negative mode for an operation with no parameters and no body: nothing to break.
        assert mode is GenerationMode.NEGATIVE, operation.label
    return statuses


def test_generated_requests_get_no_5xx_and_only_problem_4xx(demo_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_dict(demo_app.openapi())
    # Not entered: ``running_api`` already runs the app's lifespan; this client only sends.
    session = ASGIClient(cast(Any, demo_app))  # its ASGI types are narrower than Starlette's
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # an operation schemathesis cannot read fails
        operations.append(result.ok())
    per_operation: dict[str, Counter[int]] = {}
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for operation in operations:
            statuses = fuzz_operation(operation, mode, session)
            per_operation.setdefault(operation.label, Counter()).update(statuses)

    total = sum(sum(statuses.values()) for statuses in per_operation.values())
    assert total >= MIN_REQUESTS, per_operation
    assert len(per_operation) == len(operations) >= 30  # every route in the spec was exercised
    assert all(per_operation.values()), [op for op, seen in per_operation.items() if not seen]
    statuses = sum(per_operation.values(), Counter())
    assert statuses[200] and statuses[400] and statuses[404]  # success and refusal both reached


def test_openapi_declares_refusals_as_problems_not_fastapi_validation_errors(
    demo_app: FastAPI,
) -> None:
    spec = demo_app.openapi()
    assert "HTTPValidationError" not in json.dumps(spec)
    problem = spec["components"]["schemas"]["Problem"]
    assert problem["required"] == ["type", "title", "status", "detail"]
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            refused = operation["responses"]["4XX"]["content"]
            assert refused == {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
