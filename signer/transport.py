"""How the terminal talks to the ledger: a small ``Transport`` protocol and its HTTP form.

A transport submits a batch of envelopes and returns the ledger's receipts, untrusted (the
client verifies them), and fetches the log's vkey and consistency proofs. It sorts failures
into two leaves: ``TransportError`` (no answer, a timeout, a 5xx, a 429: retry later; with the
ledger's ``Retry-After`` when it sends one, and ``RateLimitedError`` for a 429, which the ledger
answers before it reads the request) and ``RefusedBatchError`` (any other 4xx: the ledger read
the batch and said no). Retrying, backoff, the sync's deadline and verification are the
client's; the transport only keeps each request to the time left before ``deadline``, and
starts none once no time is left (``NotSentInTimeError``: nothing was sent).

httpx times each phase of a request on its own, so a ledger that trickles its answer a byte at
a time could hold a request past the deadline: a transport made by ``HttpTransport.connect``
opens its sockets through ``signer.deadline_sockets``, which bounds every connect, name
resolution, write and read by the time left.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, Protocol

import httpx

from ledger.envelope import Envelope
from ledger.errors import FormatError
from ledger.receipt import Receipt
from signer.deadline_sockets import DeadlineBackend, open_sockets_through
from signer.errors import (
    NotSentError,
    NotSentInTimeError,
    RateLimitedError,
    RefusedBatchError,
    SignerError,
    TransportError,
)

PROBLEM_PREFIX = "urn:spola:problem:"
# The problem members the terminal keeps with a refusal (RFC 9457 extension members): the key's
# owner and the actor the event claims, of a ``key-owner`` problem.
KEPT_MEMBERS: Final = ("key_owner", "claimed_actor")
# The largest honest answer, 1,000 receipts, is a few MiB; the terminal talks to a URL a person
# typed, and reads no more than this of whatever answers there.
MAX_ANSWER_BYTES: Final = 32 * 1024 * 1024
_DELTA_SECONDS: Final = re.compile(r"[0-9]{1,12}")  # RFC 9110 §10.2.3: 1*DIGIT
_MAX_HTTP_DATE: Final = 64  # characters of an HTTP-date looked at: "Sun, 06 Nov 1994 08:49:37 GMT"


class Transport(Protocol):
    def submit(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        """POST the batch; one receipt per envelope, in order (unverified)."""
        ...

    def log_key(self) -> str:
        """The log's C2SP vkey, as the ledger states it."""
        ...

    def checkpoint(self) -> bytes:
        """The latest signed checkpoint note (unverified)."""
        ...

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """The RFC 9162 proof that the tree of ``second`` leaves extends that of ``first``."""
        ...


