"""A terminal's install needs no database server and no web framework."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = (
    "sqlalchemy",
    "fastapi",
    "starlette",
    "uvicorn",
    "psycopg",
    "alembic",
    "ledger.store",
    "api",
)


def test_signer_imports_only_the_core_httpx_and_the_stdlib() -> None:
    code = (
        "import sys, signer, signer.cli\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r} "
        "or m.startswith('ledger.store'))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_spola_starts_where_there_is_no_fcntl() -> None:
    """Windows has no ``fcntl``: the sync lock must not keep ``spola`` (an auditor's ``spola
    verify`` included) from starting there."""
    code = (
        "import sys\n"
        "sys.modules['fcntl'] = None  # as on Windows: importing it raises ImportError\n"
        "from spola.cli import build_parser\n"
        "build_parser().parse_args(['verify', 'x.bundle', '--log-key', 'k'])\n"
        "import signer.queue\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
