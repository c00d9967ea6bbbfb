"""The terminal's sockets to the ledger, each phase bounded by the sync's deadline.

httpx times each phase of a request on its own (connect, write, every read), so a ledger that
trickles its answer a byte at a time keeps every read inside its timeout for as long as it
likes. ``DeadlineBackend`` is an httpcore network backend whose every connect, TLS handshake,
write and read waits at most the time left, so a request ends at the deadline however the
ledger paces its bytes; ``open_sockets_through`` hands it to an ``httpx.Client``'s pools.

A connect to a name takes at most the connect timeout in all, cut to the time left. The name
is resolved within it (``_resolve``): a resolver that hangs (offline, a captive network, a dead
DNS server) would otherwise hold a sync past its deadline by its own timeouts. Its addresses
are then raced as RFC 8305 (Happy Eyeballs) says (``_Race``): in ``attempt_order``, IPv6 and
IPv4 in turn, a new attempt every 250 ms or as soon as one fails, the earlier ones still
waiting, the first connected used. On workshop networks a name often resolves to an IPv6
address whose packets vanish beside an IPv4 one that works; tried one after the other, the
dead one took the whole connect timeout (and with a deadline, ended the connect there). If no
address connects, the error names each one's failure: a ``ConnectTimeout`` if none refused, a
``ConnectError`` otherwise. Mapping these to the terminal's errors is ``signer.transport``'s.
"""

from __future__ import annotations

import ipaddress
import itertools
import queue
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Final

import httpcore
import httpx

