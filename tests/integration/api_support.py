"""The API under test: a running app (lifespan included), the operator's terminal, checks.

``running_api`` does what an operator does before serving: ``init_home`` writes the log key,
``create_app(settings)`` builds the app and the ``TestClient`` context runs its lifespan, which
migrates the database and appends the genesis entry. Server errors are answered as a real client
would see them (a 500 response), never re-raised into the test. ``seeded_api`` is the same app
over a database the demo has seeded; ``seed_demo_database`` seeds one without serving it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.demo import seed_demo
from api.limits import HEAD_BUFFER_BYTES
from api.main import create_app
from api.operator import init_home, load_operator
from api.settings import Settings
from ledger.canonical import parse_json
from ledger.checkpoint import Checkpoint, TlogProof, verify_checkpoint
from ledger.envelope import Envelope
from ledger.events import OPERATOR_ACTOR
from ledger.feed import payload_digest
from ledger.hashing import leaf_hash
from ledger.proofs import verify_inclusion
from ledger.receipt import Receipt
from ledger.store.ledger import LedgerStore
from ledger.store.schema import feeds
from signer.transport import HttpTransport
from tests.supply import CERT_GOTS, GOTS_CLAIM, material
from tests.terminal import Terminal

# Eleven actors and their keys, one key rotation, the story's events: api/demo.py, demo_story.py.
DEMO_ENTRIES = 100
PROBLEM_JSON = "application/problem+json"
JSON_HEADERS = {"content-type": "application/json"}


@dataclass
class Api:
    """A running app and the operator's terminal, positioned after the genesis entry."""

    client: TestClient
    settings: Settings
    operator: Terminal

    def post(self, body: Envelope | Sequence[Envelope] | bytes) -> httpx.Response:
        """POST one envelope, a batch of them, or raw body bytes to ``/v1/entries``."""
        if isinstance(body, Envelope):
            content = body.to_bytes()
        elif isinstance(body, bytes):
            content = body
        else:
            content = batch_body(body)
        return self.client.post("/v1/entries", content=content, headers=JSON_HEADERS)

    def accept(self, body: Envelope | Sequence[Envelope]) -> list[dict[str, Any]]:
        """POST and insist on acceptance; the receipts."""
        response = self.post(body)
        assert response.status_code in (200, 201), response.text
        data: dict[str, Any] = response.json()
        return list(data.get("receipts", [data]))

    def enrol(self, slug: str, **profile: Any) -> Terminal:
        """Register actor ``slug`` and one terminal key for it, over HTTP."""
        actor_id = f"urn:spola:actor:{slug}"
        terminal = Terminal(actor=actor_id)
        self.accept(
            [
                self.operator.register(actor_id, **profile),
                self.operator.add_key(actor_id, terminal.key),
            ]
        )
        return terminal

    def vkey(self) -> str:
        response = self.client.get("/v1/log/key")
        assert response.status_code == 200, response.text
        return response.text.strip()

    def tree_size(self) -> int:
        return int(self.client.get("/healthz").json()["tree_size"])

    def entry(self, index: int) -> bytes:
        response = self.client.get("/v1/log/entries", params={"start": index, "end": index + 1})
        assert response.status_code == 200, response.text
        (row,) = response.json()["entries"]
        return base64.b64decode(row["entry"])


def batch_body(envelopes: Sequence[Envelope | dict[str, Any]]) -> bytes:
    items = [e.to_json() if isinstance(e, Envelope) else e for e in envelopes]
    return json.dumps({"envelopes": items}).encode("utf-8")


def operator_at_head(store: LedgerStore, home: Path) -> Terminal:
    """The operator's terminal, positioned at the head of its feed (after a demo, say)."""
    key = load_operator(home).key
    with store.connect() as conn:
        head = conn.execute(select(feeds).where(feeds.c.key_id == key.public_key.key_id)).one()
    return Terminal(actor=OPERATOR_ACTOR, key=key, seq=head.seq + 1, prev=head.digest)


def operator_terminal(client: TestClient, home: Path) -> Terminal:
    """The operator's feed continues after genesis: seq 1, prev = digest of the genesis payload."""
    response = client.get("/v1/log/entries", params={"start": 0, "end": 1})
    (genesis,) = response.json()["entries"]
    payload = Envelope.from_bytes(base64.b64decode(genesis["entry"])).payload
    key = load_operator(home).key
    return Terminal(actor=OPERATOR_ACTOR, key=key, seq=1, prev=payload_digest(payload))


