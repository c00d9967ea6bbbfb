"""The pure core of spola: formats, keys, Merkle trees, checkpoints, event schemas and rules.

This package imports only the standard library, PyNaCl, rfc8785 and pydantic, so an auditor's
laptop or a workshop terminal can use it without a database, an ORM or a web framework.
Storage lives in ``ledger.store`` (the only SQLAlchemy code); HTTP lives in ``api``.
"""
