"""Run the verifier as ``python -m verifier`` in a fresh interpreter and list what it imported.

The verifier must run on an auditor's laptop with the core alone: these probes prove that a
whole run imports nothing of the service (and, for passports, nothing of the page renderer).
Store-free, so the verifier-only install runs it too.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ("sqlalchemy", "fastapi", "psycopg", "httpx", "starlette", "uvicorn", "api")


def verify_in_a_fresh_interpreter(
    args: Sequence[str], *, banned: Sequence[str] = SERVICE, banned_modules: Sequence[str] = ()
) -> str:
    """``python -m verifier ARGS`` exits 0 having imported no ``banned`` package, no
    ``ledger.store`` module and none of ``banned_modules``; its output."""
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['verifier', *{list(args)!r}]\n"
        "try:\n"
        "    runpy.run_module('verifier', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        f"banned = {tuple(banned)!r}\n"
        f"prefixes = {('ledger.store', *banned_modules)!r}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in banned\n"
        "                or m.startswith(prefixes))\n"
        "print(code, loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout
    return done.stdout
