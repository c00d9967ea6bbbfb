"""Whose a terminal's file is, and what to do when it is not the user's: the clause each
refusal to read or write one says (after a ``sudo spola`` command left it to root, say)."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def user_name(uid: int) -> str:
    """The name of the user ``uid`` (its number where it has none)."""
    try:
        import pwd  # noqa: PLC0415 - POSIX only, and only once something failed

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def why_not_yours(path: Path) -> str | None:
    """Why this user may not write ``path`` — or, where it is not there, create it in its
    folder — and what to do about it: the clause after "cannot …: "; None where its owner and
    mode do not say (another system, another cause)."""
    if not hasattr(os, "geteuid"):
        return None
    me = os.geteuid()
    for target in (path, path.parent):
        try:
            info = target.lstat()
        except FileNotFoundError:
            continue
        except OSError:
            return None
        what = "it" if target == path else f"its folder {target}"
        if info.st_uid != me:
            you, owner = user_name(me), user_name(info.st_uid)
            give_back = f"`sudo chown -R {you} {path.parent}`"
            if info.st_uid == 0:
                return (
                    f"{what} belongs to root, not to you ({you}), as a `sudo spola` command "
                    f"leaves it: give the terminal's home back to you with {give_back}"
                )
            return (
                f"{what} belongs to {owner}, not to you ({you}): run spola as {owner}, or "
                f"make the terminal's home yours with {give_back}"
            )
        if not info.st_mode & stat.S_IWUSR:
            return (
                f"{what} is read-only (mode {stat.S_IMODE(info.st_mode):04o}): make it writable "
                f"with `chmod u+w {target}`"
            )
    return None
