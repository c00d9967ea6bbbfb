"""The workshop terminal after a ``sudo spola sync``, and a sync's ``--deadline`` against a
ledger that answers slowly.

One ``sudo spola sync`` leaves the queue's sync lock (or the queue itself) owned by root; the
workshop's own ``spola sync`` must then say in one line which file it is, why it cannot be
used and what to do — with nothing sent and nothing changed — not a bare errno. Where these
tests run as root, permission bits do not bind root: the workshop's command runs with root's
files under another user's identity (``nobody``), exactly as after a ``sudo``; run as anyone
else, the file is made read-only instead.

``--deadline`` bounds the whole sync: a ledger trickling its answer a byte at a time kept every
read inside its timeout, and a sync ran as long as the ledger kept trickling.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import signer.transport  # noqa: F401 - loaded before a command runs as another user
from signer.queue import PENDING, SYNC_LOCK_SUFFIX, Queue
from tests.integration.api_support import store_of
from tests.integration.test_signer_queue_drop import served_ledger, sign_lot
from tests.integration.test_signer_sync import logged_payloads
from tests.terminal import NOBODY, TERMINAL_PASSPHRASE, as_workshop_user
from tests.terminal import run_cli as run

pytestmark = pytest.mark.integration

ACTOR = "urn:spola:actor:maglificio-drop"  # the actor ``served_ledger`` registers
posix_owners = pytest.mark.skipif(
    not hasattr(os, "geteuid"), reason="file owners and modes are POSIX's"
)


# -- a recording ledger address: what reached it ----------------------------------------------


class Recorder(ThreadingHTTPServer):
    """Answers every request 503 (Retry-After: an hour) and records it: a sync that gets this
    far stops at its deadline, and ``requests`` shows whether anything was sent at all."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Record)
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Record(BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")
        self.send_response(503)
        self.send_header("Retry-After", "3600")
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def recording() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# -- the workshop, and root's files in its home ----------------------------------------------


@dataclass
class Workshop:
    home: Path
    as_root: bool  # the tests run as root: the workshop's commands run as ``nobody``

    @property
    def lock(self) -> Path:
        return self.home / f"queue.db{SYNC_LOCK_SUFFIX}"

    @property
    def queue(self) -> Path:
        return self.home / "queue.db"

    def leave_to_root(self, path: Path) -> str:
        """``path`` as a ``sudo spola sync`` leaves it (root's; run as anyone else, read-only);
        the command the terminal should advise."""
        if self.as_root:
            for each in [self.home, *self.home.iterdir()]:
                os.chown(each, NOBODY, NOBODY)
            os.chown(path, 0, 0)
            return f"`sudo chown -R nobody {self.home}`"
        path.chmod(0o400)
        return f"`chmod u+w {path}`"

    def give_back(self, path: Path) -> None:
        if self.as_root:
            os.chown(path, NOBODY, NOBODY)
        else:
            path.chmod(0o600)

    @contextlib.contextmanager
    def user(self) -> Iterator[None]:
        """A command run by the workshop's user (``nobody`` where the tests run as root)."""
        with as_workshop_user():
            yield


@pytest.fixture
def workshop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workshop]:
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    # Root's test folders are root's alone: ``nobody`` needs a home it can reach.
    base = Path(tempfile.mkdtemp(prefix="spola-workshop-")) if as_root else tmp_path
    base.chmod(0o755)
    home = base / "terminal"
    monkeypatch.setenv("SPOLA_TERMINAL_HOME", str(home))
    monkeypatch.setenv("SPOLA_KEY_PASSPHRASE", TERMINAL_PASSPHRASE)
    try:
        yield Workshop(home=home, as_root=as_root)
    finally:
        if as_root:
            shutil.rmtree(base)
        else:
            for path in (home / "queue.db", home / f"queue.db{SYNC_LOCK_SUFFIX}"):
                if path.exists():
                    path.chmod(0o600)


def signed(capsys: pytest.CaptureFixture[str], count: int) -> None:
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    for n in range(count):
        sign_lot(capsys, f"R{n}")


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # no traceback, no warning
    return lines[0]


# -- 1. the sync lock, and the queue, left to root --------------------------------------------


