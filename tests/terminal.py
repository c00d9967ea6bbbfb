"""A test terminal: one actor's key and feed, signing events as a workshop terminal would."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ledger.canonical import canonical_bytes
from ledger.envelope import Envelope, sign_envelope
from ledger.events import encode_event, event_time_now
from ledger.feed import payload_digest
from ledger.keys import PrivateKey
from spola.cli import main


@dataclass
class Terminal:
    actor: str
    key: PrivateKey = field(default_factory=PrivateKey.generate)
    seq: int = 0
    prev: str | None = None

    @property
    def key_id(self) -> str:
        return self.key.public_key.key_id

    def sign_unchecked(self, fields: dict[str, Any]) -> Envelope:
        """Sign the next event's payload without checking it: what a faulty terminal sends.

        The feed does not move on: the ledger is expected to refuse the event.
        """
        header = {"v": 1, "actor": self.actor, "seq": self.seq, "prev": self.prev}
        payload = canonical_bytes({**header, "time": event_time_now(), **fields})
        return sign_envelope(payload, self.key)

    def sign(self, fields: dict[str, Any], *, seq: int | None = None) -> Envelope:
        """Sign the next event of this feed (or one at an explicit ``seq``, feed untouched)."""
        payload = encode_event(
            {
                "v": 1,
                "actor": self.actor,
                "seq": self.seq if seq is None else seq,
                "prev": self.prev,
                "time": event_time_now(),
                **fields,
            }
        )
        envelope = sign_envelope(payload, self.key)
        if seq is None:
            self.seq += 1
            self.prev = payload_digest(payload)
        return envelope

    # Registry events an operator terminal signs.
    def register(self, actor_id: str, name: str = "Test workshop", **extra: Any) -> Envelope:
        return self.sign(
            {
                "type": "actor",
                "op": "register",
                "id": actor_id,
                "name": name,
                "roles": ["supplier"],
                "country": "IT",
                **extra,
            }
        )

    def add_key(self, subject: str, key: PrivateKey) -> Envelope:
        return self.sign(
            {
                "type": "key",
                "op": "add",
                "subject": subject,
                "key_id": key.public_key.key_id,
                "public_key": key.public_key.to_base64(),
            }
        )

    def revoke(self, subject: str, key_id: str) -> Envelope:
        return self.sign({"type": "key", "op": "revoke", "subject": subject, "key_id": key_id})

    def rotate(self, new: PrivateKey) -> Envelope:
        return self.sign(
            {
                "type": "key",
                "op": "rotate",
                "subject": self.actor,
                "key_id": new.public_key.key_id,
                "public_key": new.public_key.to_base64(),
                "replaces": self.key_id,
            }
        )

    def update_self(self, name: str) -> Envelope:
        """An actor-signed profile update (only the operator may: a rule violation)."""
        return self.sign(
            {
                "type": "actor",
                "op": "update",
                "id": self.actor,
                "name": name,
                "roles": ["supplier"],
                "country": "IT",
            }
        )


TERMINAL_PASSPHRASE = "seta di Como"  # the ``home`` fixture's (tests/integration/conftest.py)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``spola ARGS`` in this process: (exit code, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


NOBODY = 65534  # the workshop's user, where the tests run as root


@contextlib.contextmanager
def as_workshop_user() -> Iterator[None]:
    """Run as the workshop's user: ``nobody`` where the tests run as root, else as they run."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
