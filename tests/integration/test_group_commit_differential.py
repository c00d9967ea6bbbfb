"""A group of single submissions answers each envelope as it alone would be answered, in order.

``api.group_commit.append_group`` appends concurrent single submissions as one sequencer batch
and splits the batch's refusals (``ledger.store.admission.Refusals``) into the answers of each
envelope. The property: for any sequence of envelopes, appending it as one group to ledger A and
one envelope at a time, in order, to ledger B — both copies of the same database — gives every
envelope the same answer (receipt: index, leaf hash, verdict, duplicate flag; or error: class and
message), and leaves the two logs identical: entries, tree head, latest checkpoint, key registry,
feed heads, actors and the equivocation evidence.

The sequences mix what a ledger meets: valid events of several actors' feeds, forged signatures,
unknown keys, keys the operator registers earlier in the same sequence (and forged
registrations), revocations, rotations, feed gaps, resubmissions of logged envelopes,
equivocations (against the log or against an earlier envelope of the sequence), twins, a key
speaking for another actor, and malformed envelopes and payloads. B is answered by the
sequencer directly (``LedgerStore.append`` of one envelope), never by ``append_group``.

Each comparison copies one prepared database twice (a file copy on SQLite, ``CREATE DATABASE …
TEMPLATE`` on PostgreSQL). The random sequences run on SQLite (see ``prepared_sqlite``), a fixed
sequence holding every kind of step on both engines. Evidence rows are compared as a set: the
order a group keeps them in is pinned by ``test_a_group_keeps_evidence_in_arrival_order``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import make_url

from api.group_commit import append_group
from ledger.envelope import Envelope, Signature, sign_envelope
from ledger.errors import RefusedEnvelope
from ledger.keys import PrivateKey
from ledger.receipt import Receipt
from ledger.store.ledger import LedgerStore
from ledger.store.schema import (
    actors,
    checkpoints,
    equivocations,
    feeds,
    keys,
    log_entries,
    log_head,
)
from tests.conftest import (
    ORIGIN,
    Databases,
    create_pg_database,
    drop_pg_database,
    enrol,
    operator_after_genesis,
)
from tests.integration.api_support import urn
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

KINDS = (
    "event",
    "operator",
    "forge",
    "unknown",
    "enrol",
    "revoke",
    "rotate",
    "gap",
    "resubmit",
    "equivocate",
    "twin",
    "owner",
    "malformed",
)
STEPS = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 7)), min_size=1, max_size=9)
DIFFERENTIAL = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Prepared:
    """A database holding genesis, two enrolled actors and one event of the first: how to
    copy it, and the feeds its terminals had reached."""

    copy: Callable[[], str]
    operator_key: PrivateKey
    terminals: list[Terminal]  # the operator first
    logged: list[Envelope]


@dataclass
class Script:
    """Builds a sequence of envelopes from steps; the terminals' feeds as the sequence intends
    them (whether the ledger accepts each envelope is what is being compared)."""

    operator: Terminal
    workshops: list[Terminal]
    logged: list[Envelope]
    sent: list[Envelope] = field(default_factory=list)
    prevs: dict[tuple[str, int], str | None] = field(default_factory=dict)

    def signed(self, terminal: Terminal, make: Callable[[Terminal], Envelope]) -> Envelope:
        """``make``'s envelope, the ``prev`` of each seq it moved the feed past remembered."""
        key_id, seq, prev = terminal.key_id, terminal.seq, terminal.prev
        envelope = make(terminal)
        if terminal.seq == seq + 1 and terminal.key_id == key_id:
            self.prevs[(key_id, seq)] = prev
        return envelope

    def step(self, kind: str, n: int) -> None:
        """Append the envelopes of one step to ``sent``."""
        who = self.workshops[n % len(self.workshops)]
        other = self.workshops[(n + 1) % len(self.workshops)]
        name = f"{kind} {len(self.sent)}"
        self.sent.extend(getattr(self, f"_{kind}")(who, other, n, name))

    def _event(self, who: Terminal, other: Terminal, n: int, name: str) -> list[Envelope]:
        return [self.signed(who, lambda t: t.update_self(name))]

    def _operator(self, who: Terminal, other: Terminal, n: int, name: str) -> list[Envelope]:
        return [self.signed(self.operator, lambda t: t.sign(_update(who, name)))]

    def _forge(self, who: Terminal, other: Terminal, n: int, name: str) -> list[Envelope]:
        if n % 2:  # the terminal's feed moves on: its next event leaves a gap
            return [forged(self.signed(who, lambda t: t.update_self(name)))]
        return [forged(who.sign(_update(who, name), seq=who.seq))]

    def _unknown(self, who: Terminal, other: Terminal, n: int, name: str) -> list[Envelope]:
        return [Terminal(actor=urn(f"stranger-{n}")).update_self(name)]

    def _enrol(self, who: Terminal, other: Terminal, n: int, name: str) -> list[Envelope]:
        newcomer = Terminal(actor=urn(f"newcomer-{len(self.sent)}"))
        registered = self.signed(self.operator, lambda t: t.register(newcomer.actor))
        added = self.signed(self.operator, lambda t: t.add_key(newcomer.actor, newcomer.key))
        self.workshops.append(newcomer)
        return [registered, forged(added) if n % 4 == 3 else added]

    def _revoke(self, who: Terminal, other: Terminal, n: int, name: str) -> list[Envelope]:
        return [self.signed(self.operator, lambda t: t.revoke(who.actor, who.key_id))]

    def _rotate(self, who: Terminal, other: Terminal, n: int, name: str) -> list[Envelope]:
        new = PrivateKey.generate()
        rotation = self.signed(who, lambda t: t.rotate(new))
        who.key, who.seq, who.prev = new, 0, None
        return [rotation]

    def _gap(self, who: Terminal, other: Terminal, n: int, name: str) -> list[Envelope]:
        return [who.sign(_update(who, name), seq=who.seq + 1 + n % 2)]

    def _resubmit(self, who: Terminal, other: Terminal, n: int, name: str) -> list[Envelope]:
        earlier = self.logged + self.sent
        return [earlier[-1 - n % len(earlier)]]

    def _equivocate(self, who: Terminal, other: Terminal, n: int, name: str) -> list[Envelope]:
        seq = max(who.seq - 1 - n % 2, 0)
        prev = self.prevs.get((who.key_id, seq))
        return [Terminal(who.actor, who.key, seq=seq, prev=prev).update_self(name)]

    def _twin(self, who: Terminal, other: Terminal, n: int, name: str) -> list[Envelope]:
        twin = Terminal(who.actor, who.key, seq=who.seq, prev=who.prev)
        return [self.signed(who, lambda t: t.update_self(name)), twin.update_self(name + "'")]

    def _owner(self, who: Terminal, other: Terminal, n: int, name: str) -> list[Envelope]:
        speaking = Terminal(other.actor, who.key, seq=who.seq, prev=who.prev)
        envelope = speaking.update_self(name)
        if n % 2:
            who.seq, who.prev = speaking.seq, speaking.prev
        return [envelope]

    def _malformed(self, who: Terminal, other: Terminal, n: int, name: str) -> list[Envelope]:
        kind = n % 3
        if kind == 0:  # signed, but not an event
            return [who.sign_unchecked({"type": "actor", "op": "dance", "id": who.actor})]
        good = who.sign(_update(who, name), seq=who.seq)
        if kind == 1:
            return [sign_envelope(good.payload, who.key, payload_type="text/plain")]
        return [replace(good, signatures=good.signatures * 2)]  # two signatures


