"""``HttpTransport`` sorts the ledger's answers: retry later, refused, or receipts."""

from __future__ import annotations

import httpx
import pytest

from ledger.errors import FormatError
from signer.errors import RefusedBatchError, TransportError
from signer.transport import HttpTransport


def transport(handler: httpx.MockTransport) -> HttpTransport:
    return HttpTransport(client=httpx.Client(base_url="http://ledger.test", transport=handler))


def answering(status: int, **kwargs: object) -> HttpTransport:
    return transport(httpx.MockTransport(lambda request: httpx.Response(status, **kwargs)))  # type: ignore[arg-type]


def test_server_errors_are_worth_retrying() -> None:
    with pytest.raises(TransportError, match="503"):
        answering(503).submit([])


def test_timeouts_are_worth_retrying() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(TransportError, match="in time"):
        transport(httpx.MockTransport(slow)).submit([])


def test_problem_details_become_a_refusal_with_status_and_kind() -> None:
    problem = {"type": "urn:spola:problem:feed", "title": "Feed", "detail": "feed gap: seq 4"}
    with pytest.raises(RefusedBatchError, match="feed gap") as refused:
        answering(409, json=problem).submit([])
    assert (refused.value.status, refused.value.kind) == (409, "feed")


def test_an_answer_that_is_not_json_is_worth_retrying() -> None:
    with pytest.raises(TransportError, match="not JSON"):
        answering(200, text="<html>proxy</html>").submit([])


def test_consistency_proof_for_other_sizes_is_refused() -> None:
    body = {"first": 1, "second": 9, "proof": []}
    with pytest.raises(FormatError, match="other tree sizes"):
        answering(200, json=body).consistency_proof(1, 8)
