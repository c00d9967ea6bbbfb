"""A group commit cancelled while its batch is appended (the server shutting down, the event
loop closing) stays cancelled: its waiting requests are cancelled, never left waiting, and the
next group is still appended when its window ends.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from api.group_commit import GroupCommit
from ledger.envelope import Envelope
from ledger.receipt import Receipt
from tests.unit.test_group_commit import FakeSequencer, envelope


def test_a_cancelled_commit_stays_cancelled_and_the_next_group_is_appended() -> None:
    fake = FakeSequencer()
    started, release = threading.Event(), threading.Event()

    def slow_append(envelopes: Sequence[Envelope]) -> list[Receipt]:
        started.set()
        release.wait(timeout=30)
        return fake.append(envelopes)

    commit = GroupCommit(slow_append, window_ms=1, max_batch=1000)

    async def scenario() -> tuple[list[object], Receipt]:
        first = asyncio.ensure_future(commit.submit(envelope("e0")))
        await asyncio.to_thread(started.wait, 30)  # its group is being appended
        [committing] = asyncio.all_tasks() - {asyncio.current_task(), first}
        committing.cancel()
        ended = await asyncio.gather(committing, first, return_exceptions=True)
        release.set()  # the thread's append ends on its own; nobody waits for it
        after = await asyncio.wait_for(commit.submit(envelope("e1")), timeout=10)
        return [committing.cancelled(), first.cancelled(), *map(type, ended)], after

    ended, after = asyncio.run(scenario())
    assert ended == [True, True, asyncio.CancelledError, asyncio.CancelledError]
    assert after.index == 1 and fake.batches == [["e0"], ["e1"]]