def listening_socket() -> socket.socket:
    """A TCP socket bound to a free port on 127.0.0.1, kept bound until the server takes it.

    Picking a free port, closing it and letting the server bind it again would race with
    every other process on the machine (other test runs share it) for the same port.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(app: FastAPI, sock: socket.socket | None = None) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on ``sock`` (a fresh one unless given): its
    ``host:port``. Stopped, and its lifespan closed, on exit."""
    sock = listening_socket() if sock is None else sock
    host, port = sock.getsockname()
    # As `spola serve` runs it: a head over the limits, arriving in pieces, reaches the app.
    config = uvicorn.Config(app, log_level="error", h11_max_incomplete_event_size=HEAD_BUFFER_BYTES)
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not served.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.02)
        yield f"{host}:{port}"
    finally:
        served.should_exit = True
        thread.join(timeout=30)
        sock.close()


@contextmanager
def running_api(database_url: str, home: Path, **limits: int) -> Iterator[Api]:
    """``init_home``, ``create_app(settings)``, lifespan started; the ``Api`` to talk to."""
    init_home(home)
    settings = Settings(database_url=database_url, home=home, **limits)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Api(client=client, settings=settings, operator=operator_terminal(client, home))


def urn(slug: str) -> str:
    """The actor URN of ``slug``."""
    return f"urn:spola:actor:{slug}"


def get_json(api: Api, path: str, **headers: str) -> dict[str, Any]:
    """GET ``path`` and insist on 200; the JSON body."""
    response = api.client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def store_of(api: Api) -> LedgerStore:
    """The store the app's lifespan opened."""
    store: LedgerStore = cast(FastAPI, api.client.app).state.store
    return store


@contextmanager
def seeded_api(database_url: str, home: Path) -> Iterator[Api]:
    """``running_api`` over a database the demo has seeded with all its ``DEMO_ENTRIES``."""
    with running_api(database_url, home) as api:
        assert seed_demo(store_of(api), api.settings.home) == DEMO_ENTRIES
        yield api


def seed_demo_database(database_url: str, home: Path) -> None:
    """An operator home at ``home`` and the demo seeded into ``database_url``, nothing served."""
    init_home(home)
    operator = load_operator(home)
    store = LedgerStore.open(database_url, operator=operator.key, origin=operator.origin)
    try:
        seed_demo(store, home)
    finally:
        store.close()


@contextmanager
def serving_demo(root: Path) -> Iterator[str]:
    """The real service on the demo ledger (SQLite under ``root``), on a free local port that
    is also its public base URL, so that its QR codes and links lead back to it: host:port."""
    home, url = root / "home", f"sqlite:///{root / 'ledger.db'}"
    seed_demo_database(url, home)
    sock = listening_socket()
    host = "{}:{}".format(*sock.getsockname())
    settings = Settings(database_url=url, home=home, public_base_url=f"http://{host}")
    with serving(create_app(settings), sock):
        yield host


def assert_problem(
    response: httpx.Response, status: int, kind: str, *detail_parts: str
) -> dict[str, Any]:
    """An RFC 9457 problem of ``kind`` whose detail contains every one of ``detail_parts``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:spola:problem:{kind}", body
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    for part in detail_parts:
        assert part in body["detail"], body
    return body


def verify_receipt(receipt: dict[str, Any], log_vkey: str, entry: bytes) -> Checkpoint:
    """The receipt's checkpoint verifies with the log key and its proof includes ``entry``."""
    checkpoint = verify_checkpoint(receipt["checkpoint"].encode("utf-8"), log_vkey)
    leaf = bytes.fromhex(receipt["leaf_hash"])
    assert leaf == leaf_hash(entry)
    proof = [base64.b64decode(h, validate=True) for h in receipt["inclusion_proof"]]
    verify_inclusion(leaf, receipt["index"], checkpoint.size, proof, checkpoint.root_hash)
    tlog = TlogProof.from_text(receipt["tlog_proof"])
    assert tlog.index == receipt["index"]
    assert list(tlog.proof) == proof
    assert tlog.checkpoint == receipt["checkpoint"].encode("utf-8")
    assert Receipt.from_json(receipt).verify(entry, log_vkey) == checkpoint
    return checkpoint


