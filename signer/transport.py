"""How the terminal talks to the ledger: a small ``Transport`` protocol and its HTTP form.

A transport submits a batch of envelopes and returns the ledger's receipts, untrusted (the
client verifies them), and fetches the log's vkey and consistency proofs. It sorts failures
into two leaves: ``TransportError`` (no answer, a timeout, a 5xx: retry later) and
``RefusedBatchError`` (a 4xx: the ledger read the batch and said no). Retrying, backoff and
verification are the client's.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Protocol

import httpx

from ledger.envelope import Envelope
from ledger.errors import FormatError
from ledger.receipt import Receipt
from signer.errors import RefusedBatchError, TransportError

PROBLEM_PREFIX = "urn:spola:problem:"


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

    def __init__(self, *, client: httpx.Client) -> None:
        self._client = client

    @classmethod
    def connect(cls, base_url: str, *, timeout: float = 30.0) -> HttpTransport:
        return cls(client=httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout))

    def close(self) -> None:
        self._client.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransportError(f"the ledger did not answer {method} {path} in time") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"cannot reach the ledger ({method} {path}): {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise TransportError(f"the ledger answered {response.status_code} to {path}")
        if response.status_code >= 400:
            kind, detail = _problem(response)
            raise RefusedBatchError(
                f"the ledger refused {method} {path} ({response.status_code} {kind}): {detail}",
                status=response.status_code,
                kind=kind,
            )
        return response

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            # A proxy's HTML page, a truncated body: nothing the ledger signed.
            raise TransportError(f"the ledger's answer to {response.url.path} is not JSON") from exc

    def submit(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        body = {"envelopes": [e.to_json() for e in envelopes]}
        data = self._json(self._request("POST", "/v1/entries", json=body))
        receipts = data.get("receipts") if isinstance(data, dict) else None
        if not isinstance(receipts, list):
            raise FormatError('the ledger answered a batch without "receipts"')
        return [Receipt.from_json(r) for r in receipts]

    def log_key(self) -> str:
        return self._request("GET", "/v1/log/key").text.strip()

    def checkpoint(self) -> bytes:
        return self._request("GET", "/v1/log/checkpoint").content

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        data = self._json(
            self._request(
                "GET", "/v1/log/proof/consistency", params={"first": first, "second": second}
            )
        )
        try:
            if data["first"] != first or data["second"] != second:
                raise FormatError("a consistency proof for other tree sizes")
            return [base64.b64decode(h, validate=True) for h in data["proof"]]
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise FormatError(f"malformed consistency proof: {exc}") from exc


def _problem(response: httpx.Response) -> tuple[str, str]:
    """(kind, detail) of an RFC 9457 problem; the status text if the body is not one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        kind = str(body.get("type", "")).removeprefix(PROBLEM_PREFIX) or "problem"
        return kind, str(body.get("detail", body.get("title", "")))[:500]
    return "problem", response.reason_phrase
