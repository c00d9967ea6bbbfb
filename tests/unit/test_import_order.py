"""Every module of the core imports on its own, first, in a fresh interpreter.

A library user (an auditor's script, a terminal integration) may start with any module:
``import ledger.supply`` once found itself half-initialised through ledger.events and failed.
One subprocess imports each module in turn after forgetting every module of the project, so
each one is imported as if it came first.
"""

from __future__ import annotations

import subprocess
import sys

PACKAGES = ("ledger", "verifier")

_CODE = f"""
import importlib, pkgutil, sys
names = []
for package in {PACKAGES!r}:
    module = importlib.import_module(package)
    names.append(package)
    names += [m.name for m in pkgutil.walk_packages(module.__path__, package + ".")]
failed = []
for name in sorted(set(names)):
    for loaded in [m for m in sys.modules if m.split(".")[0] in {PACKAGES!r}]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{{name}}: {{type(exc).__name__}}: {{exc}}")
print(len(names))
print("\\n".join(failed))
"""


def test_each_module_imports_first_in_a_fresh_interpreter() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CODE], capture_output=True, text=True, check=True, timeout=300
    )
    count, *failed = done.stdout.splitlines()
    assert int(count) > 50  # the walk found the modules
    assert [line for line in failed if line] == []
