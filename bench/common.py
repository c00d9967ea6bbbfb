"""Shared set-up for the benchmarks: signed demo-like events and a raw verify baseline."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import nacl.signing
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ledger.envelope import Envelope, sign_envelope
from ledger.events import encode_event
from ledger.feed import payload_digest
from ledger.keys import PrivateKey
from ledger.store.ledger import LedgerStore

OPERATOR = "urn:spola:actor:operator"


def profile_update(actor: str, seq: int, prev: str | None, n: int) -> dict[str, object]:
    """A typical small event (~400 bytes) the ledger applies: a workshop's directory profile.

    Signed by the actor itself, as suppliers sign theirs; its one rule (offers in the
    catalogue) runs on every entry, so verification replays an applied event each time.
    """
    return {
        "v": 1, "type": "profile", "actor": actor, "seq": seq, "prev": prev,
        "time": "2026-11-26T10:00:00Z", "processes": ["weaving", "printing"],
        "materials": ["silk-mulberry", "silk-recycled"],
        "contact": f"Setificio di prova {n}, Como: ufficio@example.it",
    }  # fmt: skip


def signed_feed(key: PrivateKey, actor: str, count: int, *, start_seq: int = 0,
                prev: str | None = None) -> tuple[list[Envelope], str | None]:  # fmt: skip
    envelopes = []
    for seq in range(start_seq, start_seq + count):
        payload = encode_event(profile_update(actor, seq, prev, seq))
        envelopes.append(sign_envelope(payload, key))
        prev = payload_digest(payload)
    return envelopes, prev


def enrol_terminals(store: LedgerStore, count: int) -> list[tuple[PrivateKey, str]]:
    terminals = []
    for n in range(count):
        actor = f"urn:spola:actor:bench-{n}"
        key = PrivateKey.generate()
        store.operator_event({"type": "actor", "op": "register", "id": actor,
                              "name": f"Bench workshop {n}", "roles": ["supplier"],
                              "country": "IT"})  # fmt: skip
        store.operator_event({"type": "key", "op": "add", "subject": actor,
                              "key_id": key.public_key.key_id,
                              "public_key": key.public_key.to_base64()})  # fmt: skip
        terminals.append((key, actor))
    return terminals


def raw_verify_rate(envelopes: list[Envelope], public_key_of: dict[str, bytes]) -> float:
    """Single-core PyNaCl verifications per second over these envelopes' PAE."""
    work = [
        (nacl.signing.VerifyKey(public_key_of[e.signatures[0].keyid]), e.signed_message(),
         e.signatures[0].sig)
        for e in envelopes
    ]  # fmt: skip
    start = time.perf_counter()
    for key, message, sig in work:
        key.verify(message, sig)
    return len(work) / (time.perf_counter() - start)


@contextmanager
def timed() -> Iterator[list[float]]:
    box: list[float] = []
    start = time.perf_counter()
    yield box
    box.append(time.perf_counter() - start)


def _admin(url: str, sql: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


@contextmanager
def fresh_database(admin_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new PostgreSQL database on ``admin_url``'s server, dropped afterwards.

    Its name is ``prefix`` and a random suffix: the server may be shared with other runs.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
