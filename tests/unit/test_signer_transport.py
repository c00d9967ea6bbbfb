"""``HttpTransport`` sorts the ledger's answers: retry later, refused, or receipts."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ledger.errors import FormatError
from signer.errors import RefusedBatchError, SignerError, TransportError
from signer.transport import MAX_ANSWER_BYTES, HttpTransport


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


def test_a_redirect_is_named_not_read_as_the_answer() -> None:
    moved = answering(301, headers={"location": "https://ledger.test/v1/log/key"}, text="<html>")
    with pytest.raises(RefusedBatchError, match=r"redirecting to https://ledger\.test") as refused:
        moved.log_key()  # the page of a 301 is no log key, to be pinned for good
    assert refused.value.status == 301


def test_an_endless_answer_is_read_only_up_to_the_limit() -> None:
    sent = [0]

    def endless() -> Iterator[bytes]:
        while sent[0] < 2 * MAX_ANSWER_BYTES:
            sent[0] += 1024 * 1024
            yield b" " * (1024 * 1024)

    hostile = transport(httpx.MockTransport(lambda request: httpx.Response(200, content=endless())))
    with pytest.raises(TransportError, match="over 32 MiB"):
        hostile.checkpoint()
    assert sent[0] <= MAX_ANSWER_BYTES + 1024 * 1024


def test_a_problem_detail_cannot_break_the_line_or_drive_the_terminal() -> None:
    problem = {"type": "urn:spola:problem:x\nfake", "detail": "bad\n\x1b[2Jspola: all fine"}
    with pytest.raises(RefusedBatchError) as refused:
        answering(422, json=problem).submit([])
    message = str(refused.value)
    assert "\n" not in message and "\x1b" not in message
    assert "bad\\n\\x1b[2Jspola: all fine" in message


def test_an_answer_nested_too_deep_is_not_json() -> None:
    with pytest.raises(TransportError, match="not JSON"):
        answering(200, content=b"[" * 100_000).submit([])


@pytest.mark.parametrize(
    "typed", ["ledger.example.it", "http://[::1", "ftp://ledger.test", "http://"]
)
def test_a_ledger_address_that_is_no_http_url_is_refused_at_once(typed: str) -> None:
    with pytest.raises(SignerError, match="--ledger") as refused:
        HttpTransport.connect(typed)  # not six retries of a request that cannot be made
    assert not isinstance(refused.value, TransportError)


@pytest.mark.parametrize("seconds", [-1.0, 0.0, float("nan"), float("inf")])
def test_a_timeout_that_is_no_positive_number_is_refused(seconds: float) -> None:
    with pytest.raises(SignerError, match="--timeout"):
        HttpTransport.connect("https://ledger.test", timeout=seconds)
