"""An event signed by a key registered to another actor: 403 ``key-owner``, and what the
terminal makes of it.

The ledger names the key's owner and the actor the event claims as members of its problem
(RFC 9457 extension members), on a single POST and in a batch; the terminal keeps them with the
refusal and gives its advice from the problem type and those members, never from the wording
of the detail. A refusal a terminal of an earlier version stored (403 ``signature``, the owner
only in the text) still gets the same advice. Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from ledger.envelope import Envelope
from ledger.keys import PrivateKey
from ledger.store.ledger import LedgerStore
from signer.client import LedgerClient, RetryPolicy, Row
from signer.errors import BlockedQueueError, RefusedBatchError
from signer.keyfile import TerminalKey
from signer.queue import PENDING, Queue, Refusal
from signer.transport import HttpTransport
from tests.fake_ledger import StoreTransport
from tests.integration.api_support import Api, assert_problem, running_api, serving
from tests.integration.sync_support import (
    ACTOR,
    OTHER,
    StartLedger,
    advice,
    blocked,
    sign_lot,
    terminal_key,
)
from tests.supply import facility, material
from tests.terminal import Terminal
from tests.terminal import run_cli as run

pytestmark = pytest.mark.integration

IMPOSTOR_SLUG = "maison"
IMPOSTOR = f"urn:spola:actor:{IMPOSTOR_SLUG}"
LOT = "urn:spola:lot:tessitura-consiglio"


def _owner_members(body: dict[str, object], key_id: str, owner: str, claim: str) -> None:
    assert body["key_id"] == key_id
    assert body["key_owner"] == owner
    assert body["claimed_actor"] == claim
    assert body["detail"] == (
        f"{'envelopes[1]: ' if 'position' in body else ''}key {key_id} belongs to {owner}, "
        f"but the event claims actor {claim}"
    )


# -- the ledger's answer ------------------------------------------------------------------------


def test_an_event_signed_by_another_actors_key_is_refused_as_key_owner(app: Api) -> None:
    terminal = app.enrol("atelier")
    impostor = Terminal(actor=IMPOSTOR, key=terminal.key)
    size = app.tree_size()
    response = app.post(impostor.update_self("Maison"))
    body = assert_problem(response, 403, "key-owner", f"belongs to {terminal.actor}")
    assert body["title"] == "Signing key belongs to another actor"
    _owner_members(body, terminal.key_id, terminal.actor, IMPOSTOR)
    assert "position" not in body
    assert app.tree_size() == size


def test_a_batch_with_an_event_of_another_actors_key_names_it_and_its_owner(app: Api) -> None:
    terminal = app.enrol("atelier")
    impostor = Terminal(actor=IMPOSTOR, key=terminal.key)
    size = app.tree_size()
    response = app.post([app.operator.register(IMPOSTOR), impostor.update_self("Maison")])
    body = assert_problem(response, 403, "key-owner", "envelopes[1]: ")
    assert body["position"] == 1
    _owner_members(body, terminal.key_id, terminal.actor, IMPOSTOR)
    assert app.tree_size() == size  # the batch is refused whole


def test_a_bad_signature_names_no_owner(app: Api) -> None:
    """Only the key-owner problem carries the members: 403 ``signature`` stays as it was."""
    terminal = app.enrol("atelier")
    envelope = terminal.update_self("Atelier")
    payload = envelope.payload.replace(b"Atelier", b"Ateliex")
    forged = Envelope(envelope.payload_type, payload, envelope.signatures)
    body = assert_problem(app.post(forged), 403, "signature", "verifies over the envelope")
    assert not {"key_owner", "claimed_actor"} & set(body)


def test_the_problem_schema_documents_the_key_owner_members(app: Api) -> None:
    spec = app.client.get("/openapi.json").json()
    members = spec["components"]["schemas"]["Problem"]["properties"]
    assert {"key_owner", "claimed_actor", "key_id", "position"} <= set(members)
    assert spec["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
    ]


def test_the_terminals_transport_reads_the_members_over_a_socket(
    tmp_path: Path, database_url: str
) -> None:
    """The real app behind uvicorn, the terminal's own HTTP transport: the refusal it raises
    carries the kind and the members, as sent."""
    with running_api(database_url, tmp_path / "ledger-home") as api:
        terminal = api.enrol("atelier")
        impostor = Terminal(actor=IMPOSTOR, key=terminal.key)
        with serving(create_app(api.settings)) as host:
            transport = HttpTransport.connect(f"http://{host}")
            try:
                with pytest.raises(RefusedBatchError) as refused:
                    transport.submit([impostor.update_self("Maison")])
            finally:
                transport.close()
    assert (refused.value.status, refused.value.kind, refused.value.position) == (
        403,
        "key-owner",
        0,
    )
    assert refused.value.members == {"key_owner": terminal.actor, "claimed_actor": IMPOSTOR}


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ({"key_owner": 7, "claimed_actor": ["x"]}, {}),  # not strings: not kept
        ({"key_owner": "", "seq": "3", "position": "1"}, {}),  # empty, or not a member it acts on
        (
            {"key_owner": "urn:x\n\x1b[2Jspola: fine", "claimed_actor": "u" * 300},
            {"key_owner": "urn:x\\n\\x1b[2Jspola: fine", "claimed_actor": "u" * 200},
        ),
    ],
)
def test_members_a_ledger_sends_are_kept_only_as_printable_bounded_strings(
    sent: dict[str, object], kept: dict[str, str]
) -> None:
    """Whatever a ledger sends, a member is one printable line of at most 200 characters."""
    problem = {"type": "urn:spola:problem:key-owner", "detail": "refused", **sent}
    answer = httpx.MockTransport(lambda request: httpx.Response(403, json=problem))
    client = httpx.Client(base_url="http://ledger.test", transport=answer)
    with pytest.raises(RefusedBatchError) as refused:
        HttpTransport(client=client).submit([])
    assert refused.value.kind == "key-owner"
    assert refused.value.members == kept


# -- the terminal's advice ----------------------------------------------------------------------


def test_sync_stores_the_key_owner_refusal_with_its_members_and_advises_from_them(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    actor_key: dict[str, str],
    start_ledger: StartLedger,
) -> None:
    with start_ledger(ACTOR, OTHER, key_of=OTHER):  # the key generated for ACTOR
        sign_lot(capsys, "K1")
        sign_lot(capsys, "K2")
        line, shown = blocked(capsys)
    assert "403 key-owner" in line
    said = advice(line)
    assert said == (
        f"queued event 1 cannot be dropped: its key {actor_key['key_id'][:16]}… is registered to "
        f"{OTHER}, but the events it signs claim {ACTOR}, and a registered key cannot be moved "
        f"to another actor: the operator revokes it from {OTHER}; the ledger refuses every "
        "event this key signed, so neither this event nor any queued after it can be sent, "
        "and re-signing them with that key cures nothing: keep this terminal's home (its "
        "queue holds them), and sign them again in a new home with a new key (`spola key "
        f"generate --home NEW --actor {ACTOR}`) once the operator has registered that key "
        "(`spola actor add-key`)"
    )
    assert shown.endswith(said)
    queue = Queue(home / "queue.db")
    try:
        refusal = queue.event(1).refusal  # type: ignore[union-attr]
        ((_, _, kept),) = queue.refusals()
    finally:
        queue.close()
    assert refusal is not None and refusal.kind == "key-owner"
    assert refusal.members == {"key_owner": OTHER, "claimed_actor": ACTOR}
    assert kept == refusal
    code, _, err = run(capsys, "queue", "drop", "1")
    assert code == 1 and err == f"spola: {said}\n"


def test_a_ledger_that_names_no_position_is_sent_the_head_alone_and_blocks_on_it(
    store: LedgerStore, operator: Terminal, tmp_path: Path
) -> None:
    """The store ledger sorts refusals as the API does but names no place in the batch: a
    ``key-owner`` refusal is about one event, so the head is sent alone and blocks the queue."""
    owner = TerminalKey(actor=f"urn:spola:actor:{IMPOSTOR_SLUG}", key=PrivateKey.generate())
    store.append(
        [
            operator.register(owner.actor, facilities=[facility()]),
            operator.register(ACTOR, facilities=[facility()]),
            operator.add_key(owner.actor, owner.key),
        ]
    )
    wrong = TerminalKey(actor=ACTOR, key=owner.key)  # a terminal of ACTOR, given that key
    terminal = LedgerClient(
        transport=StoreTransport(store),
        key=wrong,
        queue=Queue(tmp_path / "queue.db"),
        retry=RetryPolicy.no_wait(),
    )
    terminal.sign([Row(label=f"row {i}", fields=material(f"{LOT}:S{i}")) for i in range(3)])
    with pytest.raises(BlockedQueueError) as blocked_by:
        terminal.sync()
    assert (blocked_by.value.status, blocked_by.value.kind) == (403, "key-owner")
    head, *rest = terminal.queue.events(state=PENDING)
    assert head.refusal is not None and len(rest) == 2
    assert head.refusal.members == {"key_owner": owner.actor, "claimed_actor": ACTOR}
    assert f"is registered to {owner.actor}, but the events it signs claim {ACTOR}" in str(
        blocked_by.value
    )


def _refuse(home: Path, refusal: Refusal) -> None:
    queue = Queue(home / "queue.db")
    try:
        queue.refuse(1, refusal)
    finally:
        queue.close()


def _queue_advice(capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run(capsys, "queue")
    assert code == 0, err
    (shown,) = [line for line in out.splitlines() if line.startswith("SYNC BLOCKED")]
    return shown.removeprefix("SYNC BLOCKED by queued event 1: ")


def test_the_advice_comes_from_the_members_not_the_words_of_the_detail(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever the detail says (a ledger may word it otherwise, or translate it), the owner
    the advice names is the one of the problem's members."""
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    sign_lot(capsys, "M1")
    named = "urn:spola:actor:as-the-ledger-read-it"
    members = {"key_owner": OTHER, "claimed_actor": named}
    _refuse(home, Refusal(403, "key-owner", "chiave di un altro attore", members))
    said = _queue_advice(capsys)
    assert said.startswith("queued event 1 cannot be dropped: its key ")
    assert f"is registered to {OTHER}, but the events it signs claim {named}" in said
    assert f"the operator revokes it from {OTHER}" in said


