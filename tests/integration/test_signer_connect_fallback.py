"""A workshop terminal reaching the ledger when one of the ledger's addresses is dead.

On workshop and ISP networks the ledger's name often resolves to an IPv6 address whose
packets vanish (a route nobody answers on) besides an IPv4 one that works. A sync must not
spend its time on the dead address, nor give up there: the addresses are tried in RFC 8305's
order, a new one started while the others still wait, and the first to connect is used.

The dead address here is as real as the loopback allows: a listener whose accept queue is
full (backlog 0, one connection queued and never accepted) drops every further SYN, so a
connect to it waits, unanswered, until its timeout, on the same port as the live ledger.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from signer.errors import NotSentError, NotSentInTimeError, TransportError
from signer.keyfile import read_key_info
from signer.transport import HttpTransport
from tests.integration import test_signer_dns_deadline
from tests.integration.test_signer_dns_deadline import NAME, Resolver
from tests.integration.test_signer_lock_deadline import recording
from tests.integration.test_signer_queue_drop import LOT, logged_seqs, served_ledger, sign_lot
from tests.terminal import run_cli as run

pytestmark = pytest.mark.integration

ACTOR = "urn:spola:actor:maglificio-drop"  # the actor ``served_ledger`` registers
PROBE = 0.2  # seconds a probe connect waits to see a dead address answer nothing


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


@contextmanager
def dead(host: str, port: int) -> Iterator[None]:
    """``host:port`` as a blackholed route leaves it: every connect's SYN goes unanswered."""
    with ExitStack() as held:
        listener = held.enter_context(socket.socket(_family(host), socket.SOCK_STREAM))
        try:
            listener.bind((host, port))
        except OSError as exc:
            pytest.skip(f"{host} cannot be bound here: {exc}")
        listener.listen(0)
        queued = held.enter_context(socket.create_connection((host, port), timeout=5))
        assert queued  # the one connection the accept queue holds; never accepted
        probe = held.enter_context(socket.socket(_family(host), socket.SOCK_STREAM))
        probe.settimeout(PROBE)
        with pytest.raises(TimeoutError):  # the platform drops SYNs to a full queue
            probe.connect((host, port))
        yield


