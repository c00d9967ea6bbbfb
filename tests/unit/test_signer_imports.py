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