@pytest.mark.parametrize("stored", ["not json", "[1]", '{"key_owner": 5}', '{"key_owner": null}'])
def test_members_damaged_in_the_queue_leave_the_advice_to_the_kind(
    home: Path, capsys: pytest.CaptureFixture[str], stored: str
) -> None:
    """Members that are no JSON object of strings, on the disk: the queue still lists, and the
    advice is the one of a ledger that named no owner."""
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    sign_lot(capsys, "M3")
    _refuse(home, Refusal(403, "key-owner", "refused", {"key_owner": OTHER}))
    with sqlite3.connect(home / "queue.db") as db:
        db.execute("UPDATE events SET refused_members = ? WHERE position = 1", (stored,))
        db.execute("UPDATE refusals SET members = ?", (stored,))
    db.close()
    said = _queue_advice(capsys)
    assert f"is registered to another actor, but the events it signs claim {ACTOR}" in said
    queue = Queue(home / "queue.db")
    try:
        ((_, _, kept),) = queue.refusals()
    finally:
        queue.close()
    assert kept.members == {}


def test_a_key_owner_refusal_without_members_is_still_refused_for_its_key(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ledger that names no owner: the kind alone says no drop helps; the claim is the
    event's own actor."""
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    sign_lot(capsys, "M2")
    _refuse(home, Refusal(403, "key-owner", "refused"))
    said = _queue_advice(capsys)
    assert said.startswith("queued event 1 cannot be dropped: its key ")
    assert f"is registered to another actor, but the events it signs claim {ACTOR}" in said
    assert "`spola queue drop" not in said


def _as_an_earlier_terminal_stored_it(home: Path, detail: str) -> None:
    """The queue file as a terminal from before ``key-owner`` left it: no members column, and
    the refusal stored as 403 ``signature`` with the ledger's text."""
    with sqlite3.connect(home / "queue.db") as db:
        db.execute("ALTER TABLE events DROP COLUMN refused_members")
        db.execute("ALTER TABLE refusals DROP COLUMN members")
        db.execute(
            "UPDATE events SET refused_status = 403, refused_kind = 'signature', "
            "refused_detail = ? WHERE position = 1",
            (detail,),
        )
    db.close()


def test_a_refusal_stored_by_an_earlier_terminal_keeps_its_advice(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    key_id = terminal_key(home)["key_id"]
    sign_lot(capsys, "E1")
    sign_lot(capsys, "E2")
    Queue(home / "queue.db").close()  # the file as this terminal writes it, then made older
    _as_an_earlier_terminal_stored_it(
        home, f"envelopes[0]: key {key_id} belongs to {OTHER}, but the event claims actor {ACTOR}"
    )
    said = _queue_advice(capsys)
    assert said.startswith(f"queued event 1 cannot be dropped: its key {key_id[:16]}…")
    assert f"is registered to {OTHER}, but the events it signs claim {ACTOR}" in said
    code, out, _ = run(capsys, "queue")
    assert code == 0 and "refused 403 signature: envelopes[0]: key" in out  # as stored
    # The file was upgraded on opening, and a new refusal keeps its members.
    _refuse(home, Refusal(403, "key-owner", "k", {"key_owner": OTHER, "claimed_actor": ACTOR}))
    queue = Queue(home / "queue.db")
    try:
        assert queue.event(1).refusal.members["key_owner"] == OTHER  # type: ignore[union-attr]
    finally:
        queue.close()


@pytest.mark.parametrize(
    "detail",
    [
        "envelopes[0]: no signature by key … verifies",
        # The sentence, but not as the whole detail: no answer of a ledger, so not read.
        f"no signature verifies; key {'a' * 64} belongs to {OTHER}, but the event claims "
        f"actor {ACTOR}",
    ],
)
def test_a_damaged_signature_stored_by_an_earlier_terminal_is_still_dropped(
    home: Path, capsys: pytest.CaptureFixture[str], detail: str
) -> None:
    """The fallback reads only the sentence of a key's owner: any other 403 ``signature`` is
    the envelope's own bytes, and the drop is advised."""
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    sign_lot(capsys, "D1")
    Queue(home / "queue.db").close()
    _as_an_earlier_terminal_stored_it(home, detail)
    assert _queue_advice(capsys) == (
        "`spola queue drop 1` removes it and re-signs the 0 later event(s) of its feed"
    )
