"""The only SQLAlchemy code: schema, engines and migrations, the append path and queries.

``ledger.store.ledger.LedgerStore`` is the facade the API and the CLI use.
"""
