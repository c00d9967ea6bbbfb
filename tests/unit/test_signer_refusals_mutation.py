"""Refusals of the workshop terminal that no other test reached: a mutation check replaced each
``raise`` of ``signer/`` by ``pass``, and each of these was left standing. Every test names the
one refusal it pins, by its exception and its message."""

from __future__ import annotations

import base64
import contextlib
import getpass
import io
import json
import os
import re
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpcore
import httpx
import nacl.secret
import pytest
from nacl.pwhash import argon2id

import signer.queue
import signer.rows
from ledger.canonical import canonical_bytes
from ledger.envelope import Envelope, sign_envelope
from ledger.errors import FormatError
from ledger.feed import payload_digest
from ledger.keys import PrivateKey
from ledger.receipt import Receipt
from signer.client import LedgerClient, RetryPolicy, Row
from signer.deadline_sockets import DeadlineBackend
from signer.errors import (
    DeadlineError,
    KeyFileError,
    NotSentInTimeError,
    QueueError,
    RowError,
    SignerError,
    TransportError,
)
from signer.keyfile import (
    MAX_FILE_BYTES,
    KdfCost,
    TerminalKey,
    read_key_file,
    read_key_info,
    write_key_file,
)
from signer.queue import Queue, Refusal
from signer.rows import read_rows
from signer.transport import HttpTransport
from tests.supply import material
from tests.terminal import as_workshop_user, run_cli

ACTOR = "urn:spola:actor:tessitura-mutanti"
PASSPHRASE = "trama e ordito"


# -- the key file ------------------------------------------------------------------------------


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    target = tmp_path / "home" / "terminal.key"
    key = TerminalKey(actor=ACTOR, key=PrivateKey.generate())
    write_key_file(target, key, PASSPHRASE, cost=KdfCost.cheapest())
    return target


def _about(path: Path, what: str) -> str:
    """The pattern of exactly the one-line message ``"<path> <what>"``."""
    return f"^{re.escape(str(path))} {re.escape(what)}$"


def _edit(path: Path, **changes: Any) -> dict[str, Any]:
    """Rewrite the key file with ``changes`` to its top-level fields (mode stays 0600)."""
    document: dict[str, Any] = json.loads(path.read_text())
    document.update(changes)
    path.write_text(json.dumps(document))
    return document


def test_an_empty_passphrase_is_refused_and_no_key_file_is_written(tmp_path: Path) -> None:
    target = tmp_path / "terminal.key"
    key = TerminalKey(actor=ACTOR, key=PrivateKey.generate())
    with pytest.raises(KeyFileError, match=r"^the passphrase must not be empty$"):
        write_key_file(target, key, "", cost=KdfCost.cheapest())
    assert not target.exists()


def test_an_empty_passphrase_does_not_unlock_a_key_file(key_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"^the passphrase must not be empty$"):
        read_key_file(key_path, "")


def test_a_key_file_over_the_size_limit_is_not_read(key_path: Path) -> None:
    # A whole, valid key file, padded with blanks past the limit: refused for its size alone.
    key_path.write_text(key_path.read_text() + " " * MAX_FILE_BYTES)
    with pytest.raises(KeyFileError, match=r"is not a spola terminal key file$"):
        read_key_info(key_path)


@pytest.mark.parametrize("fmt", ["spola terminal key v2", None])
def test_a_key_file_of_another_format_is_not_read(key_path: Path, fmt: str | None) -> None:
    _edit(key_path, format=fmt)
    with pytest.raises(KeyFileError, match=_about(key_path, "is not a spola terminal key file")):
        read_key_info(key_path)


def test_a_key_file_holding_a_list_is_not_read(key_path: Path) -> None:
    key_path.write_text(json.dumps([json.loads(key_path.read_text())]))
    with pytest.raises(KeyFileError, match=_about(key_path, "is not a spola terminal key file")):
        read_key_info(key_path)


