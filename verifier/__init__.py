"""The offline verifier: checks a bundle with nothing but the log's public key (core only).

``verify_bundle`` runs the numbered steps of docs/bundle.md over a bundle read line by line and
returns a ``Report`` of every finding; ``python -m verifier`` and ``spola verify`` are its
command line (``verifier.cli``). Imports: the pure core (``ledger`` outside ``ledger.store``),
the pure passport builder (``passports.build``, step 10) and the standard library, never a
database, ORM, web framework or HTTP client.
"""

from verifier.findings import UnusableInputError
from verifier.report import STEPS, Finding, Report
from verifier.steps import verify_bundle

__all__ = ["STEPS", "Finding", "Report", "UnusableInputError", "verify_bundle"]
