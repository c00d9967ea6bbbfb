"""Hostile input over real HTTP: each refused early, as a 4xx problem, the log untouched.

The app is served by uvicorn on a local port (``api_support.serving``) and attacked the way a
client on the network would: a body far over the limit that is never sent, a chunked body cut
off halfway, JSON nested 10,000 deep, a number of a million digits, bytes that are not UTF-8,
duplicate member names, a huge query string or header, a 100 KB Digital Link path. Requests
the HTTP client library refuses to build (a 100 KB URL) go over a raw socket. Every answer must
be an RFC 9457 problem with a 4xx status, and the log's size must be the same afterwards.

SQLite only: these refusals happen in the HTTP layer, before the store is asked anything.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.types import Message

from api.main import create_app
from api.operator import init_home
from api.settings import Settings
from tests.integration.api_support import PROBLEM_JSON, serving

pytestmark = pytest.mark.integration

JSON = {"content-type": "application/json"}
MAX_BODY = 1024 * 1024
MCI = "/v1/circularity/mci"
ENTRIES = "/v1/entries"


@dataclass
class Served:
    host: str
    client: httpx.Client

    def tree_size(self) -> int:
        return int(self.client.get("/healthz").json()["tree_size"])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The real app behind uvicorn; on exit, the log must still hold only its genesis entry."""
    init_home(tmp_path / "home")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        home=tmp_path / "home",
        max_body_bytes=MAX_BODY,
    )
    with (
        serving(create_app(settings)) as host,
        httpx.Client(base_url=f"http://{host}", timeout=60) as client,
    ):
        api = Served(host=host, client=client)
        assert api.tree_size() == 1
        yield api
        assert api.tree_size() == 1  # nothing hostile was logged


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self) -> dict[str, object]:
        assert 400 <= self.status < 500, (self.status, self.body[:200])
        assert self.headers["content-type"] == PROBLEM_JSON
        body: dict[str, object] = json.loads(self.body)
        assert body["status"] == self.status
        assert body["title"] and body["detail"] and str(body["type"]).startswith("urn:spola:")
        return body


def _read_response(sock: socket.socket) -> RawResponse:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of the response body"
        body += chunk
    return RawResponse(int(status_line.split()[1]), headers, body)


def raw_exchange(host: str, head: bytes, *body_parts: bytes) -> RawResponse:
    """Send ``head`` (request line and headers, without the blank line) and ``body_parts``
    over a socket of our own; read one response without sending anything more."""
    address, port = host.rsplit(":", 1)
    with socket.create_connection((address, int(port)), timeout=60) as sock:
        sock.sendall(head + b"\r\nhost: " + host.encode() + b"\r\n\r\n")
        for part in body_parts:
            sock.sendall(part)
        return _read_response(sock)


def assert_problem(response: httpx.Response, status: int, *detail: str) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status and body["title"]
    for part in detail:
        assert part in body["detail"], body


# -- oversize bodies: refused before they are read --------------------------------------------


def test_declared_oversize_body_is_refused_413_before_a_byte_of_it_is_sent(
    served: Served,
) -> None:
    head = b"POST /v1/entries HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: "
    response = raw_exchange(served.host, head + str(10**9).encode())

    body = response.problem()  # answered although not one byte of the body was sent
    assert response.status == 413 and "over the limit of 1048576 bytes" in str(body["detail"])


def test_chunked_oversize_body_is_refused_413_before_it_ends(served: Served) -> None:
    head = b"POST /v1/entries HTTP/1.1\r\ncontent-type: application/json\r\n"
    chunk = b"%x\r\n%b\r\n" % (256 * 1024, b" " * 256 * 1024)
    # Five chunks of 256 KiB pass the 1 MiB limit; the closing chunk is never sent.
    response = raw_exchange(served.host, head + b"transfer-encoding: chunked", *[chunk] * 5)

    assert response.status == 413 and response.problem()["type"] == "urn:spola:problem:too-large"


def test_content_length_of_5000_digits_is_refused_413_without_reading_the_body(
    tmp_path: Path,
) -> None:
    # uvicorn refuses such a header itself (a bare 400); behind another server, or driven in
    # process, it reaches the app, where int() would raise ValueError over 4,300 digits.
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}"))
    reads: list[Message] = []
    sent: list[Message] = []

    async def receive() -> Message:
        reads.append({"type": "http.request"})
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": ENTRIES,
        "raw_path": ENTRIES.encode(),
        "query_string": b"",
        "headers": [(b"content-length", b"9" * 5000)],
        "client": ("192.0.2.1", 5000),
    }
    asyncio.run(app(scope, receive, send))

    assert (
        sent[0]["status"] == 413 and (b"content-type", PROBLEM_JSON.encode()) in sent[0]["headers"]
    )
    assert json.loads(sent[1]["body"])["type"] == "urn:spola:problem:too-large"
    assert reads == []  # not one read of the body


