"""The terminal's key commands: ``spola key generate``, ``spola key show`` and ``spola key
rotate``.

Errors are ``LedgerError`` leaves: ``spola.cli`` prints them as one line and exits 1.
"""

from __future__ import annotations

import argparse

from ledger.keys import PrivateKey
from signer.client import LedgerClient
from signer.home import KEY_FILE, ask_passphrase, finish_rotation, open_queue, retire, terminal_home
from signer.keyfile import TerminalKey, read_key_file, read_key_info, write_key_file


def cmd_key_generate(args: argparse.Namespace) -> int:
    home = terminal_home(args)
    key = TerminalKey(actor=args.actor, key=PrivateKey.generate())
    write_key_file(home / KEY_FILE, key, ask_passphrase(confirm=True))
    print(f"wrote {home / KEY_FILE}; give the operator this public key to register:")
    _show(key.actor, key.key.public_key.key_id, key.key.public_key.to_base64())
    return 0


def _show(actor: str, key_id: str, public_key: str) -> None:
    print(f"actor       {actor}")
    print(f"key_id      {key_id}")
    print(f"public_key  {public_key}")


def cmd_key_show(args: argparse.Namespace) -> int:
    finish_rotation(terminal_home(args))
    info = read_key_info(terminal_home(args) / KEY_FILE)
    _show(info.actor, info.key_id, info.public_key.to_base64())
    return 0


def cmd_key_rotate(args: argparse.Namespace) -> int:
    """Queue a rotation signed by the old key, then make the new key the terminal's key.

    Order for a crash: the new key file is written first (``terminal.key.new``), the rotation
    event queued, and only then the files renamed; the old key is kept as ``retired-….key``.
    The next command that reads the key finishes a rotation cut short (``finish_rotation``).
    """
    home = terminal_home(args)
    path, fresh = home / KEY_FILE, home / f"{KEY_FILE}.new"
    finish_rotation(home)
    passphrase = ask_passphrase()
    old = read_key_file(path, passphrase)
    new = TerminalKey(actor=old.actor, key=PrivateKey.generate())
    fresh.unlink(missing_ok=True)  # left by a rotation cut short before it was queued
    write_key_file(fresh, new, passphrase)
    with open_queue(home) as queue:
        try:
            LedgerClient(transport=None, key=old, queue=queue).rotate(new.key, reason=args.reason)
        except BaseException:
            fresh.unlink(missing_ok=True)
            raise
        retire(home, queue)
    print(f"queued the rotation from key {old.key.public_key.key_id} (sync to send it); new key:")
    _show(new.actor, new.key.public_key.key_id, new.key.public_key.to_base64())
    return 0
