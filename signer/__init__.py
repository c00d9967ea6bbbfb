"""The workshop terminal: keys, signing, the offline queue and sync (imports the core + httpx).

Empty until the terminal issue lands; the core it will use (``ledger.keys``,
``ledger.envelope``, ``ledger.events``, ``ledger.receipt``) is in place.
"""
