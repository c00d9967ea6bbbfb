"""``Retry-After`` (RFC 9110 §10.2.3) as the terminal reads it, and how long it then waits."""

from __future__ import annotations

import math

import httpx
import pytest

from signer.client import RetryPolicy
from signer.errors import RateLimitedError, TransportError
from signer.transport import HttpTransport, retry_after


def answering(status: int, headers: dict[str, str] | None = None) -> HttpTransport:
    mock = httpx.MockTransport(lambda request: httpx.Response(status, headers=headers))
    return HttpTransport(client=httpx.Client(base_url="http://ledger.test", transport=mock))


@pytest.mark.parametrize(("text", "seconds"), [("120", 120.0), (" 7 ", 7.0), ("0", 0.0)])
def test_delta_seconds_are_read_as_seconds(text: str, seconds: float) -> None:
    assert retry_after(text) == seconds


def test_an_http_date_is_read_as_the_time_until_it() -> None:
    assert retry_after("Fri, 31 Dec 9999 23:59:59 GMT") > 10**10  # left to the client's cap
    assert retry_after("Sun, 06 Nov 1994 08:49:37 GMT") == 0.0  # passed: no wait at all


@pytest.mark.parametrize(
    "text",
    [None, "", "soon", "-5", "1.5", "1e3", "0x10", "Sun, 06 Nov 1994 08:49:37 -0000", "9" * 13,
     "Sun, 06 Nov 1994 08:49:37 GMT" + " " * 60 + "x"],
)  # fmt: skip
def test_anything_else_is_no_retry_after(text: str | None) -> None:
    assert retry_after(text) is None


def test_a_429_is_rate_limited_and_carries_the_wait_asked() -> None:
    with pytest.raises(RateLimitedError, match=r"429 .*Retry-After: 120 s") as busy:
        answering(429, {"retry-after": "120"}).submit([])
    assert busy.value.retry_after == 120.0
    with pytest.raises(RateLimitedError) as bare:
        answering(429).checkpoint()
    assert bare.value.retry_after is None


def test_a_5xx_with_retry_after_carries_it_and_is_not_a_rate_limit() -> None:
    with pytest.raises(TransportError) as unavailable:
        answering(503, {"retry-after": "30"}).checkpoint()
    assert unavailable.value.retry_after == 30.0
    assert not isinstance(unavailable.value, RateLimitedError)  # it may have been logged
    with pytest.raises(TransportError) as failed:
        answering(500).checkpoint()
    assert failed.value.retry_after is None


def test_the_wait_asked_is_kept_up_to_the_cap() -> None:
    retry = RetryPolicy(jitter=lambda: 1.0)
    assert retry.wait(0, 10.0) == 10.0
    assert retry.wait(5, 0.0) == 0.0
    assert retry.wait(0, 86_400.0) == retry.max_retry_after == 300.0  # not a day
    assert retry.wait(0, -3.0) == 0.0


@pytest.mark.parametrize("asked", [None, math.nan, math.inf])
def test_without_a_usable_retry_after_the_backoff_decides(asked: float | None) -> None:
    retry = RetryPolicy(jitter=lambda: 1.0)
    assert [retry.wait(n, asked) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


def test_no_request_starts_once_the_deadline_has_passed() -> None:
    calls: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, text="checkpoint")

    transport = HttpTransport(
        client=httpx.Client(base_url="http://ledger.test", transport=httpx.MockTransport(record)),
        deadline=0.0,  # time.monotonic() is past it
    )
    with pytest.raises(TransportError, match="no time left for GET /v1/log/checkpoint"):
        transport.checkpoint()
    assert calls == []


@pytest.mark.parametrize("attempts", [0, -1])
def test_a_policy_without_one_attempt_is_refused_when_made(attempts: int) -> None:
    # A policy of no attempts made every request fail with AssertionError("unreachable").
    with pytest.raises(ValueError, match="at least one attempt"):
        RetryPolicy(attempts=attempts)
    with pytest.raises(ValueError, match="at least one attempt"):
        RetryPolicy.no_wait(attempts)