@pytest.mark.parametrize("public_key", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_public_key_that_cannot_be_read_is_named(key_path: Path, public_key: str) -> None:
    _edit(key_path, public_key=public_key)
    with pytest.raises(
        KeyFileError, match=_about(key_path, "is damaged: its public key cannot be read")
    ):
        read_key_info(key_path)


def test_a_key_file_without_a_public_key_is_named(key_path: Path) -> None:
    document = json.loads(key_path.read_text())
    del document["public_key"]
    key_path.write_text(json.dumps(document))
    with pytest.raises(
        KeyFileError, match=_about(key_path, "is damaged: its public key cannot be read")
    ):
        read_key_info(key_path)


def test_a_key_id_that_is_not_its_public_keys_hash_is_named(key_path: Path) -> None:
    _edit(key_path, key_id=PrivateKey.generate().public_key.key_id)
    with pytest.raises(
        KeyFileError, match=_about(key_path, "is damaged: key_id is not the hash of its public key")
    ):
        read_key_info(key_path)
    with pytest.raises(KeyFileError, match="key_id is not the hash of its public key"):
        read_key_file(key_path, PASSPHRASE)


@pytest.mark.parametrize(
    "kdf",
    [
        pytest.param({"alg": "scrypt"}, id="another-algorithm"),
        pytest.param({"salt": base64.b64encode(b"8 bytes!").decode()}, id="short-salt"),
        pytest.param({"opslimit": argon2id.OPSLIMIT_SENSITIVE + 1}, id="opslimit-over"),
        pytest.param({"opslimit": 0}, id="opslimit-under"),
    ],
)
def test_key_derivation_settings_out_of_bounds_are_refused_before_deriving(
    key_path: Path, kdf: dict[str, Any]
) -> None:
    document = json.loads(key_path.read_text())
    _edit(key_path, kdf={**document["kdf"], **kdf})
    with pytest.raises(
        KeyFileError,
        match=_about(key_path, "is damaged: its key derivation settings are invalid"),
    ):
        read_key_file(key_path, PASSPHRASE)


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"actor": "' + ACTOR.encode() + b'"}', id="no-seed"),
        pytest.param(b'{"actor": "x", "seed": "AAAA"}', id="short-seed"),
    ],
)
def test_a_box_that_unlocks_to_no_key_is_named(key_path: Path, secret: bytes) -> None:
    # Locked with the right passphrase and the file's own salt and cost, so it decrypts.
    document = json.loads(key_path.read_text())
    kdf = document["kdf"]
    box_key = argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        PASSPHRASE.encode(),
        base64.b64decode(kdf["salt"]),
        opslimit=kdf["opslimit"],
        memlimit=kdf["memlimit"],
    )
    box = nacl.secret.SecretBox(box_key).encrypt(secret)
    _edit(key_path, box=base64.b64encode(bytes(box)).decode())
    with pytest.raises(
        KeyFileError, match=_about(key_path, "is damaged: the unlocked key cannot be read")
    ):
        read_key_file(key_path, PASSPHRASE)


@pytest.mark.parametrize("given", ["none", "another"])
def test_a_drop_without_the_feeds_own_key_re_signs_nothing(tmp_path: Path, given: str) -> None:
    key = TerminalKey(actor=ACTOR, key=PrivateKey.generate())
    client = LedgerClient(transport=None, key=key, queue=Queue(tmp_path / "queue.db"))
    lot = f"urn:spola:lot:{ACTOR[16:]}"
    refused, _ = client.sign([Row(label=f"row {n}", fields=material(f"{lot}:{n}")) for n in "AB"])
    client.queue.refuse(refused, Refusal(status=422, kind="format", detail="a bad quantity"))
    before = client.queue.events()
    key_id = key.key.public_key.key_id
    sign_with = {} if given == "none" else {key_id: PrivateKey.generate()}

    expected = f"no key {key_id[:16]}… to re-sign the events after it"
    with pytest.raises(SignerError, match=f"^{re.escape(expected)}$"):
        client.drop(refused, sign_with)

    assert client.queue.events() == before
    assert client.queue.dropped() == []


# -- files of rows -----------------------------------------------------------------------------


def test_a_file_of_rows_over_the_size_limit_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signer.rows, "MAX_FILE_BYTES", 1024 * 1024)
    path = tmp_path / "lots.csv"
    path.write_text("lot\nurn:spola:lot:tessitura-mutanti:A\n" + "\n" * 1024 * 1024)
    with pytest.raises(RowError, match=_about(path, "is over 1 MiB")):
        read_rows(path, "material")


