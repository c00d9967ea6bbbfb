"""Event payload models: what parse_event accepts and how it names what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.canonical import canonical_bytes
from ledger.errors import FormatError
from ledger.events import ActorEvent, KeyEvent, encode_event, parse_event
from ledger.keys import PrivateKey

KEY = PrivateKey.from_seed(bytes(range(32)))


def actor(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "v": 1, "type": "actor", "actor": "urn:spola:actor:operator", "seq": 1,
        "prev": "ab" * 32, "time": "2026-11-26T09:30:00Z", "op": "register",
        "id": "urn:spola:actor:setificio-lariano", "name": "Setificio Lariano",
        "roles": ["supplier"], "country": "IT",
        "facilities": [{"id": "main", "name": "Tessitura", "town": "Como", "country": "IT",
                        "lat": "45.8081", "lon": "9.0852"}],
    }  # fmt: skip
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not ...}


def key_event(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "v": 1, "type": "key", "actor": "urn:spola:actor:operator", "seq": 2, "prev": "cd" * 32,
        "time": "2026-11-26T09:31:00Z", "op": "add", "subject": "urn:spola:actor:setificio-lariano",
        "key_id": KEY.public_key.key_id, "public_key": KEY.public_key.to_base64(),
    }  # fmt: skip
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not ...}


def refused(fields: dict[str, Any]) -> str:
    with pytest.raises(FormatError) as caught:
        parse_event(canonical_bytes(fields))
    return str(caught.value)


def test_actor_registration_parses() -> None:
    event = parse_event(encode_event(actor()))
    assert isinstance(event, ActorEvent)
    assert event.facilities[0].town == "Como"


def test_key_add_parses_and_binds_key_id_to_public_key() -> None:
    event = parse_event(encode_event(key_event()))
    assert isinstance(event, KeyEvent)
    assert event.new_public_key() == KEY.public_key


def test_unknown_type_names_the_known_ones() -> None:
    assert "unknown event type 'shipment'" in refused(actor(type="shipment"))


def test_missing_field_is_named() -> None:
    assert "name" in refused(actor(name=...))


def test_extra_member_is_refused() -> None:
    assert "colour" in refused(actor(colour="blu"))


@pytest.mark.parametrize("time", ["2026-11-26T09:30:00+01:00", "2026-11-26 09:30:00Z",
                                  "2026-02-30T09:30:00Z", "yesterday"])  # fmt: skip
def test_time_must_be_real_rfc3339_utc(time: str) -> None:
    assert "time" in refused(actor(time=time))


def test_coordinates_are_decimal_strings_in_range() -> None:
    facility = dict(actor()["facilities"][0], lat="91")
    assert "lat" in refused(actor(facilities=[facility]))
    facility = dict(actor()["facilities"][0], lon="east")
    assert "lon" in refused(actor(facilities=[facility]))


def test_actor_ids_are_spola_urns() -> None:
    assert "id" in refused(actor(id="setificio"))


def test_seq_is_a_non_negative_integer_not_a_boolean() -> None:
    assert "seq" in refused(actor(seq=-1))
    assert "seq" in refused(actor(seq=True))


def test_key_id_that_is_not_the_hash_of_the_key_is_refused() -> None:
    assert "key_id is not the SHA-256" in refused(key_event(key_id="00" * 32))


def test_revoke_carries_no_public_key() -> None:
    assert "public_key" in refused(key_event(op="revoke"))
    parse_event(encode_event(key_event(op="revoke", public_key=...)))


def test_rotate_needs_replaces_and_only_rotate_has_it() -> None:
    assert "replaces" in refused(key_event(op="rotate"))
    assert "replaces" in refused(key_event(replaces="ef" * 32))
    parse_event(encode_event(key_event(op="rotate", replaces="ef" * 32)))