resolver = test_signer_dns_deadline.resolver


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The addresses connects were started to, in order (httpcore's own connect, unchanged)."""
    started: list[str] = []
    connect = httpcore.SyncBackend.connect_tcp

    def recorded(backend: httpcore.SyncBackend, host: str, *args: Any, **kwargs: Any) -> Any:
        started.append(host)
        return connect(backend, host, *args, **kwargs)

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", recorded)
    return started


def free_port() -> int:
    """A port nothing listens on at 127.0.0.2 and 127.0.0.3 (bound on 127.0.0.1 meanwhile)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_key(port: int, *, timeout: float = 30.0, deadline: float = 60.0) -> str:
    """``GET /v1/log/key`` from ``NAME:port`` by the terminal's transport."""
    transport = HttpTransport.connect(f"http://{NAME}:{port}", timeout=timeout)
    transport.deadline = time.monotonic() + deadline
    try:
        return transport.log_key()
    finally:
        transport.close()


# -- a dead address among live ones ------------------------------------------------------------


def test_a_sync_reaches_the_ledger_past_an_ipv6_address_whose_packets_vanish(
    home: Path,
    tmp_path: Path,
    database_url: str,
    resolver: Resolver,
    attempts: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    key_id = read_key_info(home / "terminal.key").key_id
    with served_ledger(home, tmp_path, database_url) as (api, ledger):
        port = int(ledger[1].rsplit(":", 1)[1])
        resolver.addresses = ("::1", "127.0.0.1")  # AAAA first, as getaddrinfo prefers it
        sign_lot(capsys, "F1")
        with dead("::1", port):
            code, out, err = run(
                capsys, "sync", "--ledger", f"http://{NAME}:{port}",
                "--timeout", "2", "--deadline", "30",
            )  # fmt: skip

        assert code == 0, err
        assert "sent 1: 1 applied" in out
        assert logged_seqs(api, key_id) == [(0, f"{LOT}:F1")]
        assert attempts[:2] == ["::1", "127.0.0.1"]  # the dead address was tried first


@pytest.mark.parametrize("gone", ["::1", "127.0.0.2"], ids=["ipv6", "ipv4"])
def test_a_dead_first_address_does_not_take_the_whole_connect_timeout(
    resolver: Resolver, attempts: list[str], gone: str
) -> None:
    with recording() as ledger:
        port = ledger.server_address[1]
        resolver.addresses = (gone, "127.0.0.1")
        with dead(gone, port), pytest.raises(TransportError, match="answered 503"):
            log_key(port, timeout=1.0)
        assert ledger.requests == ["GET /v1/log/key"]
    assert attempts == [gone, "127.0.0.1"]


def test_addresses_are_tried_families_interleaved_the_first_family_first(
    resolver: Resolver, attempts: list[str]
) -> None:
    """RFC 8305 §4: the first address's family first, then the families in turn."""
    with recording() as ledger:
        port = ledger.server_address[1]
        # Nothing listens on the others (each refuses): only 127.0.0.1 answers.
        resolver.addresses = ("127.0.0.2", "127.0.0.3", "::1", "127.0.0.1")
        with pytest.raises(TransportError, match="answered 503"):
            log_key(port)
    assert attempts == ["127.0.0.2", "::1", "127.0.0.3", "127.0.0.1"]


# -- every address failing --------------------------------------------------------------------


def test_every_address_timing_out_is_a_connect_timeout_naming_each(
    resolver: Resolver, attempts: list[str]
) -> None:
    port = free_port()
    resolver.addresses = ("127.0.0.2", "127.0.0.3")
    with (
        dead("127.0.0.2", port),
        dead("127.0.0.3", port),
        pytest.raises(NotSentError, match="cannot reach the ledger") as caught,
    ):
        log_key(port, timeout=0.5)
    assert type(caught.value) is NotSentError  # not the deadline: the connect timeout
    assert type(caught.value.__cause__) is httpx.ConnectTimeout
    message = str(caught.value)
    assert f"{NAME}: no connection to any of its 2 addresses" in message
    assert "127.0.0.2: timed out" in message and "127.0.0.3: timed out" in message
    assert attempts == ["127.0.0.2", "127.0.0.3"]


def test_a_refusal_among_the_timeouts_is_a_connect_error_naming_each(
    resolver: Resolver, attempts: list[str]
) -> None:
    port = free_port()
    resolver.addresses = ("127.0.0.2", "127.0.0.3")  # the first dead, the second refuses
    with (
        dead("127.0.0.2", port),
        pytest.raises(NotSentError, match="cannot reach the ledger") as caught,
    ):
        log_key(port, timeout=0.5)
    assert type(caught.value.__cause__) is httpx.ConnectError
    message = str(caught.value)
    assert "127.0.0.2: timed out" in message
    assert "127.0.0.3: [Errno 111] Connection refused" in message
    assert attempts == ["127.0.0.2", "127.0.0.3"]


def test_the_deadline_reached_while_every_address_waits_is_a_request_not_sent_in_time(
    resolver: Resolver,
) -> None:
    port = free_port()
    resolver.addresses = ("127.0.0.2", "127.0.0.3")
    with (
        dead("127.0.0.2", port),
        dead("127.0.0.3", port),
        pytest.raises(NotSentInTimeError, match="no time left to reach the ledger"),
    ):
        log_key(port, deadline=0.5)


def test_a_name_with_many_addresses_is_tried_at_a_bounded_few_and_told_in_a_bounded_line(
    resolver: Resolver, attempts: list[str]
) -> None:
    port = free_port()
    resolver.addresses = tuple(f"127.0.1.{n}" for n in range(1, 41))  # all refuse
    with pytest.raises(NotSentError, match="cannot reach the ledger") as caught:
        log_key(port)
    message = str(caught.value)
    assert attempts == [f"127.0.1.{n}" for n in range(1, 17)]
    assert f"{NAME}: no connection to any of the first 16 of its 40 addresses" in message
    assert "127.0.1.16: [Errno 111]" in message and "127.0.1.17" not in message
    assert len(message) < 2000 and "\n" not in message
