"""One event the ledger refuses must not block a workshop's queue for good.

The terminal checks events against its own copy of the schemas; a ledger that has moved on
(or an older terminal's queue) can still refuse one as malformed (422). Before `spola queue
drop`, that event stayed at the head of the queue, every sync sent it and was refused again,
and the only way out was deleting the queue file. These tests run a real ledger over HTTP
(uvicorn on a local port), a real queue and the real `spola` command line.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.canonical import canonical_bytes
from ledger.envelope import Envelope, sign_envelope
from ledger.events import event_time_now
from ledger.feed import payload_digest
from ledger.keys import PrivateKey
from ledger.store.ledger import LedgerStore
from signer.client import LedgerClient, RetryPolicy, Row
from signer.errors import BlockedQueueError, QueueError, TransportError
from signer.keyfile import TerminalKey, read_key_file, read_key_info
from signer.queue import APPLIED, NOT_APPLIED, PENDING, Queue, Refusal
from signer.transport import HttpTransport
from tests.fake_ledger import FaultyTransport, StoreTransport
from tests.integration.api_support import Api, running_api, serving
from tests.supply import facility, material
from tests.terminal import TERMINAL_PASSPHRASE, Terminal
from tests.terminal import run_cli as run

pytestmark = pytest.mark.integration

ACTOR = "urn:spola:actor:maglificio-drop"
LOT = "urn:spola:lot:maglificio-drop"


def register(api: Api, home: Path) -> None:
    """The operator registers the workshop and the terminal's key (`spola key show`)."""
    info = read_key_info(home / "terminal.key")
    key = {"key_id": info.key_id, "public_key": info.public_key.to_base64()}
    api.accept(
        [
            api.operator.register(ACTOR, facilities=[facility()]),
            api.operator.sign({"type": "key", "op": "add", "subject": ACTOR, **key}),
        ]
    )


@contextmanager
def served_ledger(home: Path, tmp_path: Path, database_url: str) -> Iterator[tuple[Api, list[str]]]:
    """A ledger served over HTTP with the workshop and its terminal registered; the API and
    the ``--ledger`` arguments that reach it."""
    with (
        running_api(database_url, tmp_path / "ledger-home") as api,
        serving(create_app(api.settings)) as host,
    ):
        register(api, home)
        yield api, ["--ledger", f"http://{host}"]


def queue_as_an_older_terminal(home: Path, fields: dict[str, Any]) -> int:
    """Queue an event the ledger's schemas refuse, signed and chained as a terminal of another
    version (whose schemas differed) queued it; its queue position."""
    key = read_key_file(home / "terminal.key", TERMINAL_PASSPHRASE)
    queue = Queue(home / "queue.db")
    try:
        key_id = key.key.public_key.key_id
        seq, prev = queue.feed_head(key_id)
        header = {"v": 1, "actor": key.actor, "seq": seq, "prev": prev, "time": event_time_now()}
        payload = canonical_bytes({**header, **fields})
        return queue.add(
            key_id=key_id,
            seq=seq,
            kind=str(fields["type"]),
            envelope=sign_envelope(payload, key.key),
            digest=payload_digest(payload),
        )
    finally:
        queue.close()


