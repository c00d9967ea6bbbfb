"""``spola serve``'s default public base URL: the address it serves, so that QR codes and
Digital Link URIs printed from a server on another port or host still resolve."""

from __future__ import annotations

import pytest

from spola.serve import served_base_url


@pytest.mark.parametrize(
    ("host", "port", "base"),
    [
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("127.0.0.1", 8765, "http://127.0.0.1:8765"),
        ("192.168.1.20", 8000, "http://192.168.1.20:8000"),
        ("::1", 9000, "http://[::1]:9000"),
        ("localhost", 8001, "http://localhost:8001"),
        ("spola.local", 80, "http://spola.local:80"),
    ],
)
def test_a_named_address_is_the_base(host: str, port: int, base: str) -> None:
    assert served_base_url(host, port) == base


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "0:0:0:0:0:0:0:0", ""])
def test_a_wildcard_address_names_no_host(host: str) -> None:
    assert served_base_url(host, 8000) is None