_WRITE_SLICE: Final = 16 * 1024  # bytes written under one timeout: a slow reader is re-timed
_ATTEMPT_DELAY: Final = 0.25  # s between connect attempts: RFC 8305 §5's recommended 250 ms
_MAX_ADDRESSES: Final = 16  # of a name's addresses, the most tried (and told of) in a connect
_MAX_REASON: Final = 80  # characters of each address's failure told


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, each connect, TLS handshake, write and read on them waiting at
    most the time left before ``deadline()`` (a ``time.monotonic()`` instant, None: none): the
    phases' timeouts alone let an answer trickled in a byte at a time run on for ever."""

    def __init__(self, deadline: Callable[[], float | None]) -> None:
        self._sockets = httpcore.SyncBackend()
        self._deadline = deadline

    def bound(self, timeout: float | None, late: type[httpcore.TimeoutException]) -> float | None:
        """``timeout``, cut to the time left; ``late`` (a timeout httpx maps) if none is left."""
        deadline = self._deadline()
        if deadline is None:
            return timeout
        left = deadline - time.monotonic()
        if left <= 0:
            raise late("the sync's deadline has passed")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        limit = self.bound(timeout, httpcore.ConnectTimeout)
        if _is_address(host):
            stream = self._sockets.connect_tcp(host, port, limit, local_address, socket_options)
            return _DeadlineStream(stream, self)
        # The connect, name resolution included, takes at most ``limit`` in all: the connect
        # timeout is the phase's, not each address's, and the time left cuts it too.
        end = None if limit is None else time.monotonic() + limit
        addresses = _resolve(host, port, limit)
        race = _Race(self._sockets, port, end, local_address, socket_options)
        return _DeadlineStream(race.first_connected(host, addresses), self)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._sockets.connect_unix_socket(
            path, self.bound(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream, self)

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ``backend`` bounds by the time left."""

    def __init__(self, stream: httpcore.NetworkStream, backend: DeadlineBackend) -> None:
        self._stream = stream
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._backend.bound(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # Each slice under its own cut timeout: a ledger reading a large batch slowly is held
        # to the deadline too, not only to the timeout of one write.
        for start in range(0, len(buffer), _WRITE_SLICE):
            self._stream.write(
                buffer[start : start + _WRITE_SLICE],
                self._backend.bound(timeout, httpcore.WriteTimeout),
            )

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(
            ssl_context, server_hostname, self._backend.bound(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(stream, self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Race:
    """Connects to the addresses of a name, RFC 8305 §5 ("Happy Eyeballs"): an attempt started
    every ``_ATTEMPT_DELAY``, or as soon as one fails, in ``attempt_order``, each in a thread of
    its own while the earlier ones still wait; the first to connect is the stream, every other
    closed as it connects. Each waits at most until ``end`` (a ``time.monotonic()`` instant,
    None: none), so a dead address (its packets vanish) delays the connect by one attempt delay,
    not by its timeout, and no attempt, won or lost, outlives the connect phase."""

    def __init__(
        self,
        sockets: httpcore.NetworkBackend,
        port: int,
        end: float | None,
        local_address: str | None,
        socket_options: Iterable[Any] | None,
    ) -> None:
        self._sockets = sockets
        self._port = port
        self._end = end
        self._local_address = local_address
        self._socket_options = None if socket_options is None else list(socket_options)
        self._outcomes: queue.SimpleQueue[tuple[str, httpcore.NetworkStream | Exception]]
        self._outcomes = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._over = False  # under ``_lock``: a stream connected from now on is nobody's

    def first_connected(self, host: str, resolved: list[str]) -> httpcore.NetworkStream:
        addresses = attempt_order(resolved)[:_MAX_ADDRESSES]
        waiting = deque(addresses)
        failures: dict[str, Exception] = {}
        running = 0
        try:
            while waiting or running:
                left = _left(self._end)
                if left is not None and left <= 0:
                    break
                if waiting:
                    self._start(waiting.popleft(), left)
                    running += 1
                # Until the next attempt is due, or (none waiting) until the time is up; any
                # ``left`` here is above 0.
                pause = min(_ATTEMPT_DELAY, left or _ATTEMPT_DELAY) if waiting else left
                try:
                    address, outcome = self._outcomes.get(timeout=pause)
                except queue.Empty:
                    continue  # the next address, while this one still waits
                running -= 1
                if not isinstance(outcome, Exception):
                    return outcome
                if not isinstance(outcome, (httpcore.ConnectError, httpcore.ConnectTimeout)):
                    raise outcome
                failures[address] = outcome
        finally:
            self._close_the_rest()
        tried = addresses[: len(addresses) - len(waiting)]
        raise _no_connection(host, len(resolved), tried, addresses, failures)

    def _start(self, address: str, timeout: float | None) -> None:
        threading.Thread(
            target=self._attempt, args=(address, timeout), name=f"connect {address}", daemon=True
        ).start()

    def _attempt(self, address: str, timeout: float | None) -> None:
        outcome: httpcore.NetworkStream | Exception
        try:
            outcome = self._sockets.connect_tcp(
                address, self._port, timeout, self._local_address, self._socket_options
            )
        except Exception as exc:  # the race tells it, or raises it
            outcome = exc
        with self._lock:
            if not self._over:
                self._outcomes.put((address, outcome))
                return
        if not isinstance(outcome, Exception):
            outcome.close()  # connected after another won, or after the race gave up

    def _close_the_rest(self) -> None:
        with self._lock:
            self._over = True
        while True:
            try:
                _, outcome = self._outcomes.get_nowait()
            except queue.Empty:
                return
            if not isinstance(outcome, Exception):
                outcome.close()


def attempt_order(addresses: Iterable[str]) -> list[str]:
    """``addresses`` in the order RFC 8305 §4 tries them: the first one's family first, then
    the families in turn (IPv6, IPv4, IPv6, …), each family's in the order given (the
    resolver's, RFC 6724's): a dead family costs one attempt in two, not all of its own first."""
    families: dict[bool, list[str]] = {}
    for address in addresses:
        families.setdefault(":" in address, []).append(address)
    rounds = itertools.zip_longest(*families.values())
    return [address for each in rounds for address in each if address is not None]


def _no_connection(
    host: str, found: int, tried: list[str], addresses: list[str], failures: dict[str, Exception]
) -> httpcore.ConnectError | httpcore.ConnectTimeout:
    """What connecting to ``host`` ended in, each address's failure told in a bounded line: a
    ``ConnectTimeout`` if no address refused (every one timed out, or had no time left), a
    ``ConnectError`` otherwise."""
    if not addresses:
        return httpcore.ConnectError(f"{host}: no address to connect to")
    told = "; ".join(f"{address}: {_reason(address, tried, failures)}" for address in addresses)
    which = (
        f"the first {len(addresses)} of its {found}" if found > len(addresses) else f"its {found}"
    )
    message = f"{host}: no connection to any of {which} addresses ({told})"
    if any(not isinstance(f, httpcore.ConnectTimeout) for f in failures.values()):
        return httpcore.ConnectError(message)
    return httpcore.ConnectTimeout(message)


def _reason(address: str, tried: list[str], failures: dict[str, Exception]) -> str:
    if address not in tried:
        return "not tried, no time left"
    failure = failures.get(address)
    if failure is None:
        return "timed out"  # still waiting when the time was up
    reason = str(failure) or type(failure).__name__
    return reason[:_MAX_REASON] if reason.isprintable() else repr(reason)[:_MAX_REASON]


def _left(end: float | None) -> float | None:
    return None if end is None else end - time.monotonic()


def _is_address(host: str) -> bool:
    """Whether ``host`` is an IP address (an IPv6 one with or without its brackets)."""
    try:
        ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return True


def _resolve(host: str, port: int, timeout: float | None) -> list[str]:
    """The addresses of ``host``, as ``socket.getaddrinfo`` gives them for a TCP connect, waited
    for at most ``timeout`` seconds (None: as long as the resolver takes).

    ``getaddrinfo`` takes no timeout, so it runs in a daemon thread, left behind (to end with
    the resolver's own timeouts, or with the process) when the time is up; a name that does
    not resolve is a ``ConnectError``, as from httpcore's own connect.
    """
    answer: queue.SimpleQueue[list[str] | OSError] = queue.SimpleQueue()

    def lookup() -> None:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            answer.put(exc)
        else:
            answer.put(list(dict.fromkeys(str(info[4][0]) for info in found)))

    threading.Thread(target=lookup, name=f"resolve {host[:64]}", daemon=True).start()
    try:
        result = answer.get(timeout=timeout)
    except queue.Empty:
        raise httpcore.ConnectTimeout(f"{host}: the name did not resolve in time") from None
    if isinstance(result, OSError):
        raise httpcore.ConnectError(f"{host}: {result}") from result
    return result


def open_sockets_through(client: httpx.Client, backend: httpcore.NetworkBackend) -> None:
    """Have each of ``client``'s connection pools — direct, and through a proxy named in the
    environment — open its connections through ``backend``.

    httpx has no public way to hand its pools a network backend (a ``transport=`` of one's
    own would also turn off the environment's proxies), so this sets httpcore's own attribute
    on the pools httpx made; a pool it does not find keeps httpx's per-phase timeouts, which
    ``tests/integration/test_signer_lock_deadline.py`` would catch.
    """
    transports = [getattr(client, "_transport", None)]
    transports += list(getattr(client, "_mounts", {}).values())
    for each in transports:
        pool = getattr(each, "_pool", None)
        if isinstance(pool, httpcore.ConnectionPool):  # HTTPProxy and SOCKSProxy are ones too
            pool._network_backend = backend
