"""The terminal's queue commands: ``spola queue`` (``--dropped`` too) and ``spola queue drop``.

Errors are ``LedgerError`` leaves: ``spola.cli`` prints them as one line and exits 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from signer.client import LedgerClient
from signer.errors import KeyFileError, QueueError
from signer.home import KEY_FILE, ask_passphrase, finish_rotation, open_queue, terminal_home
from signer.keyfile import read_key_file, read_key_info
from signer.queue import PENDING


def cmd_queue(args: argparse.Namespace) -> int:
    with open_queue(terminal_home(args)) as queue:
        counts = queue.counts()
        halted = queue.setting("halted")
        dropped = queue.dropped()
        if args.dropped:
            for gone in dropped:
                print(
                    f"{gone.position:>6} {gone.dropped_at} {gone.type:<9} seq {gone.seq}  "
                    f"{gone.why}"
                )
        else:
            for event in queue.events(state=args.state, limit=args.limit):
                where = "" if event.index is None else f" index {event.index}"
                why = "" if event.rule is None else f"  {event.rule}: {event.detail}"
                if event.state == PENDING and event.refusal is not None:
                    why = f"  refused {event.refusal}"
                print(
                    f"{event.position:>6} {event.state:<11} {event.type:<9} seq {event.seq}"
                    f"{where}{why}"
                )
        head = queue.pending(limit=1)
        blocked = None
        if head and head[0].refusal is not None:
            advice = LedgerClient(transport=None, key=None, queue=queue).advice(head[0])
            blocked = f"SYNC BLOCKED by queued event {head[0].position}: {advice}"
    summary = [f"{n} {state.replace('_', ' ')}" for state, n in counts.items()]
    if dropped:
        summary.append(f"{len(dropped)} dropped or re-signed (`spola queue --dropped`)")
    print(", ".join(summary))
    if blocked is not None:
        print(blocked)
    if halted:
        print(f"SYNC HALTED by an alarm: {halted}")
    return 0


def _key_path(home: Path, key_id: str) -> Path:
    """The file in ``home`` holding the key ``key_id``: the terminal's, or a retired one."""
    for path in [home / KEY_FILE, *sorted(home.glob("retired-*.key"))]:
        if path.exists() and read_key_info(path).key_id == key_id:
            return path
    raise KeyFileError(
        f"the key {key_id[:16]}… that signed this feed is not in {home}: "
        "restore its retired-….key file from your backup"
    )


def cmd_queue_drop(args: argparse.Namespace) -> int:
    """Drop a pending event the ledger refused; re-sign the later events of its feed."""
    home = terminal_home(args)
    finish_rotation(home)
    with open_queue(home) as queue:
        client = LedgerClient(transport=None, key=None, queue=queue)
        event = queue.event(args.position)
        if event is None:
            raise QueueError(f"no queued event at position {args.position} (see `spola queue`)")
        if (why_not := client.why_not_droppable(event)) is not None:
            raise QueueError(why_not)
        sign_with = {}
        if queue.feed_after(event.key_id, event.seq):  # else nothing to re-sign: no key asked
            sign_with[event.key_id] = read_key_file(
                _key_path(home, event.key_id), ask_passphrase()
            ).key
        resigned = client.drop(event.position, sign_with)
    print(
        f"dropped queued event {event.position} ({event.type}, seq {event.seq}), refused by "
        f"the ledger ({event.refusal}); re-signed the {len(resigned)} later event(s) of its "
        "feed; both are kept in `spola queue --dropped`. Sync to send the rest."
    )
    return 0