@posix_owners
def test_a_sync_lock_left_by_sudo_is_one_line_saying_whose_it_is_and_what_to_do(
    workshop: Workshop, capsys: pytest.CaptureFixture[str]
) -> None:
    signed(capsys, 2)
    with recording() as ledger:
        # `sudo spola sync`: the lock is made (here the ledger is busy; it stops at once)
        code, _, _ = run(capsys, "sync", "--ledger", ledger.url, "--deadline", "5")
        assert code == 1 and workshop.lock.exists() and ledger.requests
        advice = workshop.leave_to_root(workshop.lock)
        queue_before, sent_before = workshop.queue.read_bytes(), len(ledger.requests)

        with workshop.user():
            code, out, err = run(capsys, "sync", "--ledger", ledger.url, "--deadline", "5")

        assert code == 1 and out == ""
        line = one_line(err)
        assert line.startswith(f"spola: cannot open the sync lock {workshop.lock}: ")
        assert advice in line and "run this again" in line
        assert "nothing was sent or changed" in line
        assert len(ledger.requests) == sent_before  # nothing reached the ledger
        assert workshop.queue.read_bytes() == queue_before

        # given back, the user's sync goes on (to the busy ledger: it stops at its deadline)
        workshop.give_back(workshop.lock)
        with workshop.user():
            code, _, err = run(capsys, "sync", "--ledger", ledger.url, "--deadline", "5")
        assert code == 1 and "sync stopped at its deadline" in err
        assert len(ledger.requests) > sent_before


@posix_owners
def test_a_queue_left_read_only_by_sudo_is_one_line_with_nothing_sent(
    workshop: Workshop, capsys: pytest.CaptureFixture[str]
) -> None:
    signed(capsys, 2)
    advice = workshop.leave_to_root(workshop.queue)
    queue_before = workshop.queue.read_bytes()
    with recording() as ledger:
        with workshop.user():
            code, out, err = run(capsys, "sync", "--ledger", ledger.url, "--deadline", "5")

        assert code == 1 and out == ""
        line = one_line(err)
        assert line.startswith(f"spola: cannot write to the queue {workshop.queue}: ")
        assert advice in line and "nothing was sent or changed" in line
        assert ledger.requests == []  # not even the log key was asked for

        with workshop.user():  # signing says the same, and queues nothing
            code, out, err = run(
                capsys, "sign", "material", "--material", "silk-mulberry", "--facility",
                "main", "--lot", "urn:spola:lot:maglificio-drop:X", "--quantity", "1",
            )  # fmt: skip
        assert code == 1 and out == ""
        line = one_line(err)
        assert line.startswith(f"spola: cannot write to the queue {workshop.queue}: ")
        assert advice in line
        assert workshop.queue.read_bytes() == queue_before

        workshop.give_back(workshop.queue)
        with workshop.user():
            code, _, err = run(capsys, "sync", "--ledger", ledger.url, "--deadline", "5")
        assert code == 1 and "sync stopped at its deadline" in err and ledger.requests


def test_a_folder_where_the_sync_lock_goes_is_one_line(
    workshop: Workshop, capsys: pytest.CaptureFixture[str]
) -> None:
    # Root or not, a folder at the lock's path cannot be opened as the lock.
    signed(capsys, 1)
    workshop.lock.mkdir()
    with recording() as ledger:
        code, out, err = run(capsys, "sync", "--ledger", ledger.url, "--deadline", "5")
        assert code == 1 and out == ""
        line = one_line(err)
        assert line.startswith(f"spola: cannot open the sync lock {workshop.lock}: it is a folder")
        assert "nothing was sent or changed" in line and ledger.requests == []


# -- 2. a deadline that holds against an answer trickling in ----------------------------------


@dataclass
class Trickle:
    """Between the terminal and the ledger: passes every request on; while ``slow``, answers
    a batch (which the ledger has logged) a byte at a time, so slowly that the status line and
    headers alone take ``seconds`` (yet every byte comes well inside any read timeout); sets
    ``headers_sent`` once they are all out."""

    upstream: str  # host:port of the ledger
    seconds: float = 30.0
    slow: bool = False
    headers_sent: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    forwarded: list[str] = field(default_factory=list)


