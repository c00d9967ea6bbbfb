"""Writing a file so that readers see the old one or the whole new one, never half of it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def replaced_atomically(out: Path, *, binary: bool = False) -> Iterator[IO[Any]]:
    """A temporary file beside ``out``; on success it is synced and renamed over ``out``.

    On any error the temporary file is removed and ``out`` is left as it was. The new file gets
    the permissions of an ordinary new file (0666 less the umask), not ``mkstemp``'s 0600.
    """
    fd, temp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        mode = "wb" if binary else "w"
        with os.fdopen(fd, mode, encoding=None if binary else "utf-8") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, out)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