def forged(envelope: Envelope) -> Envelope:
    """``envelope`` with a signature its key never made."""
    return replace(envelope, signatures=(Signature(envelope.signatures[0].keyid, bytes(64)),))


def _update(who: Terminal, name: str) -> dict[str, Any]:
    return {
        "type": "actor",
        "op": "update",
        "id": who.actor,
        "name": name,
        "roles": ["supplier"],
        "country": "IT",
    }


def alone(store: LedgerStore, envelope: Envelope) -> Receipt | Exception:
    """What a single submission of ``envelope`` is answered, straight from the sequencer."""
    try:
        [receipt] = store.append([envelope])
    except RefusedEnvelope as refused:
        return refused.cause
    except Exception as failed:
        return failed
    return receipt


def answer(outcome: Receipt | Exception) -> tuple[Any, ...]:
    """What a client learns from an outcome, less the checkpoint its batch happened to get."""
    if isinstance(outcome, Receipt):
        return (
            outcome.index,
            outcome.leaf_hash,
            outcome.applied,
            outcome.violation,
            outcome.duplicate,
        )
    return (type(outcome).__name__, str(outcome))


def snapshot(store: LedgerStore) -> dict[str, list[tuple[Any, ...]]]:
    """The log and what it decided, without the wall-clock columns."""
    with store.connect() as conn:

        def rows(table: Any, order: Any, *skip: str) -> list[tuple[Any, ...]]:
            columns = [c for c in table.c if c.name not in skip]
            return [tuple(r) for r in conn.execute(select(*columns).order_by(order))]

        return {
            "entries": rows(log_entries, log_entries.c.idx, "logged_at"),
            "head": rows(log_head, log_head.c.id),
            "checkpoint": rows(checkpoints, checkpoints.c.size.desc(), "created_at")[:1],
            "keys": rows(keys, keys.c.key_id),
            "feeds": rows(feeds, feeds.c.key_id),
            "actors": rows(actors, actors.c.id),
            "evidence": rows(equivocations, equivocations.c.id, "id", "received_at"),
        }


def sequence(prepared: Prepared, steps: Sequence[tuple[str, int]]) -> list[Envelope]:
    """The envelopes ``steps`` make, from terminals at the prepared feeds."""
    fresh = [Terminal(t.actor, t.key, t.seq, t.prev) for t in prepared.terminals]
    script = Script(operator=fresh[0], workshops=fresh[1:], logged=list(prepared.logged))
    for kind, n in steps:
        script.step(kind, n)
    return script.sent


