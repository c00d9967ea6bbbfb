"""``python -m verifier BUNDLE --log-key VKEY|FILE``: the auditor's entry point."""

import sys

from verifier.cli import main

if __name__ == "__main__":  # not when a worker process started by "spawn" imports it again
    sys.exit(main())