class HttpTransport:
    """The ledger's HTTP API through an ``httpx.Client`` (any base URL, or a test client)."""

    def __init__(self, *, client: httpx.Client, deadline: float | None = None) -> None:
        self._client = client
        # A ``time.monotonic()`` instant: no request runs past it (the sync's ``--deadline``).
        self.deadline = deadline

    @classmethod
    def connect(cls, base_url: str, *, timeout: float = 30.0) -> HttpTransport:
        """A transport to the ledger at ``base_url``, an http:// or https:// address."""
        if not (math.isfinite(timeout) and timeout > 0):
            raise SignerError(f"--timeout {timeout}: must be a number of seconds above 0")
        try:
            url = httpx.URL(base_url.rstrip("/"))
        except httpx.InvalidURL as exc:
            raise SignerError(f"--ledger {base_url[:200]!r} is not a URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise SignerError(
                f"--ledger {base_url[:200]!r} is not an http:// or https:// address "
                "(such as https://ledger.example.it)"
            )
        transport = cls(client=httpx.Client(base_url=url, timeout=timeout))
        open_sockets_through(transport._client, DeadlineBackend(lambda: transport.deadline))
        return transport

    def close(self) -> None:
        self._client.close()

    def _time_left(self, what: str, *, sent: bool) -> float | None:
        """Seconds to the deadline (None: no deadline). None left is a ``NotSentInTimeError``
        before the request goes out (a batch is known not logged), a plain ``TransportError``
        once it has (the ledger may have logged it)."""
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            error = TransportError if sent else NotSentInTimeError
            raise error(f"no time left for {what} before the sync's deadline")
        return left

    def _request(self, method: str, path: str, **kwargs: Any) -> bytes:
        """The body of a 2xx answer, read up to ``MAX_ANSWER_BYTES``."""
        what = f"{method} {path}"
        if (left := self._time_left(what, sent=False)) is not None:
            # httpx's per-phase timeouts, cut to the time left now. On the sockets of
            # ``connect`` each connect, write and read is cut again to the time left as it
            # starts (``DeadlineBackend``); the read loop checks the deadline too, for a
            # client on other sockets.
            timeout = self._client.timeout
            kwargs["timeout"] = httpx.Timeout(
                connect=_shorter(timeout.connect, left),
                read=_shorter(timeout.read, left),
                write=_shorter(timeout.write, left),
                pool=_shorter(timeout.pool, left),
            )
        try:
            with self._client.stream(method, path, **kwargs) as response:
                body = self._read_bounded(response, what)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # No connection, so no byte of the request went out (refused, no route, DNS, a
            # TLS handshake that failed): nothing of it can be in the log.
            if self.deadline is not None and time.monotonic() >= self.deadline:
                raise NotSentInTimeError(
                    f"no time left to reach the ledger ({what}) before the sync's deadline"
                ) from exc
            raise NotSentError(f"cannot reach the ledger ({what}): {exc}") from exc
        except httpx.TimeoutException as exc:
            if self.deadline is not None and time.monotonic() >= self.deadline:
                raise TransportError(
                    f"the ledger did not answer {what} before the sync's deadline"
                ) from exc
            raise TransportError(f"the ledger did not answer {what} in time") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"cannot reach the ledger ({what}): {exc}") from exc
        _refuse_unless_2xx(response, body, method, path)
        return body

    def _json(self, body: bytes, path: str) -> Any:
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:
            # A proxy's HTML page, a truncated body: nothing the ledger signed.
            raise TransportError(f"the ledger's answer to {path} is not JSON") from exc

    def submit(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        body = {"envelopes": [e.to_json() for e in envelopes]}
        data = self._json(self._request("POST", "/v1/entries", json=body), "/v1/entries")
        receipts = data.get("receipts") if isinstance(data, dict) else None
        if not isinstance(receipts, list):
            raise FormatError('the ledger answered a batch without "receipts"')
        return [Receipt.from_json(r) for r in receipts]

    def log_key(self) -> str:
        return self._request("GET", "/v1/log/key").decode("utf-8", "replace").strip()

    def checkpoint(self) -> bytes:
        return self._request("GET", "/v1/log/checkpoint")

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        path = "/v1/log/proof/consistency"
        data = self._json(
            self._request("GET", path, params={"first": first, "second": second}), path
        )
        try:
            if data["first"] != first or data["second"] != second:
                raise FormatError("a consistency proof for other tree sizes")
            return [base64.b64decode(h, validate=True) for h in data["proof"]]
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise FormatError(f"malformed consistency proof: {exc}") from exc

    def _read_bounded(self, response: httpx.Response, what: str) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise TransportError(
                    f"the ledger's answer to {what} is over {MAX_ANSWER_BYTES // 2**20} MiB"
                )
            self._time_left(f"the rest of the answer to {what}", sent=True)
            chunks.append(chunk)
        return b"".join(chunks)


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` value asks to wait (RFC 9110 §10.2.3: delta-seconds or an
    HTTP-date, a date past being 0); None if absent or neither. Uncapped: the client caps it."""
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return float(int(text))
    if len(text) > _MAX_HTTP_DATE:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": not the GMT an HTTP-date is in
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _refuse_unless_2xx(response: httpx.Response, body: bytes, method: str, path: str) -> None:
    """Nothing for a 2xx answer; otherwise the error its status stands for: a 429 or a 5xx
    to retry later, a redirect or another 4xx the ledger's refusal."""
    status = response.status_code
    if status == 429:
        wait = retry_after(response.headers.get("retry-after"))
        raise RateLimitedError(f"the ledger answered 429 to {path}{_asked(wait)}", retry_after=wait)
    if status >= 500:
        wait = retry_after(response.headers.get("retry-after"))
        raise TransportError(
            f"the ledger answered {status} to {path}{_asked(wait)}", retry_after=wait
        )
    if 300 <= status < 400:  # e.g. http:// to https://: never followed with a batch
        where = _printable(response.headers.get("location", "elsewhere"), 200)
        raise RefusedBatchError(
            f"the ledger answered {status} to {method} {path}, redirecting to {where}: "
            "give --ledger the address it redirects to",
            status=status,
            kind="redirect",
        )
    if status >= 400:
        kind, detail, position, members = _problem(response, body)
        raise RefusedBatchError(
            f"the ledger refused {method} {path} ({status} {kind}): {detail}",
            status=status,
            kind=kind,
            detail=detail,
            position=position,
            members=members,
        )


def _asked(wait: float | None) -> str:
    return "" if wait is None else f" (Retry-After: {wait:.0f} s)"


def _shorter(limit: float | None, left: float) -> float:
    return left if limit is None else min(limit, left)


def _printable(text: str, limit: int) -> str:
    """Server text as one printable line: a newline or a terminal escape shown as its escape."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text[:limit])


def _problem(response: httpx.Response, raw: bytes) -> tuple[str, str, int | None, dict[str, str]]:
    """(kind, detail, position, members) of an RFC 9457 problem — ``position``: the refused
    envelope's place in the batch, when the ledger names one; ``members``: those of
    ``KEPT_MEMBERS`` it sends as strings; the status text if the body is not one."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict):
        kind = str(body.get("type", "")).removeprefix(PROBLEM_PREFIX) or "problem"
        detail = str(body.get("detail", body.get("title", "")))
        position = body.get("position")
        if type(position) is not int or position < 0:  # the client checks it is in the batch
            position = None
        members = {
            name: _printable(value, 200)
            for name in KEPT_MEMBERS
            if isinstance(value := body.get(name), str) and value
        }
        return _printable(kind, 64), _printable(detail, 500), position, members
    return "problem", _printable(response.reason_phrase, 100), None, {}
