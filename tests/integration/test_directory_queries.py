"""The directory reads its actors in sets: the statements of a search do not grow with them.

A search (``ledger.store.directory.profiles``) used to read each actor's profile and track
record with about ten queries of its own, so a public search over a few hundred actors cost
seconds. Here each actor has every kind of fact the track record reads (a registration, a
material, a process consuming it, a handover sent and one received, a profile), and the
statements a search sends are counted as the number of actors triples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event

from ledger.store import directory as directory_queries
from ledger.store.ledger import LedgerStore
from tests.supply import enrol_actor, handover, make, material, process, receipt, take
from tests.terminal import Terminal

pytestmark = pytest.mark.integration


@contextmanager
def statements(store: LedgerStore) -> Iterator[Counter[str]]:
    """The SQL statements sent on the store's engine inside the block, by their first words."""
    sent: Counter[str] = Counter()

    def count(*args: Any) -> None:
        sent[" ".join(str(args[2]).split())[:120]] += 1

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def add_actors(store: LedgerStore, operator: Terminal, first: int, count: int) -> None:
    """Actors ``w{first}``… each with a lot, a dyeing of it and a profile; each but the first
    hands some of its dyed lot over to the actor added before it, which accepts."""
    terminals = [enrol_actor(store, operator, f"w{n:03d}") for n in range(first, first + count)]
    own = []
    for t in terminals:
        slug = t.actor.rsplit(":", 1)[1]
        raw, dyed = f"urn:spola:lot:{slug}:raw", f"urn:spola:lot:{slug}:dyed"
        own += [
            t.sign(material(raw)),
            t.sign(process([take(raw, "40")], [make(dyed, "38")])),
            t.sign({"type": "profile", "processes": ["dyeing"]}),
        ]
    store.append(own)
    pairs = list(zip(terminals[1:], terminals[:-1], strict=True))
    sent = []
    for sender, to in pairs:
        slug = sender.actor.rsplit(":", 1)[1]
        lines = [{"lot": f"urn:spola:lot:{slug}:dyed", "quantity": {"value": "10", "unit": "KGM"}}]
        sent.append(sender.sign(handover(f"h-{slug}", to.actor, lines)))
    store.append(sent)
    store.append([to.sign(receipt(sender.actor, f"h-{sender.actor.rsplit(':', 1)[1]}"))
                  for sender, to in pairs])  # fmt: skip


def today() -> date:
    return datetime.now(UTC).date()


def test_a_search_sends_as_many_statements_for_60_actors_as_for_20(
    store: LedgerStore, operator: Terminal
) -> None:
    add_actors(store, operator, 0, 20)
    with statements(store) as few:
        found = store.directory_profiles(today())
    assert len(found) == 20
    add_actors(store, operator, 20, 40)
    with statements(store) as many:
        found = store.directory_profiles(today())
    assert len(found) == 60
    accepted = [p for p in found if p.figures["acceptance"].value["accepted"] == 1]  # type: ignore[union-attr]
    assert len(accepted) == 58  # each but the last of each batch received one: facts were read
    assert sum(many.values()) == sum(few.values()), (few, many)


def test_a_profile_alone_costs_what_one_actor_of_a_search_does(
    store: LedgerStore, operator: Terminal
) -> None:
    add_actors(store, operator, 0, 3)
    with statements(store) as one:
        store.directory_profile("urn:spola:actor:w001", today())
    add_actors(store, operator, 3, 30)
    with statements(store) as again:
        store.directory_profile("urn:spola:actor:w001", today())
    assert sum(again.values()) == sum(one.values()) <= 12, again


def test_the_figures_public_cost_one_statement_per_chunk(
    store: LedgerStore, operator: Terminal
) -> None:
    add_actors(store, operator, 0, 30)
    actors = [f"urn:spola:actor:w{n:03d}" for n in range(30)]
    with statements(store) as sent:
        public = store.public_figures(actors)
    assert len(public) == 30
    assert sum(sent.values()) <= 2, sent


def test_chunked_reads_give_the_profiles_one_read_gives(
    store: LedgerStore, operator: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in batches of 7 actors, a search finds the same profiles,
    each the one ``directory_profile`` reads alone; the statements grow with the chunks."""
    add_actors(store, operator, 0, 24)
    whole = store.directory_profiles(today())
    alone = [store.directory_profile(p.actor.id, today()) for p in whole]
    assert list(whole) == alone
    with statements(store) as unchunked:
        store.directory_profiles(today())
    monkeypatch.setattr(directory_queries, "BATCH", 7)
    with statements(store) as chunked:
        parts = store.directory_profiles(today())
    assert list(parts) == list(whole)
    assert sum(chunked.values()) <= 4 * sum(unchunked.values()), chunked


def test_a_search_over_500_actors_sends_a_few_statements_a_batch(
    store: LedgerStore, operator: Terminal
) -> None:
    """Prints the statements of a search over 500 actors by kind (it sent 6,497 when each
    actor was read alone): six a batch of actors, one for the registrations, a ``BEGIN``."""
    for first in range(0, 500, 100):
        add_actors(store, operator, first, 100)
    with statements(store) as sent:
        found = store.directory_profiles(today())
    assert len(found) == 500
    print(f"\n500 actors: {sum(sent.values())} statements")
    for text, n in sent.most_common(12):
        print(f"{n:6d}  {text}")
    batches = -(-500 // directory_queries.BATCH)
    assert sum(sent.values()) <= 6 * batches + 2, sent
