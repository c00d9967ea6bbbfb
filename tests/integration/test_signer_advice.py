"""What the terminal advises when the ledger refuses the event at the head of its queue.

`spola sync` stops at a refused event with one line saying what to do; `spola queue` says it
again; `spola queue drop` refuses what must not be dropped. The three say the same thing, and
no advice leads nowhere: a drop is advised only where `spola queue drop` does it, and a refusal
no drop can cure names who must do what. These tests run a real ledger (the API and its
problem mapping), a real queue and the real `spola` command line, as a workshop would.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import pytest

from ledger.canonical import canonical_bytes
from signer.keyfile import read_key_info
from signer.queue import Queue, Refusal
from tests.integration.api_support import Api
from tests.integration.sync_support import (
    ACTOR,
    LOT,
    OTHER,
    SYNC,
    StartLedger,
    add_key,
    advice,
    blocked,
    sign_lot,
    terminal_key,
)
from tests.integration.test_signer_queue_drop import queue_as_an_older_terminal
from tests.supply import material
from tests.terminal import run_cli as run

pytestmark = pytest.mark.integration


def test_an_unregistered_key_is_not_advised_to_be_dropped_anywhere(
    home: Path, capsys: pytest.CaptureFixture[str], start_ledger: StartLedger
) -> None:
    with start_ledger(ACTOR) as api:  # the terminal's key not added
        sign_lot(capsys, "U1")
        sign_lot(capsys, "U2")
        line, shown = blocked(capsys)
        assert "403 unknown-key" in line
        said = advice(line)
        assert "cannot be dropped" in said and "next sync sends it" in said
        assert terminal_key(home)["key_id"] in said and "`spola key show`" in said
        # `spola queue` says the same, and never advises the drop it would refuse.
        assert shown.endswith(said) and "`spola queue drop" not in shown
        code, _, err = run(capsys, "queue", "drop", "1")
        assert code == 1 and err == f"spola: {said}\n"

        add_key(api, ACTOR, terminal_key(home))  # the advice, followed
        code, out, err = run(capsys, *SYNC)
        assert code == 0 and "sent 2: 2 applied" in out, err


def test_a_key_registered_to_another_actor_gets_the_operators_remedy(
    capsys: pytest.CaptureFixture[str], actor_key: dict[str, str], start_ledger: StartLedger
) -> None:
    """The key is the wrong actor's for good: dropping (and re-signing with it) cures nothing,
    and the key cannot be moved to the right actor: only a new key can."""
    with start_ledger(ACTOR, OTHER, key_of=OTHER) as api:  # the key generated for ACTOR
        sign_lot(capsys, "W1")
        sign_lot(capsys, "W2")
        line, shown = blocked(capsys)
        assert "403 key-owner" in line and f"belongs to {OTHER}" in line
        said = advice(line)
        assert "cannot be dropped" in said and "`spola queue drop" not in said
        assert f"registered to {OTHER}" in said and ACTOR in said
        assert "cannot be moved to another actor" in said and f"revokes it from {OTHER}" in said
        assert f"`spola key generate --home NEW --actor {ACTOR}`" in said
        assert shown.endswith(said)
        code, _, err = run(capsys, "queue", "drop", "1")
        assert code == 1 and err == f"spola: {said}\n"

        # Why a new key: the ledger logs the key's move to the right actor, but does not apply
        # it (a registered key is never reused), and the key stays refused.
        api.accept(api.operator.revoke(OTHER, actor_key["key_id"]))
        (moved,) = add_key(api, ACTOR, actor_key)
        assert moved["applied"] is False and moved["violation"]["rule"] == "registry.key_exists"
        code, _, err = run(capsys, *SYNC)
        assert code == 1 and "403 revoked-key" in err and "cannot be dropped" in err


def test_a_revoked_key_is_not_advised_to_be_dropped(
    home: Path, capsys: pytest.CaptureFixture[str], start_ledger: StartLedger
) -> None:
    with start_ledger(ACTOR, key_of=ACTOR) as api:
        api.accept(api.operator.revoke(ACTOR, terminal_key(home)["key_id"]))
        sign_lot(capsys, "V1")
        sign_lot(capsys, "V2")
        line, shown = blocked(capsys)
        assert "403 revoked-key" in line
        said = advice(line)
        assert "cannot be dropped" in said and "`spola queue drop" not in said
        assert "nor any queued after it can be sent" in said
        assert f"`spola key generate --home NEW --actor {ACTOR}`" in said
        assert shown.endswith(said)
        code, _, err = run(capsys, "queue", "drop", "1")
        assert code == 1 and err == f"spola: {said}\n"


@pytest.mark.parametrize("damaged", ["signature", "payload"])
def test_an_event_damaged_in_the_queue_is_advised_and_dropped(
    home: Path, capsys: pytest.CaptureFixture[str], start_ledger: StartLedger, damaged: str
) -> None:
    """403 `signature` for the envelope's own bytes (not its key's owner): the rest of the feed,
    re-signed, goes through, so the drop is advised, the same way by sync and queue."""
    with start_ledger(ACTOR, key_of=ACTOR):
        sign_lot(capsys, "S0")
        sign_lot(capsys, "S1")
        sign_lot(capsys, "S2")
        with sqlite3.connect(home / "queue.db") as db:  # a bit flipped on the disk
            (entry,) = db.execute("SELECT entry FROM events WHERE position = 2").fetchone()
            document = json.loads(entry)
            if damaged == "signature":
                sig = document["signatures"][0]["sig"]
                document["signatures"][0]["sig"] = ("B" if sig[0] == "A" else "A") + sig[1:]
            else:  # its prev, and all else, unreadable: the drop reads neither
                document["payload"] = base64.b64encode(b"\x00" * 200).decode("ascii")
            changed = canonical_bytes(document)
            db.execute("UPDATE events SET entry = ? WHERE position = 2", (changed,))
        db.close()
        line, shown = blocked(capsys)  # S0 is sent first
        assert "(material, seq 1)" in line
        assert "403 signature" in line and "no signature by key" in line
        said = advice(line)
        assert said == (
            "`spola queue drop 2` removes it and re-signs the 1 later event(s) of its feed"
        )
        assert shown.endswith(said)
        code, _, err = run(capsys, "queue", "drop", "2")
        assert code == 0, err
        code, out, err = run(capsys, *SYNC)  # S2, as seq 1, chained to S0
        assert code == 0 and "sent 1: 1 applied" in out, err


def test_a_format_refusal_is_advised_the_same_by_sync_and_queue(
    home: Path, capsys: pytest.CaptureFixture[str], start_ledger: StartLedger
) -> None:
    with start_ledger(ACTOR, key_of=ACTOR):
        bad = queue_as_an_older_terminal(
            home, material(f"{LOT}:F1", quantity={"value": "ten", "unit": "KGM"})
        )
        sign_lot(capsys, "F2")
        line, shown = blocked(capsys)
        assert "422 format" in line
        said = advice(line)
        assert said == (
            f"`spola queue drop {bad}` removes it and re-signs the 1 later event(s) of its feed"
        )
        assert shown.endswith(said)


# -- a refused key rotation --------------------------------------------------------------------


def rotate_then_sign(capsys: pytest.CaptureFixture[str], home: Path) -> tuple[str, str]:
    """`spola key rotate`, then an event signed by the new key: (old key id, new key id)."""
    old = terminal_key(home)["key_id"]
    assert run(capsys, "key", "rotate", "--reason", "new terminal")[0] == 0
    sign_lot(capsys, "N1")
    return old, terminal_key(home)["key_id"]


def recover_from_refused_rotation(
    api: Api, home: Path, capsys: pytest.CaptureFixture[str], old: str, new: str
) -> None:
    """Follow the advice: drop the rotation, the operator adds the new key, sync."""
    line, shown = blocked(capsys)
    said = advice(line)
    assert said.startswith("`spola queue drop 1` removes the rotation")
    assert f"new key {new[:16]}…" in said and "`spola key show`" in said
    assert shown.endswith(said)
    code, out, err = run(capsys, "queue", "drop", "1")
    assert code == 0, err
    assert "dropped queued event 1 (key, seq" in out
    code, out, _ = run(capsys, "queue", "--dropped")
    assert "dropped: refused by the ledger" in out
    # The new key's event is next: refused until the operator registers that key.
    line, _ = blocked(capsys)
    assert "403 unknown-key" in line and new in advice(line)
    add_key(api, ACTOR, terminal_key(home))
    code, out, err = run(capsys, *SYNC)
    assert code == 0 and "sent 1: 1 applied" in out, err
    # And the terminal signs on with its new key.
    sign_lot(capsys, "N2")
    code, out, err = run(capsys, *SYNC)
    assert code == 0 and "sent 1: 1 applied" in out, err
    assert old != new


def test_a_rotation_by_a_key_never_registered_is_dropped_and_the_new_key_registered(
    home: Path, capsys: pytest.CaptureFixture[str], start_ledger: StartLedger
) -> None:
    """Rotated before the first key was registered: the operator, given `spola key show` (the
    new key), registers that one, and the rotation signed by the old key is refused for good."""
    old, new = rotate_then_sign(capsys, home)
    with start_ledger(ACTOR) as api:  # the first key not added
        line, _ = blocked(capsys)
        assert "403 unknown-key" in line and "(key, seq 0)" in line
        recover_from_refused_rotation(api, home, capsys, old, new)


def test_a_rotation_of_a_revoked_key_is_dropped_and_the_new_key_registered(
    home: Path, capsys: pytest.CaptureFixture[str], start_ledger: StartLedger
) -> None:
    """The operator revoked the key (reported lost) before the terminal's rotation got in."""
    with start_ledger(ACTOR, key_of=ACTOR) as api:
        old, new = rotate_then_sign(capsys, home)
        api.accept(api.operator.revoke(ACTOR, old))
        line, _ = blocked(capsys)
        assert "403 revoked-key" in line and "revokes the old one" not in line
        recover_from_refused_rotation(api, home, capsys, old, new)