def route_terminal_to(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``spola sync`` (``signer.cli``) talk to this app's test client, whatever its URL."""

    class Shared(HttpTransport):
        def close(self) -> None:  # the test client belongs to running_api
            pass

    monkeypatch.setattr(
        HttpTransport,
        "connect",
        classmethod(lambda cls, url, timeout=30.0: Shared(client=api.client)),
    )


class PageText(HTMLParser):
    """The page's language, its visible text (one space between words) and its links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.lang = ""
        self.links: list[str] = []
        self._skip = 0
        self._data: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang") or ""
        if tag == "a" and found.get("href"):
            self.links.append(found["href"] or "")
        self._skip += tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "title")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._data.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self._data).split())


# -- the pages, as a phone's browser asks for them ---------------------------------------------

PAGE_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"  # a phone's


def browser(lang: str) -> dict[str, str]:
    """The headers of a phone's browser whose reader asks for ``lang`` (Accept-Language)."""
    return {"Accept": PAGE_ACCEPT, "Accept-Language": lang}


def varies(response: httpx.Response) -> set[str]:
    """The request headers ``response`` says it varies with, in lower case."""
    return {v.strip().lower() for v in response.headers.get("vary", "").split(",") if v.strip()}


def refusal_page(response: httpx.Response, status: int, lang: str) -> PageText:
    """``response`` as a page refusing a browser: ``status``, HTML in ``lang``, never kept by a
    shared cache, varying with what the client accepts, and no problem details in it."""
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("text/html"), response.headers
    assert "no-cache" in response.headers["cache-control"], response.headers
    assert {"accept", "accept-language"} <= varies(response), response.headers
    page = PageText(response.text)
    assert page.lang == lang, response.text[:300]
    assert "urn:spola:problem" not in response.text
    return page


@contextmanager
def served_fresh(database_url: str, home: Path) -> Iterator[httpx.Client]:
    """The service over a fresh ledger, served by uvicorn on a local port: a client of it."""
    with running_api(database_url, home) as api:
        settings = api.settings
    with serving(create_app(settings)) as host, httpx.Client(base_url=f"http://{host}") as http:
        yield http


# Each body parsed: the module that parsed it, and whether on the event loop.
Parses = list[tuple[str, bool]]


def watch_parses(monkeypatch: pytest.MonkeyPatch, *readers: ModuleType) -> Parses:
    """Each body ``readers`` (modules calling ``parse_json``) parse from now on: which module,
    and whether it parsed on the event loop."""
    seen: Parses = []
    for reader in readers:

        def watched_parse(data: bytes, reader: str = reader.__name__, **bounds: Any) -> Any:
            seen.append((reader, on_event_loop()))
            return parse_json(data, **bounds)

        monkeypatch.setattr(reader, "parse_json", watched_parse)
    return seen


def on_event_loop() -> bool:
    """Whether the caller runs on an event loop's thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def enrol_near(app: Api, slug: str, at: tuple[str, str]) -> Terminal:
    """A workshop enrolled in Lombardy with one facility, ``main``, at ``at`` (lat, lon)."""
    site = {"id": "main", "name": f"{slug} works", "town": "Milano", "region": "Lombardia",
            "country": "IT", "lat": at[0], "lon": at[1]}  # fmt: skip
    return app.enrol(slug, name=f"Workshop {slug}", region="Lombardia", facilities=[site])


def operator_headers(app: Api) -> dict[str, str]:
    """The Authorization header of a new operator token: a reader who sees every figure."""
    token = store_of(app).create_token(tier="operator", actor=None)[1]
    return {"Authorization": f"Bearer {token}"}


def certified_lots(app: Api, workshop: Terminal, count: int) -> None:
    """``count`` lots of 10 kg of silk, GOTS-certified, signed by ``workshop`` in one batch."""
    slug = workshop.actor.rsplit(":", 1)[1]
    lots = [f"urn:spola:lot:{slug}:{n}" for n in range(count)]
    app.accept([workshop.sign(material(lot, "10", claim=GOTS_CLAIM, certificates=[CERT_GOTS]))
                for lot in lots])  # fmt: skip
