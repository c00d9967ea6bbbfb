"""The offline verifier: checks a bundle with nothing but the log's public key (core only).

Empty until the verifier issue lands; the checks it will compose (``ledger.proofs``,
``ledger.checkpoint``, ``ledger.envelope``, ``ledger.feed``, ``ledger.registry``) are in place.
"""