def test_a_rotation_by_a_key_of_another_actor_is_dropped_and_the_new_key_registered(
    home: Path, capsys: pytest.CaptureFixture[str], start_ledger: StartLedger
) -> None:
    """The rotation gives the terminal the new key for the right actor that the wrong-actor
    advice asks for; the rotation itself, signed by the wrong actor's key, is refused."""
    with start_ledger(ACTOR, OTHER, key_of=OTHER) as api:  # the key generated for ACTOR
        old, new = rotate_then_sign(capsys, home)
        line, _ = blocked(capsys)
        assert "403 key-owner" in line and f"belongs to {OTHER}" in line
        assert f"and revokes the old one from {OTHER}, and" in advice(line)
        recover_from_refused_rotation(api, home, capsys, old, new)


def test_an_unregistered_key_since_rotated_is_found_in_its_retired_file(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    actor_key: dict[str, str],
    start_ledger: StartLedger,
) -> None:
    """Signed with, then rotated, before it was registered: `spola key show` shows the new key,
    so the advice sends the operator to the old key's file; registered, it sends it all."""
    sign_lot(capsys, "R1")
    old, new = rotate_then_sign(capsys, home)
    with start_ledger(ACTOR) as api:  # the first key not added
        line, shown = blocked(capsys)
        assert "(material, seq 0)" in line and "403 unknown-key" in line
        said = advice(line)
        assert f"key {old}" in said and f"`public_key` in retired-{old[:16]}.key" in said
        assert "`spola key show`" not in said and shown.endswith(said)
        assert (
            read_key_info(home / f"retired-{old[:16]}.key").public_key.to_base64()
            == (actor_key["public_key"])
        )
        add_key(api, ACTOR, actor_key)  # the advice, followed: the rotation registers the new key
        code, out, err = run(capsys, *SYNC)
        assert code == 0 and "sent 3: 3 applied" in out, err
        assert new != old


