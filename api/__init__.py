"""The HTTP service: FastAPI wiring over the ledger store (thin handlers, one router per resource).

``api.main.create_app(settings)`` builds the app; nothing runs at import time.
"""
