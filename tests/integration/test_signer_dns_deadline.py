"""A sync's ``--deadline`` against a resolver that hangs.

On a workshop PC offline, behind a captive network or with a dead DNS server, resolving the
ledger's name can take the resolver's own timeouts (seconds per attempt per server): the
name is resolved within the time left before the deadline, like the connect that follows it.

The fake resolver below blocks on an ``Event`` the test sets when it is done (waiting at most
``HELD``, so a resolution the deadline does not cut still ends the test, failing it).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from signer.errors import NotSentError, NotSentInTimeError, TransportError
from signer.transport import HttpTransport
from tests.integration.test_signer_lock_deadline import one_line, recording
from tests.integration.test_signer_queue_drop import sign_lot
from tests.terminal import run_cli as run

pytestmark = pytest.mark.integration

ACTOR = "urn:spola:actor:maglificio-drop"
NAME = "ledger.spola.invalid"  # the ledger's name, which only the fake resolver knows
HELD = 30.0  # seconds a hanging resolution waits at most for the test to release it


@dataclass
class Resolver:
    """``socket.getaddrinfo`` for ``NAME``: hangs until released (``hang``), fails at once
    (``fail``), or answers ``addresses``; every other name goes to the system's resolver."""

    hang: bool = False
    fail: bool = False
    addresses: tuple[str, ...] = ("127.0.0.1",)
    asked: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    returned: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.system = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != NAME:
            return self.system(host, port, *args, **kwargs)
        self.asked.append(host)
        try:
            if self.hang:
                self.release.wait(HELD)
                raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
            if self.fail:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            answers = (self.system(each, port, *args, **kwargs) for each in self.addresses)
            return [info for answer in answers for info in answer]
        finally:
            self.returned.set()


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Resolver]:
    fake = Resolver()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    try:
        yield fake
    finally:
        fake.release.set()


def test_a_hanging_resolver_stops_the_sync_at_its_deadline_with_the_events_queued(
    home: Path, resolver: Resolver, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    sign_lot(capsys, "D1")
    resolver.hang = True

    code, out, err = run(capsys, "sync", "--ledger", f"http://{NAME}:8080", "--deadline", "1")

    # Returned while the resolver was still hanging: the deadline cut the resolution.
    assert resolver.asked and not resolver.returned.is_set()
    assert code == 1 and out == ""
    line = one_line(err)
    assert line.startswith("spola: sync stopped at its deadline: ")
    assert "no time left to reach the ledger" in line
    assert line.endswith("1 event(s) still queued for the next sync")


def test_a_hanging_resolution_is_a_request_not_sent_in_time(resolver: Resolver) -> None:
    resolver.hang = True
    transport = HttpTransport.connect(f"http://{NAME}:8080")
    transport.deadline = time.monotonic() + 0.5
    try:
        with pytest.raises(NotSentInTimeError, match=r"^no time left to reach the ledger \(GET"):
            transport.log_key()
    finally:
        transport.close()
    assert resolver.asked and not resolver.returned.is_set()


def test_a_name_that_does_not_resolve_before_the_deadline_is_a_request_not_sent(
    resolver: Resolver,
) -> None:
    resolver.fail = True
    transport = HttpTransport.connect(f"http://{NAME}:8080")
    transport.deadline = time.monotonic() + 60
    try:
        with pytest.raises(NotSentError, match="cannot reach the ledger") as caught:
            transport.log_key()
    finally:
        transport.close()
    assert type(caught.value) is NotSentError and resolver.asked


@pytest.mark.parametrize(
    "addresses",
    [
        ("127.0.0.1",),
        ("127.0.0.2", "127.0.0.1"),  # the first refuses: the ledger listens on 127.0.0.1 only
    ],
    ids=["one-address", "next-address-after-a-refusal"],
)
def test_a_resolved_name_is_connected_to_within_the_deadline(
    resolver: Resolver, addresses: tuple[str, ...]
) -> None:
    resolver.addresses = addresses
    with recording() as ledger:
        port = ledger.server_address[1]
        transport = HttpTransport.connect(f"http://{NAME}:{port}")
        transport.deadline = time.monotonic() + 60
        try:
            with pytest.raises(TransportError, match="answered 503"):
                transport.log_key()
        finally:
            transport.close()
        assert resolver.asked == [NAME]
        assert ledger.requests == ["GET /v1/log/key"]
