"""Group commit (``api.group_commit``) over a fake sequencer: who shares a batch, who answers.

The fake refuses a whole batch, nothing appended, naming the first bad position
(``RefusedEnvelope``) or, as the sequencer does, every refusal of its pass (``Refusals``); each
test checks that one envelope's fate never becomes another's, that a refused group costs a few
passes whatever it holds, and that concurrent submissions really do share batches.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from api.group_commit import GroupCommit, append_group
from ledger.envelope import Envelope, Signature
from ledger.errors import EquivocationError, FeedError, FormatError, LedgerError, RefusedEnvelope
from ledger.receipt import Receipt
from ledger.store.admission import Refusals


def envelope(name: str) -> Envelope:
    return Envelope("text/plain", name.encode(), (Signature("k", b"s"),))


class FakeSequencer:
    """Appends payloads in order; ``bad*`` is refused; ``crash*`` fails any batch it is in
    alongside others (a whole-batch error one envelope causes); ``equiv*`` is an equivocation,
    its evidence kept on every try; ``twin*`` is refused when an
    earlier envelope of the same batch is its twin, as the sequencer refuses two events at one
    seq in a batch, and answered as a duplicate alone."""

    def __init__(self) -> None:
        self.log: list[bytes] = []
        self.batches: list[list[str]] = []
        self.evidence: list[str] = []

    def append(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        names = [e.payload.decode() for e in envelopes]
        self.batches.append(names)
        for position, name in enumerate(names):
            if name.startswith("bad"):
                raise RefusedEnvelope(position, FormatError(f"{name} is malformed"))
            if name.startswith("twin") and name.replace("twin", "orig") in names[:position]:
                raise RefusedEnvelope(position, FeedError("two events at one seq in a batch"))
            if name.startswith("equiv"):
                self.evidence.append(name)  # kept by a transaction of its own
                cause = EquivocationError(
                    "contradicts entry 0", key_id="k", seq=0, existing_index=0
                )
                raise RefusedEnvelope(position, cause)
            if name.startswith("crash") and len(names) > 1:
                raise RuntimeError("the batch failed")
        receipts = []
        for name in names:
            original = name.replace("twin", "orig").encode()
            duplicate = name.startswith("twin") and original in self.log
            if not duplicate:
                self.log.append(name.encode())
            index = self.log.index(original if duplicate else name.encode())
            receipts.append(Receipt(index, b"", b"", (), applied=True, duplicate=duplicate))
        return receipts


class OnePassSequencer(FakeSequencer):
    """Refuses as the sequencer does: ``bad*`` before the lock, ``late*`` inside it, ``twin*``
    beside its original (to be tried again once that is logged), all named in one pass."""

    def append(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        names = [e.payload.decode() for e in envelopes]
        early = {p: FormatError(f"{n} is malformed") for p, n in enumerate(names) if "bad" in n}
        if early:
            self.batches.append(names)
            raise Refusals(min(early), dict(early), checked=False)
        own: dict[int, LedgerError] = {
            p: FeedError(f"{n} is late") for p, n in enumerate(names) if n.startswith("late")
        }
        again: dict[int, LedgerError] = {
            p: FeedError("two events at one seq in a batch")
            for p, n in enumerate(names)
            if n.startswith("twin") and n.replace("twin", "orig") in names[:p]
        }
        if own or again:
            self.batches.append(names)
            raise Refusals(min(own | again), own, again=again, checked=True)
        return super().append(envelopes)


def indexes(outcomes: list[Receipt | Exception]) -> list[int | str]:
    return [o.index if isinstance(o, Receipt) else type(o).__name__ for o in outcomes]


def test_admissible_envelopes_share_one_batch() -> None:
    fake = FakeSequencer()
    outcomes = append_group(fake.append, [envelope(f"e{i}") for i in range(5)])
    assert indexes(outcomes) == [0, 1, 2, 3, 4]
    assert fake.batches == [["e0", "e1", "e2", "e3", "e4"]]


def test_a_refused_envelope_does_not_refuse_the_others() -> None:
    fake = FakeSequencer()
    names = ["a", "b", "bad", "c", "d"]
    outcomes = append_group(fake.append, [envelope(n) for n in names])
    assert indexes(outcomes) == [0, 1, "FormatError", 2, 3]
    assert fake.log == [b"a", b"b", b"c", b"d"]  # in arrival order
    # refused at 2; the two before it alone; then the refused one first of the rest; the rest
    assert fake.batches == [names, ["a", "b"], ["bad", "c", "d"], ["c", "d"]]


def test_a_refusal_caused_by_the_group_gets_the_answer_it_would_get_alone() -> None:
    fake = FakeSequencer()
    outcomes = append_group(fake.append, [envelope("orig1"), envelope("twin1")])
    # in one batch the twin is refused; submitted after its original, it is a duplicate
    assert indexes(outcomes) == [0, 0]
    assert isinstance(outcomes[1], Receipt) and outcomes[1].duplicate


def test_an_equivocation_is_answered_at_once_and_its_evidence_kept_once() -> None:
    fake = FakeSequencer()
    outcomes = append_group(fake.append, [envelope("a"), envelope("equiv"), envelope("b")])
    assert indexes(outcomes) == [0, "EquivocationError", 1]
    assert fake.evidence == ["equiv"]
    assert fake.batches == [["a", "equiv", "b"], ["a"], ["b"]]


def test_a_whole_batch_failure_falls_back_to_one_by_one() -> None:
    fake = FakeSequencer()
    outcomes = append_group(fake.append, [envelope("a"), envelope("crash"), envelope("b")])
    assert indexes(outcomes) == [0, 1, 2]
    assert fake.batches[1:] == [["a"], ["crash"], ["b"]]


def test_a_lone_refusal_names_no_position() -> None:
    fake = FakeSequencer()
    [outcome] = append_group(fake.append, [envelope("bad")])
    assert isinstance(outcome, FormatError) and "bad is malformed" in str(outcome)


def test_a_refused_group_takes_a_few_passes_not_one_per_refusal() -> None:
    fake = OnePassSequencer()
    names = ["bad0", "a", "late0", "orig1", "twin1", "bad1", "b", "late1"]
    outcomes = append_group(fake.append, [envelope(n) for n in names])
    assert indexes(outcomes) == ["FormatError", 0, "FeedError", 1, 1, "FormatError", 2, "FeedError"]
    assert isinstance(outcomes[4], Receipt) and outcomes[4].duplicate
    # before the lock, inside it, the admissible rest, then the twin once its original is logged
    assert fake.batches == [
        names,
        ["a", "late0", "orig1", "twin1", "b", "late1"],
        ["a", "orig1", "b"],
        ["twin1"],
    ]


def test_a_group_of_forgeries_is_answered_in_one_pass() -> None:
    fake = OnePassSequencer()
    outcomes = append_group(fake.append, [envelope(f"bad{i}") for i in range(50)])
    assert indexes(outcomes) == ["FormatError"] * 50
    assert len(fake.batches) == 1


async def _submit_all(commit: GroupCommit, names: list[str]) -> list[Receipt | Exception]:
    results = await asyncio.gather(
        *(commit.submit(envelope(n)) for n in names), return_exceptions=True
    )
    return [r if isinstance(r, Receipt | Exception) else RuntimeError(r) for r in results]


def test_concurrent_submissions_are_appended_as_one_group() -> None:
    fake = FakeSequencer()
    commit = GroupCommit(fake.append, window_ms=50, max_batch=1000)
    names = [f"e{i}" for i in range(8)] + ["bad"]
    outcomes = asyncio.run(_submit_all(commit, names))
    assert indexes(outcomes) == [0, 1, 2, 3, 4, 5, 6, 7, "FormatError"]
    assert fake.batches[0] == names  # one group, one first batch
    assert (commit.stats.groups, commit.stats.envelopes, commit.stats.largest) == (1, 9, 9)


def test_a_full_group_is_appended_without_waiting_for_the_window() -> None:
    fake = FakeSequencer()
    commit = GroupCommit(fake.append, window_ms=3_600_000, max_batch=3)  # an hour
    outcomes = asyncio.run(_submit_all(commit, ["a", "b", "c"]))
    assert indexes(outcomes) == [0, 1, 2]
    assert fake.batches == [["a", "b", "c"]]


@pytest.mark.parametrize(("window_ms", "max_batch"), [(0, 1000), (5, 1)])
def test_group_commit_switched_off_appends_each_alone(window_ms: int, max_batch: int) -> None:
    fake = FakeSequencer()
    commit = GroupCommit(fake.append, window_ms=window_ms, max_batch=max_batch)
    outcomes = asyncio.run(_submit_all(commit, ["a", "bad", "b"]))
    assert sorted(map(str, indexes(outcomes))) == ["0", "1", "FormatError"]
    assert sorted(fake.batches) == [["a"], ["b"], ["bad"]]  # each alone, in any order
    assert commit.stats.groups == 0


def test_a_group_gathers_on_while_the_previous_one_is_appended() -> None:
    fake = FakeSequencer()
    started, release = threading.Event(), threading.Event()
    calls: list[list[str]] = []

    def slow_append(envelopes: Sequence[Envelope]) -> list[Receipt]:
        calls.append([e.payload.decode() for e in envelopes])
        started.set()
        release.wait(timeout=30)
        return fake.append(envelopes)

    commit = GroupCommit(slow_append, window_ms=1, max_batch=1000)

    async def scenario() -> tuple[list[list[str]], list[Receipt | Exception]]:
        first = asyncio.ensure_future(commit.submit(envelope("e0")))
        await asyncio.to_thread(started.wait, 30)  # the first group is being appended
        later = [asyncio.ensure_future(commit.submit(envelope(f"e{i}"))) for i in range(1, 5)]
        await asyncio.sleep(0.05)  # their window ends, while the first group is still appended
        seen = [list(c) for c in calls]
        release.set()
        return seen, await _submit_results([first, *later])

    seen, outcomes = asyncio.run(scenario())
    assert seen == [["e0"]]  # the second group did not start meanwhile
    assert indexes(outcomes) == [0, 1, 2, 3, 4]
    assert fake.batches == [["e0"], ["e1", "e2", "e3", "e4"]]


async def _submit_results(futures: list[asyncio.Future[Receipt]]) -> list[Receipt | Exception]:
    return [await f for f in futures]