class _Forward(BaseHTTPRequestHandler):
    server: _TrickleServer

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        trickle = self.server.trickle
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        host, port = trickle.upstream.rsplit(":", 1)
        upstream = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        content = answer.read()
        upstream.close()
        trickle.forwarded.append(f"{self.command} {self.path}")
        raw = (
            f"HTTP/1.1 {answer.status} {answer.reason}\r\n"
            f"Content-Type: {answer.getheader('Content-Type', 'application/json')}\r\n"
            f"Content-Length: {len(content)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode() + content
        self.close_connection = True
        if not (trickle.slow and self.command == "POST"):
            self.wfile.write(raw)
            return
        head = raw.index(b"\r\n\r\n") + 4
        pause = trickle.seconds / head
        try:
            for sent, byte in enumerate(raw, start=1):
                if trickle.stop.wait(pause):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                if sent == head:
                    trickle.headers_sent.set()
        except OSError:  # the terminal hung up
            return

    def log_message(self, format: str, *args: object) -> None:
        pass


class _TrickleServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, trickle: Trickle) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.trickle = trickle


@contextlib.contextmanager
def trickling(upstream: str) -> Iterator[tuple[Trickle, str]]:
    trickle = Trickle(upstream=upstream)
    server = _TrickleServer(trickle)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield trickle, f"http://{host!s}:{port}"
    finally:
        trickle.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_deadline_holds_against_an_answer_trickling_in_and_the_batch_is_sent_again(
    home: Path, tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    with served_ledger(home, tmp_path, database_url) as (api, ledger):
        with trickling(ledger[1].removeprefix("http://")) as (trickle, address):
            sign_lot(capsys, "A1")
            code, _, err = run(capsys, "sync", "--ledger", address)  # the log key pinned
            assert code == 0, err
            sign_lot(capsys, "A2")
            sign_lot(capsys, "A3")
            logged = api.tree_size()
            trickle.slow = True

            code, out, err = run(capsys, "sync", "--ledger", address, "--deadline", "5")

            # Returned while the ledger was still trickling its answer's headers (30 s of them).
            assert not trickle.headers_sent.is_set()
            assert code == 1 and out == ""
            line = one_line(err)
            assert line.startswith("spola: sync stopped at its deadline: ")
            assert line.endswith("2 event(s) still queued for the next sync")
            trickle.stop.set()

        # The ledger logged the batch; the terminal never saw the receipts, so the events stay
        # pending, marked as sent in a request that may have logged them: not droppable.
        assert api.tree_size() == logged + 2
        queue = Queue(home / "queue.db")
        try:
            waiting = queue.pending(limit=10)
            assert [e.sending for e in waiting] == [True, True]
            assert queue.counts()[PENDING] == 2
        finally:
            queue.close()

        # Sent again straight to the ledger: it answers each with its original receipt.
        code, out, err = run(capsys, "sync", *ledger)
        assert code == 0, err
        assert "sent 2: 2 applied, 0 not applied (2 already logged)" in out
        assert api.tree_size() == logged + 2
        seqs = Counter(p["seq"] for p in logged_payloads(store_of(api), ACTOR))
        assert seqs == Counter({0: 1, 1: 1, 2: 1})


@posix_owners
def test_a_key_file_left_to_root_by_sudo_is_one_line_saying_what_to_do(
    workshop: Workshop, capsys: pytest.CaptureFixture[str]
) -> None:
    # `sudo spola key rotate` leaves the new key file root's (mode 0600): the workshop's next
    # command said only "spola: Permission denied: …/terminal.key".
    if not workshop.as_root:
        pytest.skip("only root can leave a file to root")
    signed(capsys, 1)
    key = workshop.home / "terminal.key"
    advice = workshop.leave_to_root(key)
    queue_before = workshop.queue.read_bytes()
    with workshop.user():
        code, out, err = run(
            capsys, "sign", "material", "--material", "silk-mulberry", "--facility", "main",
            "--lot", "urn:spola:lot:maglificio-drop:K", "--quantity", "1",
        )  # fmt: skip
    assert code == 1 and out == ""
    line = one_line(err)
    assert line.startswith(f"spola: cannot read the key file {key}: it belongs to root"), line
    assert advice in line
    assert workshop.queue.read_bytes() == queue_before