# -- JSON the parsers must not choke on -------------------------------------------------------


def test_json_nested_ten_thousand_deep_is_refused(served: Served) -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    entries = served.client.post(ENTRIES, content=b'{"envelopes":' + deep + b"}", headers=JSON)
    mci = served.client.post(MCI, content=b'{"method":"2019","materials":' + deep + b"}")

    assert_problem(entries, 413, "nested deeper than 8 levels")
    assert_problem(mci, 400, "body is not valid JSON")


@pytest.mark.parametrize("number", ["1" * 10**6, "-" + "9" * 10**6, "1e" + "9" * 10**6])
def test_number_of_a_million_digits_is_refused_400(served: Served, number: str) -> None:
    envelope = b'{"envelopes":[' + number.encode() + b"]}"
    materials = b'{"method":"2019","materials":[{"mass_kg":' + number.encode() + b"}]}"

    entries = served.client.post(ENTRIES, content=envelope, headers=JSON)
    mci = served.client.post(MCI, content=materials, headers=JSON)

    assert entries.status_code == 400 and mci.status_code == 400
    assert_problem(entries, 400, "not an integer" if "e" in number else "is outside ±(2^53 - 1)")
    assert_problem(mci, 400, "body is not valid JSON")


def test_exponent_no_decimal_can_hold_is_refused_400_not_500(served: Served) -> None:
    # Once a 500: Decimal("1e9999999999999999999") raises InvalidOperation, not ValueError.
    body = b'{"method":"2019","materials":[{"mass_kg":1e9999999999999999999}]}'
    response = served.client.post(MCI, content=body, headers=JSON)
    assert_problem(response, 400, "number 1e9999999999999999999 is out of range")


def test_body_that_is_not_utf8_is_refused_400(served: Served) -> None:
    body = b'{"payloadType":"\xff\xfe","payload":"","signatures":[]}'
    assert_problem(served.client.post(ENTRIES, content=body), 400, "not valid UTF-8")
    assert_problem(served.client.post(MCI, content=b'{"method":"\xc3\x28"}'), 400)


def test_json_with_duplicate_member_names_is_refused_400(served: Served) -> None:
    entries = b'{"envelopes":[],"envelopes":[]}'
    mci = b'{"method":"2019","method":"2015","materials":[]}'
    assert_problem(served.client.post(ENTRIES, content=entries), 400, "duplicate member name")
    assert_problem(served.client.post(MCI, content=mci), 400, "duplicate member name")


# -- the request head ---------------------------------------------------------------------------


def test_huge_query_string_is_refused_414(served: Served) -> None:
    response = served.client.get("/v1/actors", params={"after": "a" * 60_000})
    assert_problem(response, 414, "request target is", "over the limit of 8192")


def test_huge_header_is_refused_431(served: Served) -> None:
    response = served.client.get("/v1/actors", headers={"x-padding": "a" * 60_000})
    assert_problem(response, 431, "request headers are", "over the limit of 16384")


def test_digital_link_path_of_100_kb_is_refused_414(served: Served) -> None:
    path = b"/01/09506000134352/21/" + b"A" * 100_000
    response = raw_exchange(served.host, b"GET " + path + b" HTTP/1.1\r\naccept: application/json")

    assert response.status == 414
    assert "request target is" in str(response.problem()["detail"])


def test_digital_link_that_is_not_utf8_is_refused_422(served: Served) -> None:
    json_accept = {"Accept": "application/json"}  # a browser is refused with a page
    response = served.client.get("/01/09506000134352/21/%FF%FE", headers=json_accept)
    assert_problem(response, 422, "path.rest: the escapes '%FF' do not decode as UTF-8")


def test_header_value_that_is_not_utf8_gets_a_problem_not_a_500(served: Served) -> None:
    head = b"GET /v1/directory HTTP/1.1\r\nauthorization: Bearer spola_\xff\xfe_\xc3\x28"
    response = raw_exchange(served.host, head)
    assert response.status == 401 and response.problem()["type"] == "urn:spola:problem:unauthorized"