def test_a_file_of_rows_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "lots.csv"
    with pytest.raises(RowError, match=f"^{re.escape(f'cannot read {missing}: ')}No such file"):
        read_rows(missing, "material")
    with pytest.raises(RowError, match=f"^{re.escape(f'cannot read {tmp_path}: ')}Is a dir"):
        read_rows(tmp_path, "material")


def test_a_file_of_rows_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "lots.csv"
    # saved by a spreadsheet in Windows-1252: "à" is one byte, 0xE0
    path.write_bytes(
        "lot,description\nurn:spola:lot:tessitura-mutanti:A,già tinto\n".encode("cp1252")
    )
    with pytest.raises(RowError, match=_about(path, "is not UTF-8 text")):
        read_rows(path, "material")


def test_a_file_of_more_rows_than_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signer.rows, "MAX_ROWS", 2)
    path = tmp_path / "lots.csv"
    path.write_text("lot\n" + "".join(f"urn:spola:lot:tessitura-mutanti:{n}\n" for n in "ABC"))
    with pytest.raises(RowError, match=_about(path, "holds 3 rows, over 2")):
        read_rows(path, "material")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('[{"lot": "A"}', r"^not JSON: "),
        ('{"lot": "A"}', r'^a JSON file holds a list of events, or \{"events": \[\.\.\.\]\}$'),
        ('{"events": [], "more": []}', r'^a JSON file holds a list of events, or \{"events"'),
        ('"A"', r'^a JSON file holds a list of events, or \{"events"'),
    ],
)
def test_a_json_file_that_is_no_list_of_events_is_refused(
    tmp_path: Path, text: str, why: str
) -> None:
    path = tmp_path / "lots.json"
    path.write_text(text)
    with pytest.raises(RowError, match=why):
        read_rows(path, "material")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('lot,note\nA,x\n"B"x,y\nC,z\n', "row 3: not CSV: ',' expected after '\"'"),
        ('lot\nA\n\n"B"x\n', "row 4: not CSV: ',' expected after '\"'"),
        ('lot\n"A\nA2"\n"B\nB2"x\n', "row 5: not CSV: ',' expected after '\"'"),
        ('lot\nA\n"B\n', "row 3: not CSV: unexpected end of data"),
        ('"lot"x\nA\n', "row 1: not CSV: ',' expected after '\"'"),
    ],
)
def test_a_csv_file_broken_mid_way_names_the_broken_row_and_signs_none(
    tmp_path: Path, text: str, why: str
) -> None:
    path = tmp_path / "lots.csv"
    path.write_text(text)
    with pytest.raises(RowError, match=f"^{re.escape(why)}$"):
        read_rows(path, "material")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("lots.csv", "lot,material,quantity.value,quantity.unit,facility\n"),
        ("lots.csv", ""),
        ("lots.json", "[]"),
        ("lots.json", '{"events": []}'),
    ],
)
def test_a_file_of_no_rows_is_refused_not_signed_as_nothing(
    tmp_path: Path, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(RowError, match=_about(path, "holds no rows")):
        read_rows(path, "material")


def test_a_json_event_that_is_no_object_is_named(tmp_path: Path) -> None:
    path = tmp_path / "lots.json"
    path.write_text('[{"lot": "urn:spola:lot:tessitura-mutanti:A"}, "B"]')
    with pytest.raises(RowError, match=r"^event 2: must be a JSON object$"):
        read_rows(path, "material")


@pytest.mark.parametrize(
    ("header", "cells", "why"),
    [
        ("lot", "A,B", "row 2: more cells than the header has columns"),
        ("lot,quantity..value", "A,1", "row 2: column 'quantity..value' has an empty part"),
        ("lot,.value", "A,1", "row 2: column '.value' has an empty part"),
        (
            "quantity,quantity.value",
            "1,2",
            "row 2: column 'quantity' holds a plain value, and other columns nest under it "
            "('quantity.…'): keep one or the other",
        ),
        (
            "quantity.value.x,quantity.value",
            "1,2",
            "row 2: column 'quantity.value' holds a plain value, and other columns nest under "
            "it ('quantity.value.…'): keep one or the other",
        ),
    ],
)
def test_a_csv_row_that_does_not_fit_its_header_is_named(
    tmp_path: Path, header: str, cells: str, why: str
) -> None:
    path = tmp_path / "lots.csv"
    path.write_text(f"{header}\n{cells}\n")
    with pytest.raises(RowError, match=f"^{re.escape(why)}$"):
        read_rows(path, "material")


# -- the queue file ----------------------------------------------------------------------------

posix_owners = pytest.mark.skipif(
    not hasattr(os, "geteuid"), reason="file owners and modes are POSIX's"
)


def test_a_queue_file_that_is_no_database_is_one_queue_error_and_is_left_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.db"
    junk = b"lotto,materiale\n" * 512  # a CSV saved over the queue by mistake
    path.write_bytes(junk)
    expected = f"cannot open the queue {path}: file is not a database"
    with pytest.raises(QueueError, match=f"^{re.escape(expected)}$"):
        Queue(path)
    assert path.read_bytes() == junk


@contextlib.contextmanager
def _root_home() -> Iterator[tuple[Path, str]]:
    """A terminal home the workshop's user may not write: root's where the tests run as root
    (the commands then run as ``nobody``), else read-only; and what the terminal should say."""
    base = Path(tempfile.mkdtemp(prefix="spola-terminal-"))
    try:
        base.chmod(0o755)
        if os.geteuid() == 0:
            yield base, f"its folder {base} belongs to root, not to you (nobody)"
        else:
            base.chmod(0o555)
            yield base, f"its folder {base} is read-only (mode 0555)"
    finally:
        base.chmod(0o755)
        shutil.rmtree(base)


@posix_owners
def test_a_queue_in_a_home_the_user_cannot_write_says_whose_it_is_and_what_to_do() -> None:
    with _root_home() as (home, why):
        path = home / "queue.db"
        with as_workshop_user(), pytest.raises(QueueError) as refused:
            Queue(path)
        message = str(refused.value)
        assert message.startswith(f"cannot open the queue {path}: {why}")
        assert message.endswith(" and run this again; nothing was changed")
        assert not path.exists()


def _busy(path: Path) -> str:
    return (
        f"^{re.escape(f'the queue {path} is busy (database is locked)')}: "
        "another spola command is using it; run this one again when it is done$"
    )


@pytest.fixture
def impatient(monkeypatch: pytest.MonkeyPatch) -> None:
    """A queue that waits a tenth of a second, not five, for another command's lock."""
    monkeypatch.setattr(signer.queue, "BUSY_TIMEOUT", 0.1)


@pytest.mark.usefixtures("impatient")
def test_a_commit_another_command_holds_off_is_busy_and_keeps_nothing(tmp_path: Path) -> None:
    queue = Queue(tmp_path / "queue.db")
    reader = sqlite3.connect(queue.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM events").fetchall()  # a `spola queue` reading
    try:
        with pytest.raises(QueueError, match=_busy(queue.path)):
            queue.set_setting("log_vkey", "example+1234+AAAA")
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    assert queue.setting("log_vkey") is None


@pytest.mark.usefixtures("impatient")
def test_a_sync_while_another_command_writes_is_busy_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    queue = Queue(tmp_path / "queue.db")
    writer = sqlite3.connect(queue.path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a `spola sign` storing its events
    entered = False
    try:
        with pytest.raises(QueueError, match=_busy(queue.path)), queue.sync_lock():
            entered = True
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert not entered


def test_an_error_inside_a_queue_transaction_is_raised_and_rolls_it_back(tmp_path: Path) -> None:
    queue = Queue(tmp_path / "queue.db")
    with pytest.raises(sqlite3.OperationalError, match="no such table"), queue.transaction():
        queue.set_setting("halted", "an alarm")
        queue._db.execute("INSERT INTO no_such_table VALUES (1)")
    assert queue.setting("halted") is None


def test_a_queue_that_fails_the_write_probe_otherwise_is_not_taken_as_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = Queue(tmp_path / "queue.db")
    monkeypatch.setattr(signer.queue, "_PROBE", "INSERT INTO no_such_table VALUES (1)")
    entered = False
    with pytest.raises(sqlite3.OperationalError, match="no such table"), queue.sync_lock():
        entered = True
    assert not entered


def test_an_event_at_a_seq_that_is_not_the_feeds_next_is_not_queued(tmp_path: Path) -> None:
    queue = Queue(tmp_path / "queue.db")
    key = PrivateKey.generate()
    payload = b'{"type":"material"}'
    expected = f"feed {key.public_key.key_id}: seq 1 is not the feed's next"
    with pytest.raises(QueueError, match=f"^{re.escape(expected)}$"):
        queue.add(
            key_id=key.public_key.key_id,
            seq=1,  # a fresh feed starts at 0
            kind="material",
            envelope=sign_envelope(payload, key),
            digest=payload_digest(payload),
        )
    assert queue.events() == []
    assert queue.feed_head(key.public_key.key_id) == (0, None)


def test_a_refusal_of_no_queued_event_is_not_recorded(tmp_path: Path) -> None:
    queue = Queue(tmp_path / "queue.db")
    with pytest.raises(QueueError, match=r"^no queued event at position 3$"):
        queue.refuse(3, signer.queue.Refusal(status=400, kind="format", detail="bad"))
    assert queue.refusals() == []


def test_a_checkpoint_is_trusted_only_in_place_of_one_read(tmp_path: Path) -> None:
    queue = Queue(tmp_path / "queue.db")
    with pytest.raises(
        QueueError, match=r"^the trusted checkpoint is replaced only after it is read$"
    ):
        queue.trust(b"example.org/log\n1\nAAAA\n")
    assert queue.setting("checkpoint") is None


# -- the client --------------------------------------------------------------------------------


class OutOfTime:
    """A transport whose own deadline has passed: it sends nothing, and says so."""

    def __init__(self) -> None:
        self.calls = 0

    def _late(self, what: str) -> NotSentInTimeError:
        self.calls += 1
        return NotSentInTimeError(f"no time left for {what} before the sync's deadline")

    def submit(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        raise self._late("POST /v1/entries")

    def log_key(self) -> str:
        raise self._late("GET /v1/log/key")

    def checkpoint(self) -> bytes:
        raise self._late("GET /v1/log/checkpoint")

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        raise self._late("GET /v1/log/proof/consistency")


def test_a_transport_out_of_time_stops_the_sync_at_once_without_retrying(tmp_path: Path) -> None:
    transport = OutOfTime()
    client = LedgerClient(
        transport=transport,
        key=None,
        queue=Queue(tmp_path / "queue.db"),
        retry=RetryPolicy.no_wait(),
    )
    expected = (
        "sync stopped at its deadline: no time left for GET /v1/log/key before the sync's "
        "deadline; 0 event(s) still queued for the next sync"
    )
    with pytest.raises(DeadlineError, match=f"^{re.escape(expected)}$"):
        client.sync()  # the client's own deadline: none
    assert transport.calls == 1  # nothing was sent, so nothing is worth asking again


def test_a_later_event_that_cannot_be_re_signed_stops_the_drop_and_changes_nothing(
    tmp_path: Path,
) -> None:
    # Queued by an older terminal whose schemas took what these refuse (here: no lot).
    key = TerminalKey(actor=ACTOR, key=PrivateKey.generate())
    client = LedgerClient(transport=None, key=key, queue=Queue(tmp_path / "queue.db"))
    [refused] = client.sign([Row(label="row 1", fields=material(f"urn:spola:lot:{ACTOR[16:]}:A"))])
    key_id = key.key.public_key.key_id
    seq, prev = client.queue.feed_head(key_id)
    old = {"v": 1, "actor": ACTOR, "seq": seq, "prev": prev, "type": "material"}
    payload = canonical_bytes(old | {"time": "2026-01-02T03:04:05Z"})
    later = client.queue.add(
        key_id=key_id,
        seq=seq,
        kind="material",
        envelope=sign_envelope(payload, key.key),
        digest=payload_digest(payload),
    )
    client.queue.refuse(refused, Refusal(status=422, kind="format", detail="a bad quantity"))
    before = client.queue.events()

    with pytest.raises(SignerError, match=f"^queued event {later} cannot be re-signed: "):
        client.drop(refused, {key_id: key.key})

    assert client.queue.events() == before
    assert client.queue.dropped() == []
    assert client.queue.feed_head(key_id) == (seq + 1, payload_digest(payload))


# -- the transport -----------------------------------------------------------------------------


def _late(failure: type[httpx.TransportError]) -> HttpTransport:
    """A transport whose request fails with ``failure`` once the sync's deadline has passed
    (the deadline is moved to the past as the request runs: no clock is waited on)."""

    def handler(request: httpx.Request) -> httpx.Response:
        transport.deadline = 0.0
        raise failure("the network is slow", request=request)

    client = httpx.Client(base_url="http://ledger.test", transport=httpx.MockTransport(handler))
    transport = HttpTransport(client=client, deadline=float("inf"))
    return transport


@pytest.mark.parametrize("failure", [httpx.ConnectError, httpx.ConnectTimeout])
def test_no_connection_by_the_deadline_is_known_not_sent_in_time(
    failure: type[httpx.TransportError],
) -> None:
    expected = (
        "no time left to reach the ledger (GET /v1/log/checkpoint) before the sync's deadline"
    )
    with pytest.raises(NotSentInTimeError, match=f"^{re.escape(expected)}$"):
        _late(failure).checkpoint()


def test_no_answer_by_the_deadline_says_the_deadline_not_the_timeout() -> None:
    expected = "the ledger did not answer POST /v1/entries before the sync's deadline"
    with pytest.raises(TransportError, match=f"^{re.escape(expected)}$") as late:
        _late(httpx.ReadTimeout).submit([])
    assert not isinstance(late.value, NotSentInTimeError)  # it went out: it may be logged


def test_a_connection_lost_mid_request_cannot_reach_the_ledger_and_may_be_logged() -> None:
    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset by peer", request=request)

    client = httpx.Client(base_url="http://ledger.test", transport=httpx.MockTransport(reset))
    expected = "cannot reach the ledger (POST /v1/entries): connection reset by peer"
    with pytest.raises(TransportError, match=f"^{re.escape(expected)}$") as lost:
        HttpTransport(client=client).submit([])
    assert not isinstance(lost.value, NotSentInTimeError)


def _answering(body: object) -> HttpTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    client = httpx.Client(base_url="http://ledger.test", transport=httpx.MockTransport(handler))
    return HttpTransport(client=client)


@pytest.mark.parametrize("body", [{}, {"receipts": None}, {"receipts": "many"}, []])
def test_a_batch_answered_without_receipts_is_a_format_error(body: object) -> None:
    with pytest.raises(FormatError, match=r'^the ledger answered a batch without "receipts"$'):
        _answering(body).submit([])


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"first": 1, "second": 2}, id="no-proof"),
        pytest.param({"first": 1, "second": 2, "proof": ["not base64!"]}, id="not-base64"),
        pytest.param({"first": 1, "second": 2, "proof": [7]}, id="not-text"),
        pytest.param([], id="not-an-object"),
    ],
)
def test_a_malformed_consistency_proof_is_a_format_error(body: object) -> None:
    with pytest.raises(FormatError, match=r"^malformed consistency proof: "):
        _answering(body).consistency_proof(1, 2)


