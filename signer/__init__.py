"""The workshop terminal: keys, signing, the offline queue and sync (imports the core + httpx).

- ``signer.keyfile``: the passphrase-encrypted Ed25519 key file (argon2id + SecretBox, 0600);
- ``signer.queue``: the offline queue, a SQLite file (stdlib ``sqlite3``); ``signer.queue_file``
  opens, upgrades and locks it, ``signer.records`` holds its tables and the records read back;
- ``signer.transport``: the ``Transport`` protocol and ``HttpTransport`` (httpx);
- ``signer.client``: ``LedgerClient`` — sign and queue events, sync them, halt on an alarm;
  ``signer.retry`` retries within the sync's deadline, ``signer.trust`` verifies every receipt
  and checkpoint against the pinned log key, ``signer.refusals`` advises on a refused event and
  drops it;
- ``signer.rows``: events from CSV or JSON files; ``signer.cli``: the ``spola`` subcommands
  (sign and sync, and the wiring), ``signer.key_commands`` and ``signer.queue_commands`` the
  key and queue commands, ``signer.home`` what they share (the terminal's home, the passphrase).

Nothing here imports ``ledger.store``, SQLAlchemy or a web framework: a terminal's install needs
no database server. httpx is imported only when ``signer.transport`` is (``spola sync``), so
the ``spola`` command also runs on a verifier-only install.
"""

from typing import Any

from signer.client import LedgerClient, RetryPolicy, Row, SyncReport
from signer.errors import (
    BlockedQueueError,
    DeadlineError,
    KeyFileError,
    LedgerAlarm,
    QueueError,
    RateLimitedError,
    RefusedBatchError,
    RowError,
    SignerError,
    SyncBusyError,
    SyncHaltedError,
    TransportError,
)
from signer.keyfile import KdfCost, TerminalKey, read_key_file, read_key_info, write_key_file
from signer.queue import Queue, QueuedEvent, Refusal

__all__ = [
    "BlockedQueueError",
    "DeadlineError",
    "HttpTransport",
    "KdfCost",
    "KeyFileError",
    "LedgerAlarm",
    "LedgerClient",
    "Queue",
    "QueueError",
    "QueuedEvent",
    "RateLimitedError",
    "Refusal",
    "RefusedBatchError",
    "RetryPolicy",
    "Row",
    "RowError",
    "SignerError",
    "SyncBusyError",
    "SyncHaltedError",
    "SyncReport",
    "TerminalKey",
    "Transport",
    "TransportError",
    "read_key_file",
    "read_key_info",
    "write_key_file",
]


def __getattr__(name: str) -> Any:
    """``HttpTransport`` and ``Transport`` load ``signer.transport`` (and httpx) on first use."""
    if name in ("HttpTransport", "Transport"):
        from signer import transport  # noqa: PLC0415

        return getattr(transport, name)
    raise AttributeError(f"module 'signer' has no attribute {name!r}")