@contextmanager
def opened(prepared: Prepared) -> Iterator[LedgerStore]:
    url = prepared.copy()
    store = LedgerStore.open(url, operator=prepared.operator_key, origin=ORIGIN)
    try:
        yield store
    finally:
        store.close()
        if url.startswith("sqlite"):
            Path(make_url(url).database or "").unlink()
        else:
            drop_pg_database(url)


def check_same_answers(prepared: Prepared, envelopes: list[Envelope]) -> list[Receipt | Exception]:
    """Append ``envelopes`` as one group to one copy (in at most four passes), one by one to
    another: the same answers, the same log, the same evidence rows. A group numbers its
    evidence in the order its passes find it, not in arrival order (``ledger.store.admission``),
    so the rows are compared as a set. The answers."""
    with opened(prepared) as grouped, opened(prepared) as single:
        passes: list[int] = []

        def counted(batch: Sequence[Envelope]) -> list[Receipt]:
            passes.append(len(batch))
            return grouped.append(batch)

        outcomes = append_group(counted, envelopes)
        assert len(passes) <= 4, passes  # nothing else writes meanwhile
        expected = [alone(single, envelope) for envelope in envelopes]
        for position, (got, wanted) in enumerate(zip(outcomes, expected, strict=True)):
            assert answer(got) == answer(wanted), (position, envelopes[position].payload)
        logged, wanted_log = snapshot(grouped), snapshot(single)
    logged["evidence"].sort()
    wanted_log["evidence"].sort()
    assert logged == wanted_log
    return expected


def _kind_of(outcome: Receipt | Exception) -> str:
    """How an envelope was answered, for ``--hypothesis-show-statistics``."""
    if isinstance(outcome, Receipt):
        return "duplicate" if outcome.duplicate else f"logged, applied={outcome.applied}"
    return type(outcome).__name__


@contextmanager
def preparing(url: str, folder: Path) -> Iterator[Prepared]:
    """The database at ``url`` prepared: genesis, the mill and the tannery enrolled, one event
    of the mill's logged."""
    operator_key = PrivateKey.generate()
    store = LedgerStore.open(url, operator=operator_key, origin=ORIGIN)
    try:
        operator = operator_after_genesis(store, operator_key)
        mill, tannery = enrol(store, operator, "mill"), enrol(store, operator, "tannery")
        store.append([mill.update_self("Filatura")])
        logged = [Envelope.from_bytes(e.entry) for e in store.entries(0, store.tree_size())]
    finally:
        store.close()  # nothing may be connected to a PostgreSQL template
    yield Prepared(_copier(url, folder), operator_key, [operator, mill, tannery], logged)


@pytest.fixture
def prepared(database_url: str, tmp_path: Path) -> Iterator[Prepared]:
    """A prepared database on each engine."""
    with preparing(database_url, tmp_path) as ready:
        yield ready


@pytest.fixture
def prepared_sqlite(databases: Databases, tmp_path: Path) -> Iterator[Prepared]:
    """A prepared SQLite database. The random sequences run on SQLite only: each example
    copies the database twice, a file copy here but 1-2 s of ``CREATE``/``DROP DATABASE`` on
    PostgreSQL (minutes for 40 examples); what they exercise (the group's passes, admission,
    the locked pass) is the same SQL on both engines, and the fixed sequences below run on
    both."""
    with preparing(databases.sqlite(tmp_path / "prepared.db"), tmp_path) as ready:
        yield ready


def _copier(url: str, folder: Path) -> Callable[[], str]:
    copies = iter(range(1_000_000))
    if url.startswith("sqlite"):
        source = make_url(url).database
        assert source is not None

        def copy_file() -> str:
            target = folder / f"copy-{next(copies)}.db"
            shutil.copyfile(source, target)
            return f"sqlite:///{target}"

        return copy_file
    return lambda: create_pg_database(make_url(url).database)


@given(steps=STEPS)
@DIFFERENTIAL
def test_a_group_answers_each_envelope_as_alone_in_order(
    prepared_sqlite: Prepared, steps: list[tuple[str, int]]
) -> None:
    for outcome in check_same_answers(prepared_sqlite, sequence(prepared_sqlite, steps)):
        event(_kind_of(outcome))


def test_a_group_of_every_kind_of_envelope_is_answered_as_alone(prepared: Prepared) -> None:
    """One sequence with two steps of every kind, on both engines: the same answers and log,
    and every kind of answer among them (a step that stopped making its case would show)."""
    ahead = [(kind, n) for n in (1, 2) for kind in KINDS if kind not in {"revoke", "rotate"}]
    steps = [*ahead, ("rotate", 1), ("event", 1), ("revoke", 2), ("event", 2), ("resubmit", 0)]
    answers = {
        _kind_of(outcome) for outcome in check_same_answers(prepared, sequence(prepared, steps))
    }
    assert answers >= {
        "logged, applied=True",
        "logged, applied=False",
        "duplicate",
        "UnknownKeyError",
        "SignatureError",
        "RevokedKeyError",
        "KeyOwnerError",
        "FeedError",
        "EquivocationError",
        "FormatError",
    }, answers