@pytest.mark.parametrize(
    "late", [httpcore.ConnectTimeout, httpcore.ReadTimeout, httpcore.WriteTimeout]
)
def test_a_socket_waits_for_nothing_once_the_deadline_has_passed(
    late: type[httpcore.TimeoutException],
) -> None:
    backend = DeadlineBackend(lambda: 0.0)  # an instant long past on the monotonic clock
    with pytest.raises(late, match=r"^the sync's deadline has passed$"):
        backend.bound(30.0, late)
    with pytest.raises(late, match=r"^the sync's deadline has passed$"):
        backend.bound(None, late)


# -- the commands ------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    """Standard input that is a person at a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def prompted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A terminal home whose passphrase is typed at the prompt: the answers, in order."""
    monkeypatch.setenv("SPOLA_TERMINAL_HOME", str(tmp_path / "terminal"))
    monkeypatch.delenv("SPOLA_KEY_PASSPHRASE", raising=False)
    monkeypatch.setattr("sys.stdin", _Terminal())
    answers: list[str] = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": answers.pop(0))
    return answers


def test_two_different_passphrases_at_the_prompt_write_no_key(
    prompted: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompted += ["trama e ordito", "trama e ordit0"]
    code, out, err = run_cli(capsys, "key", "generate", "--actor", ACTOR)
    assert (code, out, err) == (1, "", "spola: the two passphrases differ\n")
    assert not (tmp_path / "terminal" / "terminal.key").exists()
    assert prompted == []  # asked twice


def test_a_rotation_the_queue_refuses_keeps_the_old_key_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "terminal"
    monkeypatch.setenv("SPOLA_TERMINAL_HOME", str(home))
    monkeypatch.setenv("SPOLA_KEY_PASSPHRASE", PASSPHRASE)
    assert run_cli(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    assert run_cli(capsys, "key", "rotate")[0] == 0
    new = read_key_info(home / "terminal.key").key_id
    [retired] = home.glob("retired-*.key")
    old = read_key_info(retired).key_id
    shutil.copy2(retired, home / "terminal.key")  # the old key, restored from a backup
    key_before = (home / "terminal.key").read_bytes()

    code, out, err = run_cli(capsys, "key", "rotate")

    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"spola: key {old[:16]}… was rotated to {new[:16]}…: sign with the terminal's new key"
    ]
    assert (home / "terminal.key").read_bytes() == key_before
    assert not (home / "terminal.key.new").exists()
    assert [e.type for e in Queue(home / "queue.db").events()] == ["key"]  # the first only


@pytest.mark.parametrize(
    ("flag", "given"),
    [
        ("--input", "60KGM"),
        ("--input", "=60KGM"),
        ("--output", "urn:spola:lot:tessitura-mutanti:T1"),
    ],
)
def test_a_flag_that_is_not_id_equals_amount_is_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    given: str,
) -> None:
    monkeypatch.setenv("SPOLA_TERMINAL_HOME", str(tmp_path / "terminal"))
    monkeypatch.setenv("SPOLA_KEY_PASSPHRASE", PASSPHRASE)
    code, out, err = run_cli(capsys, "sign", "process", "--process", "dyeing", flag, given)
    assert (code, out) == (1, "")
    assert err.splitlines() == [f"spola: --flags: {flag}: {given!r} is not ID=AMOUNT"]


