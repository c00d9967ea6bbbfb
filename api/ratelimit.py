"""Rate limits: in-process token buckets per client and per signing key.

A pure ASGI middleware with two budgets, both in requests per minute (``api.settings``):

- per client: every HTTP request spends one token of its peer address's bucket (the ASGI
  ``client`` host; behind a reverse proxy that is the proxy, so limit there too). An IPv6
  peer is counted by its /64, the network one host is routed, so a client cannot rotate
  through its own addresses for fresh budgets; an IPv4-mapped address counts as the IPv4 one;
- per signing key: a ``POST /v1/entries`` is refused while any key id its envelopes name has an
  empty bucket, and spends one token of each key that signed an envelope the log appended for
  it: the route names those keys (``record_appended``), and the tokens are taken once it has
  answered. An envelope sent again is not appended (its answer is its original receipt), so
  anyone replaying a key's envelopes from the public log spends nothing of its budget; and the
  store appends an envelope only with exactly one signature whose ``keyid`` names the key that
  verified it, so a forger who writes someone else's key id into an envelope cannot either.

A bucket holds one minute's allowance and refills continuously. An empty bucket is answered
with 429 ``application/problem+json`` and ``Retry-After`` (whole seconds); a browser asking
for one of the service's pages gets a page saying so in its reader's language instead
(``api.limits.page_refusal``), with the same ``Retry-After``. A budget of 0
disables that limit. The buckets live in this process: with N workers each keeps its own, so
the effective limit is N times the setting (docs/operations.md). The number of buckets kept is
bounded; the least recently used one is forgotten first (it comes back full).

It leaves out everything else about the body: the envelopes are read here only to learn their
key ids, off the event loop and within the route's bounds (``api.body_bounds``, then the same
bounded parser); a body that does not parse, or holds more JSON values than a batch can, is
passed on untouched, no key budget consulted, for the route to refuse. A body it parsed is
handed to the route with its value (``PARSED_BODY``), so a request is parsed once.
"""

from __future__ import annotations

import ipaddress
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.body_bounds import MAX_DEPTH, bound_values
from api.limits import page_refusal, respond
from api.problems import BadRequest
from api.settings import Settings
from ledger.canonical import parse_json
from ledger.envelope import Envelope
from ledger.errors import LedgerError
from ledger.receipt import Receipt

MAX_BUCKETS: Final = 100_000  # per budget: bounded memory whatever the number of clients
IPV6_CLIENT_PREFIX: Final = 64  # RFC 6177: the network an IPv6 end site gives one host
ENTRIES_PATH: Final = "/v1/entries"
# The request's state member where the route lists the keys of the envelopes it appended.
APPENDED_KEYS: Final = "spola.appended_keys"
# The request's state member holding the body this middleware parsed and its JSON value.
PARSED_BODY: Final = "spola.parsed_body"


