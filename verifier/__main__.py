"""``python -m verifier BUNDLE --log-key VKEY|FILE``: the auditor's entry point."""

import sys

from verifier.cli import main

sys.exit(main())
