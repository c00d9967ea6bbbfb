"""The terminal's sockets to the ledger, each phase bounded by the sync's deadline.

httpx times each phase of a request on its own (connect, write, every read), so a ledger that
trickles its answer a byte at a time keeps every read inside its timeout for as long as it
likes. ``DeadlineBackend`` is an httpcore network backend whose every connect, TLS handshake,
write and read waits at most the time left, so a request ends at the deadline however the
ledger paces its bytes; ``open_sockets_through`` hands it to an ``httpx.Client``'s pools. It
resolves the ledger's name within the time left too (``_resolve``): a resolver that hangs
(offline, a captive network, a dead DNS server) would otherwise hold a sync past its deadline
by its own timeouts. Mapping what a request ends in to the terminal's errors is
``signer.transport``'s.
"""

from __future__ import annotations

import ipaddress
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

import httpcore
import httpx

_WRITE_SLICE: Final = 16 * 1024  # bytes written under one timeout: a slow reader is re-timed


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
        if self._deadline() is None or _is_address(host):
            stream = self._sockets.connect_tcp(
                host,
                port,
                self.bound(timeout, httpcore.ConnectTimeout),
                local_address,
                socket_options,
            )
            return _DeadlineStream(stream, self)
        # The name resolved here, within the time left; then each of its addresses in turn,
        # as ``socket.create_connection`` does, each connect cut to the time left as it starts.
        failure: httpcore.ConnectError | None = None
        for address in _resolve(host, port, self.bound(timeout, httpcore.ConnectTimeout)):
            try:
                stream = self._sockets.connect_tcp(
                    address,
                    port,
                    self.bound(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            return _DeadlineStream(stream, self)
        raise failure or httpcore.ConnectError(f"{host}: no address to connect to")

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