class TokenBuckets:
    """One token bucket per name: ``per_minute`` tokens, refilled continuously."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def _level(self, name: str) -> float:
        tokens, at = self._buckets.get(name, (float(self.per_minute), self.clock()))
        refill = (self.clock() - at) * self.per_minute / 60
        return min(float(self.per_minute), tokens + refill)

    def wait(self, name: str) -> float:
        """Seconds until ``name`` has a whole token again; 0 when it has one now."""
        if not self.enabled:
            return 0.0
        missing = 1 - self._level(name)
        return 0.0 if missing <= 0 else missing * 60 / self.per_minute

    def spend(self, name: str) -> None:
        """Take one token from ``name`` (it may go below zero: a debt it waits off)."""
        if not self.enabled:
            return
        self._buckets[name] = (self._level(name) - 1, self.clock())
        self._buckets.move_to_end(name)
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)

    def take(self, name: str) -> float:
        """Spend a token if there is one and answer 0; otherwise the seconds to wait."""
        delay = self.wait(name)
        if delay == 0:
            self.spend(name)
        return delay


def parsed_body(body: bytes, *, max_bytes: int, max_batch: int) -> Any | None:
    """The JSON value of a ``POST /v1/entries`` body, parsed as the route parses it; None if it
    does not parse or holds more JSON values than a batch of ``max_batch`` envelopes (it is not
    parsed then): the route refuses it, saying why."""
    try:
        bound_values(body, max_batch)
        return parse_json(body, max_bytes=max_bytes, max_depth=MAX_DEPTH, what="body")
    except (BadRequest, LedgerError):
        return None


def envelope_key_ids(value: Any) -> list[str]:
    """The distinct signature key ids of a parsed ``POST /v1/entries`` body, one envelope or a
    batch; what is not shaped as one names none."""
    items: Iterable[Any] = [value]
    if isinstance(value, dict) and isinstance(value.get("envelopes"), list):
        items = value["envelopes"]
    found: dict[str, None] = {}
    for item in items:
        signatures = item.get("signatures") if isinstance(item, dict) else None
        for signature in signatures if isinstance(signatures, list) else ():
            keyid = signature.get("keyid") if isinstance(signature, dict) else None
            if isinstance(keyid, str) and keyid:
                found[keyid] = None
    return list(found)


def record_appended(
    scope: Scope, envelopes: Sequence[Envelope], receipts: Sequence[Receipt]
) -> None:
    """Name to the rate limit the keys of ``envelopes`` the log appended, ``receipts`` their
    answers in order: a duplicate's receipt is the original one, and spends nothing. A request
    the per-key limit does not watch has nowhere to name them, and names nothing."""
    appended: list[str] | None = scope.get("state", {}).get(APPENDED_KEYS)
    if appended is None:
        return
    for envelope, receipt in zip(envelopes, receipts, strict=True):
        if not receipt.duplicate:  # appended: signed once, by the key its keyid names
            appended.extend(signature.keyid for signature in envelope.signatures)


def client_name(host: str) -> str:
    """The per-client bucket of peer ``host``: an IPv4 address, an IPv6 /64, or the host as is."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # not an address (a test client, a Unix socket): its own bucket
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


class RateLimit:
    """ASGI middleware: per-client and per-signing-key budgets, 429 when one is spent."""

    def __init__(
        self, app: ASGIApp, *, settings: Settings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app = app
        self.clients = TokenBuckets(settings.rate_per_client, clock=clock)
        self.keys = TokenBuckets(settings.rate_per_key, clock=clock)
        self.max_body_bytes = settings.max_body_bytes
        self.max_batch = settings.max_batch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        peer = client_name(str(client[0])) if client else "unknown"
        delay = self.clients.take(peer)
        if delay:
            detail = f"client {peer} is over {self.clients.per_minute}/min"
            await _too_many(scope, send, delay, detail)
            return
        if not (self.keys.enabled and _is_entries_post(scope)):
            await self.app(scope, receive, send)
            return
        await self._entries(scope, receive, send)

    async def _entries(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, replay = await _buffer(receive)
        value = await run_in_threadpool(
            parsed_body, body, max_bytes=self.max_body_bytes, max_batch=self.max_batch
        )
        key_ids = [] if value is None else envelope_key_ids(value)
        delay = max((self.keys.wait(k) for k in key_ids), default=0.0)
        if delay:
            over = next(k for k in key_ids if self.keys.wait(k))
            detail = f"signing key {over[:64]} is over {self.keys.per_minute}/min"
            await _too_many(scope, send, delay, detail)
            return
        # The route lists here the keys of what it appended; the request's state is its own
        # (a server hands each request a copy of the lifespan state).
        appended: list[str] = []
        state = scope.setdefault("state", {})
        state[APPENDED_KEYS] = appended
        if value is not None:
            state[PARSED_BODY] = (body, value)
        try:
            await self.app(scope, replay, send)
        finally:
            for key_id in dict.fromkeys(appended):  # one token a request, as the client pays
                self.keys.spend(key_id)


def _is_entries_post(scope: Scope) -> bool:
    return bool(scope["method"] == "POST" and scope["path"].rstrip("/") == ENTRIES_PATH)


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole request body (an outer ``BodyLimit`` bounds it); a receive replaying it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away: the app sees an empty body and then the disconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


async def _too_many(scope: Scope, send: Send, delay: float, detail: str) -> None:
    retry_after = max(1, math.ceil(delay))
    html, headers = page_refusal(scope, "rate_limited") or (None, {})
    headers["Retry-After"] = str(retry_after)
    if html is not None:
        await respond(send, 429, "text/html; charset=utf-8", html.encode(), headers)
        return
    body = {
        "type": "urn:spola:problem:rate-limited",
        "title": "Too many requests",
        "status": 429,
        "detail": f"{detail}: retry after {retry_after} s",
    }
    await respond(send, 429, "application/problem+json", json.dumps(body).encode(), headers)
