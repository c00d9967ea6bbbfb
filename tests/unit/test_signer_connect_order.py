"""The order a terminal tries a ledger name's addresses in: RFC 8305 §4's."""

from __future__ import annotations

import pytest

from signer.deadline_sockets import attempt_order


@pytest.mark.parametrize(
    ("resolved", "tried"),
    [
        (["2001:db8::1", "2001:db8::2", "192.0.2.1", "192.0.2.2"],
         ["2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2"]),
        (["192.0.2.1", "192.0.2.2", "2001:db8::1"],
         ["192.0.2.1", "2001:db8::1", "192.0.2.2"]),
        (["2001:db8::1", "192.0.2.1", "192.0.2.2", "192.0.2.3"],
         ["2001:db8::1", "192.0.2.1", "192.0.2.2", "192.0.2.3"]),
        (["fe80::1%eth0", "192.0.2.1"], ["fe80::1%eth0", "192.0.2.1"]),
        (["192.0.2.3", "192.0.2.1"], ["192.0.2.3", "192.0.2.1"]),
        ([], []),
    ],
    ids=["ipv6-first", "ipv4-first", "more-of-one-family", "scoped", "one-family", "none"],
)  # fmt: skip
def test_families_alternate_from_the_first_addresss_keeping_each_familys_order(
    resolved: list[str], tried: list[str]
) -> None:
    assert attempt_order(resolved) == tried