def sign_lot(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, _, err = run(
        capsys, "sign", "material", "--material", "silk-mulberry", "--facility", "main",
        "--lot", f"{LOT}:{name}", "--quantity", "10",
    )  # fmt: skip
    assert code == 0, err


def logged_seqs(api: Api, key_id: str) -> list[tuple[int, str]]:
    """(seq, lot) of every event of ``key_id`` in the ledger's log, in log order."""
    out = []
    for index in range(api.tree_size()):
        envelope = Envelope.from_bytes(api.entry(index))
        if envelope.signatures[0].keyid == key_id:
            payload = json.loads(envelope.payload)
            out.append((payload["seq"], payload.get("lot", "")))
    return out


def test_a_refused_event_blocks_the_queue_until_dropped_and_the_rest_is_resigned(
    home: Path, tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    key_id = read_key_info(home / "terminal.key").key_id
    with served_ledger(home, tmp_path, database_url) as (api, ledger):
        sign_lot(capsys, "A1")
        bad = queue_as_an_older_terminal(
            home, material(f"{LOT}:A2", quantity={"value": "ten", "unit": "KGM"})
        )
        sign_lot(capsys, "A3")
        sign_lot(capsys, "A4")

        # The event before the refused one goes through; the refused one stops the queue, and
        # sync says in one line which event it is and how to get past it.
        code, _, err = run(capsys, "sync", *ledger)
        assert code == 1
        (line,) = [line for line in err.splitlines() if line.startswith("spola:")]
        assert line.startswith(f"spola: queued event {bad} (material, seq 1) blocks the queue")
        assert "422 format" in line and f"`spola queue drop {bad}`" in line
        assert "re-signs the 2 later event(s)" in line
        code, out, _ = run(capsys, "queue")
        assert code == 0
        assert "refused 422 format" in out and "3 pending, 1 applied" in out
        assert f"SYNC BLOCKED by queued event {bad}" in out

        code, _, err = run(capsys, "sync", *ledger)  # still blocked: nothing else is sent
        assert code == 1 and f"queued event {bad} (material, seq 1)" in err

        code, out, err = run(capsys, "queue", "drop", str(bad))
        assert code == 0, err
        assert f"dropped queued event {bad}" in out and "re-signed the 2 later" in out

        code, out, err = run(capsys, "sync", *ledger)
        assert code == 0, err
        assert "sent 2: 2 applied" in out
        # The feed is contiguous in the log, without the dropped event; nothing was lost.
        assert logged_seqs(api, key_id) == [(0, f"{LOT}:A1"), (1, f"{LOT}:A3"), (2, f"{LOT}:A4")]
        code, out, _ = run(capsys, "queue", "--dropped")
        assert "dropped: refused by the ledger (422 format" in out
        assert out.count("re-signed as seq") == 2 and "0 pending, 3 applied" in out
        queue = Queue(home / "queue.db")
        try:
            assert [r.kind for _, _, r in queue.refusals()] == ["format", "format"]
            (gone, *_) = queue.dropped()
            assert json.loads(Envelope.from_bytes(gone.entry).payload)["lot"] == f"{LOT}:A2"
        finally:
            queue.close()
        # And the terminal signs on from the repaired head of its feed.
        sign_lot(capsys, "A5")
        code, out, err = run(capsys, "sync", *ledger)
        assert code == 0 and "sent 1: 1 applied" in out, err
        assert logged_seqs(api, key_id)[-1] == (3, f"{LOT}:A5")


def test_drop_refuses_what_is_not_a_refused_pending_event(
    home: Path, tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    with (
        running_api(database_url, tmp_path / "ledger-home") as api,
        serving(create_app(api.settings)) as host,
    ):
        sign_lot(capsys, "B1")
        # Not registered yet: refused 403 unknown-key, which the operator resolves, not a drop.
        code, _, err = run(capsys, "sync", "--ledger", f"http://{host}")
        assert code == 1 and "403 unknown-key" in err and "next sync sends it" in err
        code, _, err = run(capsys, "queue", "drop", "1")
        assert code == 1 and "cannot be dropped" in err and len(err.splitlines()) == 1
        register(api, home)
        assert run(capsys, "sync", "--ledger", f"http://{host}")[0] == 0
        sign_lot(capsys, "B2")
    for position, why in [
        ("1", "is in the log (applied): it stays"),
        ("2", "was not refused by the ledger"),
        ("9", "no queued event at position 9"),
    ]:
        code, _, err = run(capsys, "queue", "drop", position)
        assert code == 1 and why in err and len(err.splitlines()) == 1, err


def test_an_event_whose_answer_was_lost_is_never_resigned(
    database_url: str, tmp_path: Path
) -> None:
    """Logged, its answer lost, then refused (413) by the ledger after its body limit was
    lowered: it may be in the log (it is), so dropping it would sign a second event at its
    seq — an equivocation the ledger keeps as evidence against the workshop."""
    with running_api(database_url, tmp_path / "ledger-home") as api:
        key = TerminalKey(actor=ACTOR, key=PrivateKey.generate())
        api.accept(
            [
                api.operator.register(ACTOR, facilities=[facility()]),
                api.operator.add_key(ACTOR, key.key),
            ]
        )
        queue = Queue(tmp_path / "queue.db")
        rows = [Row(label=f"lot {i}", fields=material(f"{LOT}:C{i}")) for i in (1, 2)]
        terminal = LedgerClient(
            transport=FaultyTransport(HttpTransport(client=api.client), ["lost"] * 6),
            key=key,
            queue=queue,
            batch_size=1,
            retry=RetryPolicy.no_wait(),
        )
        terminal.sign(rows)
        with pytest.raises(TransportError, match="gave up"):
            terminal.sync()
        assert api.tree_size() > 0 and queue.counts()[PENDING] == 2  # logged, unanswered
        smaller = dataclasses.replace(api.settings, max_body_bytes=64)
        with TestClient(create_app(smaller), raise_server_exceptions=False) as strict:
            terminal.transport = HttpTransport(client=strict)
            with pytest.raises(BlockedQueueError, match="may be in the log") as blocked:
                terminal.sync()
        assert blocked.value.status == 413
        head = queue.pending(limit=1)[0]
        with pytest.raises(QueueError, match="may be in the log"):
            terminal.drop(head.position, {key.key.public_key.key_id: key.key})
        assert queue.counts()[PENDING] == 2 and queue.dropped() == []
        terminal.transport = HttpTransport(client=api.client)
        assert terminal.sync().applied == 2  # the first is answered as the duplicate it is
        assert queue.counts()[APPLIED] == 2


def test_a_refused_event_before_a_key_rotation_is_dropped_with_the_retired_key(
    home: Path, tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The old key's feed is re-signed with the old key (kept as retired-….key), rotation
    included; the new key's events, queued behind the rotation, then go through."""
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    old = read_key_info(home / "terminal.key").key_id
    with served_ledger(home, tmp_path, database_url) as (api, ledger):
        bad = queue_as_an_older_terminal(
            home, material(f"{LOT}:R1", quantity={"value": "ten", "unit": "KGM"})
        )
        sign_lot(capsys, "R2")
        assert run(capsys, "key", "rotate", "--reason", "new terminal")[0] == 0
        new = read_key_info(home / "terminal.key").key_id
        sign_lot(capsys, "R3")
        code, _, err = run(capsys, "sync", *ledger)
        assert code == 1 and f"queued event {bad} (material, seq 0) blocks the queue" in err
        assert "re-signs the 2 later event(s)" in err

        code, out, err = run(capsys, "queue", "drop", str(bad))
        assert code == 0, err
        code, out, err = run(capsys, "sync", *ledger)
        assert code == 0, err
        assert "sent 3: 3 applied" in out
        assert [seq for seq, _ in logged_seqs(api, old)] == [0, 1]
        assert logged_seqs(api, new) == [(0, f"{LOT}:R3")]


def refused_rotation(home: Path, capsys: pytest.CaptureFixture[str]) -> int:
    """A new terminal's key rotated at once, the rotation refused by the ledger (format): the
    queue's one event; its position."""
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    assert run(capsys, "key", "rotate")[0] == 0
    queue = Queue(home / "queue.db")
    try:
        (rotation,) = queue.events()
        queue.refuse(rotation.position, Refusal(status=422, kind="format", detail="refused"))
    finally:
        queue.close()
    return rotation.position


def test_a_refused_rotation_is_dropped_alone_and_the_new_key_stays(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The new key's feed does not chain to the rotation: dropping it re-signs nothing, and the
    new key, registered by the operator instead, signs on."""
    rotation = refused_rotation(home, capsys)
    new = read_key_info(home / "terminal.key").key_id
    code, out, err = run(capsys, "queue", "drop", str(rotation))
    assert code == 0, err
    assert "re-signed the 0 later event(s)" in out
    assert read_key_info(home / "terminal.key").key_id == new
    sign_lot(capsys, "K1")
    queue = Queue(home / "queue.db")
    try:
        (signed,) = queue.events()
        assert (signed.key_id, signed.seq) == (new, 0)
        assert [gone.type for gone in queue.dropped()] == ["key"]
    finally:
        queue.close()


def test_a_drop_that_re_signs_nothing_asks_for_no_key(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dropping the last event of a feed (a refused rotation always is) re-signs nothing: it
    asked for the retired key's passphrase all the same, and failed on a wrong one."""
    rotation = refused_rotation(home, capsys)
    monkeypatch.setenv("SPOLA_KEY_PASSPHRASE", "not the passphrase")
    code, out, err = run(capsys, "queue", "drop", str(rotation))
    assert code == 0, err
    assert "re-signed the 0 later event(s)" in out


def test_a_refused_rotation_followed_by_events_of_its_feed_cannot_be_dropped(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A queue where the old key signed on after its rotation (as no terminal does now): those
    events chain to the rotation, and would be re-signed by a key that is to be replaced."""
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    old = read_key_file(home / "terminal.key", TERMINAL_PASSPHRASE)
    assert run(capsys, "key", "rotate")[0] == 0
    queue = Queue(home / "queue.db")
    try:
        (rotation,) = queue.events()
        seq, prev = queue.feed_head(rotation.key_id)
        payload = canonical_bytes(
            {"v": 1, "actor": ACTOR, "seq": seq, "prev": prev, "time": event_time_now(),
             **material(f"{LOT}:K2")}
        )  # fmt: skip
        queue.add(
            key_id=rotation.key_id, seq=seq, kind="material",
            envelope=sign_envelope(payload, old.key), digest=payload_digest(payload),
        )  # fmt: skip
        queue.refuse(rotation.position, Refusal(status=422, kind="format", detail="refused"))
    finally:
        queue.close()
    code, _, err = run(capsys, "queue", "drop", str(rotation.position))
    assert code == 1 and "rotates the key" in err and "cannot be dropped" in err
    assert "1 later event(s) of the old key's feed follow it" in err


OLD_SCHEMA = """
CREATE TABLE events (
    position INTEGER PRIMARY KEY AUTOINCREMENT, key_id TEXT NOT NULL, seq INTEGER NOT NULL,
    type TEXT NOT NULL, entry BLOB NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
    log_index INTEGER, receipt TEXT, rule TEXT, detail TEXT, UNIQUE (key_id, seq)
);
CREATE TABLE feeds (key_id TEXT PRIMARY KEY, next_seq INTEGER NOT NULL, prev TEXT);
"""


def test_a_queue_file_from_an_older_terminal_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute(
            "INSERT INTO events (key_id, seq, type, entry) VALUES ('k', 0, 'material', x'7b7d')"
        )
    db.close()
    queue = Queue(path)
    try:
        (event,) = queue.events()
        assert event.refusal is None and not event.sending and not event.unanswered
        queue.refuse(event.position, Refusal(status=403, kind="signature", detail="bad"))
        assert str(queue.events()[0].refusal) == "403 signature: bad"
    finally:
        queue.close()


def test_a_ledger_that_does_not_name_the_refused_envelope_is_sent_the_head_alone(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    key = TerminalKey(actor=ACTOR, key=PrivateKey.generate())
    store.append(
        [operator.register(ACTOR, facilities=[facility()]), operator.add_key(ACTOR, key.key)]
    )
    queue = Queue(tmp_path / "queue.db")
    terminal = LedgerClient(
        transport=StoreTransport(store),  # its refusals carry no position
        key=key,
        queue=queue,
        retry=RetryPolicy.no_wait(),
    )
    terminal.sign([Row(label="A1", fields=material(f"{LOT}:A1"))])
    key_id = key.key.public_key.key_id
    seq, prev = queue.feed_head(key_id)
    header = {"v": 1, "actor": ACTOR, "seq": seq, "prev": prev, "time": event_time_now()}
    payload = canonical_bytes({**header, **material(f"{LOT}:A2", quantity={"value": "-1"})})
    bad = queue.add(
        key_id=key_id,
        seq=seq,
        kind="material",
        envelope=sign_envelope(payload, key.key),
        digest=payload_digest(payload),
    )
    terminal.sign([Row(label="A3", fields=material(f"{LOT}:A3"))])
    with pytest.raises(BlockedQueueError, match=f"queued event {bad} .*422 format"):
        terminal.sync()
    assert queue.counts()[APPLIED] == 1  # A1, sent alone
    resigned = terminal.drop(bad, {key_id: key.key})
    assert [(e.seq, e.type) for e in resigned] == [(1, "material")]
    assert terminal.sync().applied == 1
    assert queue.counts() == {PENDING: 0, APPLIED: 2, NOT_APPLIED: 0}
