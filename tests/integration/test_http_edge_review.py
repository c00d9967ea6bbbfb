"""Edges of HEAD, the percent-escape check and the 503 mapping, probed from outside.

Legitimate requests must still pass the escape check (``%25`` and ``%2F`` in a Digital Link,
``+`` and UTF-8 escapes from a browser's GET form, empty values, names without ``=``); a
refusal's detail must stay one bounded line of printable text however the name was written;
HEAD through a real server must leave no body bytes on a kept-alive connection; and only a
database that is away for a moment is a 503, never a schema that is wrong.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import exc

from ledger.store.engine import unavailable
from tests.integration.api_support import PROBLEM_JSON, Api, assert_problem, running_api

pytestmark = pytest.mark.integration

GTIN = "08000000001016"


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(database_url, tmp_path / "home") as api:
        yield api


# -- legitimate requests pass the escape check ------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        f"/01/{GTIN}/21/S%2F1",  # Digital Link: '/' in a serial
        f"/01/{GTIN}/21/A%2541",  # '%' itself, escaped
        f"/01/{GTIN}/21/A!%22%26'()*+,-.%3A;%3C=%3E%3F_z",  # GS1 CSET 82
        f"/01/{GTIN}/21/A%2541?linkType=gs1:pip",
        f"/v1/passports/01/{GTIN}/21/A%2541",
        f"/v1/passports/01/{GTIN}/21/S%2F1/bundle",
        f"/v1/items/01/{GTIN}/21/S%2F1",
        f"/v1/lots/01/{GTIN}/10/A%25B",
        f"/v1/epcis/events?item=/01/{GTIN}/21/A%2541&lot=",
        "/v1/epcis/events?lot=urn%3Aspola%3Alot%3Amill%3AX+1",
        "/v1/epcis/events?limit=5;lot=x",  # ';' is no separator: one odd name, no escape fault
        "/v1/directory?q=citt%C3%A0+di+Como&process=",
        "/directory?q=100%25+lana&city=Milano&flag",
        "/directory?q=%E2%82%AC%20&lang=it",
    ],
)
def test_well_formed_requests_are_not_refused_as_broken_escapes(app: Api, target: str) -> None:
    response = app.client.get(target)
    if response.headers.get("content-type") == PROBLEM_JSON:
        assert response.json()["type"] != "urn:spola:problem:format", (target, response.text)
    assert response.status_code < 500, (target, response.text)


# -- a refusal's detail is one bounded line of printable text ---------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "%0A%1B%5B31mred%zz",  # newline and an ANSI escape sequence before the fault
        "%C2%85%E2%80%A8%zz",  # NEL and LINE SEPARATOR
        "%FF%zz",  # bytes that are not UTF-8
        "%zz" + "A" * 7_000,  # long, under the 8 KiB target limit
    ],
)
def test_a_refused_parameter_name_is_quoted_printable_and_bounded(app: Api, name: str) -> None:
    response = app.client.get(f"/v1/epcis/events?{name}=1")
    assert_problem(response, 422, "format", "query.", "is not a percent-escape")
    detail = response.json()["detail"]
    assert detail.isprintable(), repr(detail)
    assert len(detail) < 300, len(detail)


# -- HEAD through uvicorn, on one kept-alive connection ---------------------------------------


def _read_head(sock: socket.socket, buffered: bytes) -> tuple[bytes, bytes]:
    """One response's status line and headers; the bytes read past them."""
    while b"\r\n\r\n" not in buffered:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {buffered!r}"
        buffered += chunk
    head, _, rest = buffered.partition(b"\r\n\r\n")
    return head, rest


def _headers(head: bytes) -> dict[str, str]:
    _, *lines = head.decode("latin-1").split("\r\n")
    return {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}


CHUNKED_HELLO = b"transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0"  # the last CRLFs follow


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"HEAD /v1/log/entries?start=0&end=1 HTTP/1.1", 200),
        (b"HEAD /v1/log/checkpoint HTTP/1.1", 200),
        (b"HEAD /v1/nothing-here HTTP/1.1", 404),
        (b"HEAD /v1/entries HTTP/1.1", 405),  # POST-only
        (b"HEAD /v1/lots/x%zz HTTP/1.1", 422),
        (b"HEAD /v1/log/checkpoint HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello", 200),
        (b"HEAD /v1/log/checkpoint HTTP/1.1\r\n" + CHUNKED_HELLO, 200),
    ],
)
def test_head_leaves_no_body_bytes_and_the_connection_serves_the_next_request(
    host: str, head: bytes, status: int
) -> None:
    address, port = host.rsplit(":", 1)
    request, _, body = head.partition(b"\r\n\r\n")
    with socket.create_connection((address, int(port)), timeout=30) as sock:
        sock.sendall(request + b"\r\nhost: " + host.encode() + b"\r\n\r\n" + body)
        if body.endswith(b"\r\n0"):
            sock.sendall(b"\r\n\r\n")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: " + host.encode() + b"\r\n\r\n")
        first, rest = _read_head(sock, b"")
        assert first.split()[1] == str(status).encode(), first
        fields = _headers(first)
        assert "transfer-encoding" not in fields or status != 200 or "content-length" in fields
        if status == 405:
            assert "POST" in fields["allow"], fields
        # The next bytes on the wire are the next response, not a body.
        second, tail = _read_head(sock, rest)
        assert second.startswith(b"HTTP/1.1 200"), (first, second)
        while len(tail) < int(_headers(second)["content-length"]):
            tail += sock.recv(65536)
        assert b"tree_size" in tail


# -- 503 is for a database away for a moment, not for a wrong schema --------------------------


def _sqlite_error(sql: str) -> exc.OperationalError:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(sql)
    except sqlite3.OperationalError as error:
        return exc.OperationalError(sql, {}, error)
    finally:
        conn.close()
    raise AssertionError(f"{sql} did not fail")


def test_a_schema_mistake_is_not_unavailable() -> None:
    assert not unavailable(_sqlite_error("SELECT * FROM no_such_table"))
    assert not unavailable(_sqlite_error("SELECT no_such_column"))


def test_a_sqlite_lock_held_too_long_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        waiter = sqlite3.connect(path, timeout=0)
        try:
            with pytest.raises(sqlite3.OperationalError) as raised:
                waiter.execute("SELECT * FROM sqlite_master")
        finally:
            waiter.close()
    finally:
        holder.close()
    assert unavailable(exc.OperationalError("SELECT", {}, raised.value))