@pytest.mark.parametrize(
    "args",
    [
        ("queue", "--limit", "ten"),
        ("queue", "drop", "1.5"),
        ("sync", "--ledger", "http://ledger.test", "--batch", "0x10"),
    ],
)
def test_a_count_that_is_no_whole_number_is_a_usage_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
) -> None:
    monkeypatch.setenv("SPOLA_TERMINAL_HOME", str(tmp_path / "terminal"))
    with pytest.raises(SystemExit) as stopped:
        run_cli(capsys, *args)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].endswith(f": {args[-1]!r} is not a whole number")
    assert not (tmp_path / "terminal").exists()


def test_dropping_what_may_not_be_dropped_is_refused_before_the_passphrase_is_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SPOLA_TERMINAL_HOME", str(tmp_path / "terminal"))
    monkeypatch.setenv("SPOLA_KEY_PASSPHRASE", PASSPHRASE)
    assert run_cli(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    lot = f"urn:spola:lot:{ACTOR[16:]}:A"
    signed = ("sign", "material", "--lot", lot, "--material", "silk-mulberry")
    assert run_cli(capsys, *signed, "--quantity", "1", "--facility", "main")[0] == 0
    monkeypatch.delenv("SPOLA_KEY_PASSPHRASE")  # and no terminal to ask it at
    monkeypatch.setattr("sys.stdin", io.StringIO())

    code, out, err = run_cli(capsys, "queue", "drop", "1")

    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "spola: queued event 1 was not refused by the ledger: only a refused event can be dropped"
    ]