def test_a_rotation_that_may_be_in_the_log_is_not_dropped(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A request carrying it got no answer: it may be in the log, and then its new key too."""
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    assert run(capsys, "key", "rotate")[0] == 0
    queue = Queue(home / "queue.db")
    try:
        (rotation,) = queue.events()
        queue.sending([rotation.position])
        queue.sending([rotation.position])  # sent again: the first got no answer
        queue.refuse(rotation.position, Refusal(status=403, kind="revoked-key", detail="no"))
    finally:
        queue.close()
    code, out, _ = run(capsys, "queue")
    assert code == 0 and "may be in the log" in out and "`spola queue drop" not in out
    code, _, err = run(capsys, "queue", "drop", str(rotation.position))
    assert code == 1 and "may be in the log" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("payload", [b"{damaged", b"[]"])
def test_a_refused_event_damaged_in_the_queue_still_gets_its_advice(
    home: Path, capsys: pytest.CaptureFixture[str], payload: bytes
) -> None:
    """A rotation whose payload was damaged on the disk (no longer a JSON object): the ledger
    refuses it for its signature, and `spola queue` still lists the queue and says what to do."""
    assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
    assert run(capsys, "key", "rotate")[0] == 0
    with sqlite3.connect(home / "queue.db") as db:
        (entry,) = db.execute("SELECT entry FROM events WHERE position = 1").fetchone()
        document = json.loads(entry)
        document["payload"] = base64.b64encode(payload).decode("ascii")
        db.execute("UPDATE events SET entry = ? WHERE position = 1", (canonical_bytes(document),))
    db.close()
    queue = Queue(home / "queue.db")
    try:
        detail = "envelopes[0]: no signature by key … verifies over the envelope"
        queue.refuse(1, Refusal(status=403, kind="signature", detail=detail))
    finally:
        queue.close()
    code, out, err = run(capsys, "queue")
    assert code == 0, err
    assert out.splitlines()[-1] == (
        "SYNC BLOCKED by queued event 1: `spola queue drop 1` removes it and re-signs the 0 "
        "later event(s) of its feed"
    )