@pytest.fixture
def terminal_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "terminal"
    monkeypatch.setenv("SPOLA_TERMINAL_HOME", str(home))
    monkeypatch.setenv("SPOLA_KEY_PASSPHRASE", PASSPHRASE)
    return home


def test_an_amount_flag_that_is_no_amount_and_unit_is_named(
    terminal_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lot = f"urn:spola:lot:{ACTOR[16:]}:A"
    code, out, err = run_cli(capsys, "sign", "process", "--input", f"{lot}=60 kilos")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "spola: --flags: --input: '60 kilos' is not an amount and unit such as 120.5KGM"
    ]


def test_a_new_key_that_is_not_the_one_the_rotation_names_is_not_taken_up(
    terminal_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = terminal_home
    assert run_cli(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    assert run_cli(capsys, "key", "rotate")[0] == 0
    named = read_key_info(home / "terminal.key").key_id
    [retired] = home.glob("retired-*.key")
    shutil.copy2(retired, home / "terminal.key")  # the old key, restored from a backup,
    stranger = TerminalKey(actor=ACTOR, key=PrivateKey.generate())  # beside some other key
    write_key_file(home / "terminal.key.new", stranger, PASSPHRASE, cost=KdfCost.cheapest())
    files = {path.name: path.read_bytes() for path in home.iterdir()}

    code, out, err = run_cli(capsys, "key", "show")

    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"spola: {home / 'terminal.key.new'} is not the key {named[:16]}… the rotation names"
    ]
    assert {path.name: path.read_bytes() for path in home.iterdir()} == files


def test_dropping_an_event_whose_key_is_gone_says_to_restore_it(
    terminal_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = terminal_home
    assert run_cli(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    signed_by = read_key_info(home / "terminal.key").key_id
    lot = f"urn:spola:lot:{ACTOR[16:]}:A"
    signed = ("sign", "material", "--lot", lot, "--material", "silk-mulberry")
    assert run_cli(capsys, *signed, "--quantity", "1", "--facility", "main")[0] == 0
    # A later event of the feed, to be re-signed once the first is dropped (the last event of
    # a feed is dropped with no key at all: nothing is re-signed).
    assert run_cli(capsys, *signed, "--quantity", "2", "--facility", "main")[0] == 0
    queue = Queue(home / "queue.db")
    queue.refuse(1, Refusal(status=422, kind="format", detail="a bad quantity"))
    queue.close()
    (home / "terminal.key").unlink()  # lost, and a new key made in its place
    assert run_cli(capsys, "key", "generate", "--actor", ACTOR)[0] == 0

    code, out, err = run_cli(capsys, "queue", "drop", "1")

    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"spola: the key {signed_by[:16]}… that signed this feed is not in {home}: "
        "restore its retired-….key file from your backup"
    ]
    assert [e.position for e in Queue(home / "queue.db").events()] == [1, 2]


def test_no_passphrase_and_no_terminal_to_ask_it_at_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SPOLA_TERMINAL_HOME", str(tmp_path / "terminal"))
    monkeypatch.delenv("SPOLA_KEY_PASSPHRASE", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("trama e ordito\n"))  # a pipe, not a person
    code, out, err = run_cli(capsys, "key", "generate", "--actor", ACTOR)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "spola: no passphrase: set SPOLA_KEY_PASSPHRASE or run in a terminal"
    ]
    assert not (tmp_path / "terminal" / "terminal.key").exists()


# -- reading no more than the limit ------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX's")
@pytest.mark.parametrize("reader", ["rows", "key file"])
def test_a_file_that_never_ends_is_refused_after_the_limit_not_read_to_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    # A pipe (`--from /dev/stdin`, a named pipe) writes one byte past the limit and stays open:
    # the terminal must refuse it having read that far, not wait for an end that never comes.
    refusal: tuple[type[Exception], str]
    read: Callable[[Path], object]
    if reader == "rows":
        monkeypatch.setattr(signer.rows, "MAX_FILE_BYTES", 1024 * 1024)
        path, limit = tmp_path / "lots.csv", 1024 * 1024
        refusal = (RowError, _about(path, "is over 1 MiB"))
        read = lambda p: read_rows(p, "material")  # noqa: E731
    else:
        path, limit = tmp_path / "terminal.key", MAX_FILE_BYTES
        refusal = (KeyFileError, _about(path, "is not a spola terminal key file"))
        read = read_key_info
    os.mkfifo(path, 0o600)
    release, closed = threading.Event(), threading.Event()  # closed: or closing

    def write() -> None:
        with contextlib.suppress(BrokenPipeError), path.open("wb") as pipe:
            pipe.write(b" " * (limit + 1))
            pipe.flush()
            release.wait(timeout=10)
            closed.set()  # before the end of the pipe can be read

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        with pytest.raises(refusal[0], match=refusal[1]):
            read(path)
        assert not closed.is_set()  # refused while the pipe was still open
    finally:
        release.set()
        writer.join(timeout=30)
