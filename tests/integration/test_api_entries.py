"""``POST /v1/entries`` through the real ASGI app: receipts, and every refusal as RFC 9457.

Each test runs on SQLite and PostgreSQL (the ``database_url`` fixture). Refusals are checked for
their status, problem type and the words of their detail, and for leaving the log untouched.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from ledger.envelope import Envelope, Signature, sign_envelope
from ledger.store.schema import equivocations
from tests.integration.api_support import (
    Api,
    assert_problem,
    batch_body,
    running_api,
    verify_receipt,
)
from tests.terminal import Terminal

pytestmark = pytest.mark.integration


def _flip_bit(data: bytes, position: int = 0) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def _with_signature(envelope: Envelope, sig: bytes) -> Envelope:
    keyid = envelope.signatures[0].keyid
    return Envelope(envelope.payload_type, envelope.payload, (Signature(keyid, sig),))


def _at_seq(terminal: Terminal, seq: int) -> Envelope:
    """A profile update at an explicit ``seq``, the terminal's feed left untouched."""
    return terminal.sign(
        {
            "type": "actor",
            "op": "update",
            "id": terminal.actor,
            "name": "x",
            "roles": ["supplier"],
            "country": "IT",
        },
        seq=seq,
    )


# -- acceptance ------------------------------------------------------------------------------


def test_one_envelope_is_created_with_a_verifiable_receipt_and_location(app: Api) -> None:
    envelope = app.operator.register("urn:spola:actor:setificio")

    response = app.post(envelope)

    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    receipt = response.json()
    assert receipt["index"] == 1
    assert receipt["duplicate"] is False
    assert receipt["applied"] is True
    assert receipt["violation"] is None
    assert response.headers["location"] == "/v1/log/entries?start=1&end=2"
    located = app.client.get(response.headers["location"]).json()["entries"]
    assert [row["index"] for row in located] == [1]
    entry = base64.b64decode(located[0]["entry"])
    assert entry == envelope.to_bytes()  # the entry is the RFC 8785 envelope, as signed
    checkpoint = verify_receipt(receipt, app.vkey(), entry)
    assert checkpoint.size == 2


def test_resubmitted_envelope_gets_its_original_receipt(app: Api) -> None:
    envelope = app.operator.register("urn:spola:actor:setificio")
    first = app.post(envelope)
    assert first.status_code == 201

    again = app.post(envelope)

    assert again.status_code == 200, again.text
    assert again.json() == {**first.json(), "duplicate": True}
    assert again.headers["location"] == first.headers["location"]
    assert app.tree_size() == 2


def test_batch_answers_one_receipt_per_envelope_in_order(app: Api) -> None:
    terminal = Terminal(actor="urn:spola:actor:conceria")
    envelopes = [
        app.operator.register(terminal.actor),
        app.operator.add_key(terminal.actor, terminal.key),
        terminal.update_self("Conceria del Serio"),  # signed with the key added just before
    ]

    response = app.post(envelopes)

    assert response.status_code == 200, response.text
    assert set(response.json()) == {"receipts"}
    receipts = response.json()["receipts"]
    assert [r["index"] for r in receipts] == [1, 2, 3]
    assert all(r["duplicate"] is False for r in receipts)
    assert len({r["checkpoint"] for r in receipts}) == 1  # one checkpoint per batch
    vkey = app.vkey()
    for receipt, envelope in zip(receipts, envelopes, strict=True):
        assert app.entry(receipt["index"]) == envelope.to_bytes()
        assert verify_receipt(receipt, vkey, envelope.to_bytes()).size == 4


def test_batch_resubmitting_logged_envelopes_gets_their_original_receipts(app: Api) -> None:
    register = app.operator.register("urn:spola:actor:setificio")
    (original,) = app.accept([register])
    add_key = app.operator.add_key("urn:spola:actor:setificio", Terminal(actor="x").key)

    receipts = app.accept([register, add_key])

    assert receipts[0] == {**original, "duplicate": True}
    assert (receipts[1]["index"], receipts[1]["duplicate"]) == (2, False)
    assert app.tree_size() == 3


def test_rule_breaking_event_is_logged_but_not_applied(app: Api) -> None:
    terminal = app.enrol("atelier")

    response = app.post(terminal.update_self("Atelier renamed by itself"))

    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["applied"] is False
    assert receipt["violation"]["rule"] == "registry.operator_only"
    assert "signed by the operator" in receipt["violation"]["detail"]
    name = app.client.get(f"/v1/actors/{terminal.actor}").json()["name"]
    assert name == "Test workshop"


def test_non_ascii_payload_is_logged_byte_for_byte(app: Api) -> None:
    envelope = app.operator.register("urn:spola:actor:sartoria", name="Sartoria Però — 縫製")
    (receipt,) = app.accept([envelope])
    assert app.entry(receipt["index"]) == envelope.to_bytes()
    actor = app.client.get("/v1/actors/urn:spola:actor:sartoria").json()
    assert actor["name"] == "Sartoria Però — 縫製"


def test_url_safe_base64_envelope_is_accepted_and_logged_in_standard_form(app: Api) -> None:
    envelope = app.operator.register("urn:spola:actor:sartoria", name="Sartoria ~~~ ???")
    url_safe = envelope.to_json()
    url_safe["payload"] = base64.urlsafe_b64encode(envelope.payload).decode().rstrip("=")
    sig = base64.urlsafe_b64encode(envelope.signatures[0].sig).decode().rstrip("=")
    url_safe["signatures"] = [{**url_safe["signatures"][0], "sig": sig}]
    assert url_safe["payload"] != envelope.to_json()["payload"]  # the two alphabets differ

    response = app.post(json.dumps(url_safe).encode())

    assert response.status_code == 201, response.text
    assert app.entry(1) == envelope.to_bytes()  # DSSE verifiers accept both; the log keeps one
    again = app.post(envelope)
    assert (again.status_code, again.json()["index"], again.json()["duplicate"]) == (200, 1, True)


# -- the body: JSON, UTF-8, size, depth ------------------------------------------------------


def test_body_that_is_not_json_is_refused_400(app: Api) -> None:
    response = app.post(b'{"payloadType": ')
    assert_problem(response, 400, "bad-request", "body is not valid JSON")


def test_body_that_is_not_utf8_is_refused_400(app: Api) -> None:
    response = app.post(b'{"payloadType": "\xff"}')
    assert_problem(response, 400, "bad-request", "body is not valid UTF-8 (byte 17)")


@pytest.mark.parametrize(
    "body",
    [b"[]", b'"envelope"', b"12", b"null"],
    ids=["array", "string", "number", "null"],
)
def test_body_that_is_not_an_object_is_refused_400(app: Api, body: bytes) -> None:
    response = app.post(body)
    assert_problem(response, 400, "bad-request", "body must be a DSSE envelope")


def test_body_with_duplicate_member_names_is_refused_400(app: Api) -> None:
    envelope = app.operator.register("urn:spola:actor:setificio").to_json()
    text = json.dumps(envelope)[:-1] + ', "payload": "AAAA"}'
    response = app.post(text.encode())
    assert_problem(response, 400, "bad-request", "duplicate member name 'payload'")


def test_batch_with_members_besides_envelopes_is_refused_400(app: Api) -> None:
    envelope = app.operator.register("urn:spola:actor:setificio").to_json()
    body = json.dumps({"envelopes": [envelope], "note": "x"}).encode()
    assert_problem(app.post(body), 400, "bad-request", '{"envelopes": [...]} and nothing else')
    assert app.tree_size() == 1


def test_empty_batch_is_refused_422(app: Api) -> None:
    assert_problem(app.post(b'{"envelopes": []}'), 422, "format", "no envelopes")


def test_oversize_body_by_content_length_is_refused_413(database_url: str, tmp_path: Path) -> None:
    with running_api(database_url, tmp_path / "home", max_body_bytes=1024) as app:
        envelope = app.operator.register("urn:spola:actor:setificio", name="x" * 200)
        body = batch_body([envelope] * 4)
        assert len(body) > 1024

        response = app.post(body)

        assert response.request.headers["content-length"] == str(len(body))
        assert_problem(response, 413, "too-large", "over the limit of 1024 bytes")
        assert app.tree_size() == 1
        assert app.post(envelope).status_code == 201  # under the limit it is accepted


def test_oversize_chunked_body_is_cut_off_while_streaming_413(
    database_url: str, tmp_path: Path
) -> None:
    # TestClient reads a streamed body whole before the app sees it; httpx's ASGI transport
    # hands it over chunk by chunk, as a server does, so the cut-off point is observable.
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for number in range(64):
            sent.append(number)
            yield b" " * 512  # JSON whitespace: the body would parse if it were ever read whole

    async def post(asgi_app: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=asgi_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://spola") as client:
            return await client.post("/v1/entries", content=chunks())

    with running_api(database_url, tmp_path / "home", max_body_bytes=2048) as app:
        response = asyncio.run(post(app.client.app))

        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert_problem(response, 413, "too-large", "over the limit of 2048 bytes")
        assert len(sent) == 5  # refused at the first chunk over the limit, never buffered whole
        assert app.tree_size() == 1


@pytest.mark.parametrize(
    "depth",
    [
        9,
        100,
        600,  # between the parser's own guard and the depth check: once answered 500
        100_000,
    ],
)
def test_deeply_nested_body_is_refused_413_never_500(app: Api, depth: int) -> None:
    body = b'{"envelopes":' + b"[" * depth + b"]" * depth + b"}"
    response = app.post(body)
    assert_problem(response, 413, "too-large", "nested deeper than 8 levels")


def test_batch_over_max_batch_is_refused_413(database_url: str, tmp_path: Path) -> None:
    with running_api(database_url, tmp_path / "home", max_batch=3) as app:
        operator_seq = app.operator.seq
        envelopes = [app.operator.register(f"urn:spola:actor:w{i}") for i in range(4)]

        assert_problem(app.post(envelopes), 413, "too-large", "4 envelopes", "limit of 3")
        assert app.tree_size() == 1

        app.operator.seq = operator_seq + 3
        assert len(app.accept(envelopes[:3])) == 3  # at the limit: accepted


# -- malformed envelopes: 422, naming the member ---------------------------------------------


def _malformed(envelope: dict[str, object], case: str) -> dict[str, object]:
    signature = dict(envelope["signatures"][0])  # type: ignore[index]
    changes: dict[str, dict[str, object]] = {
        "missing-payload": {"payload": None},
        "unknown-member": {"extra": "x"},
        "payload-not-base64": {"payload": "not base64!"},
        "payload-type-empty": {"payloadType": ""},
        "signatures-not-list": {"signatures": {"sig": signature["sig"]}},
        "signatures-empty": {"signatures": []},
        "sig-not-base64": {"signatures": [{**signature, "sig": "%%%"}]},
        "keyid-not-string": {"signatures": [{**signature, "keyid": 7}]},
        "signature-unknown-member": {"signatures": [{**signature, "cert": "x"}]},
    }
    changed = {**envelope, **changes[case]}
    return {k: v for k, v in changed.items() if v is not None}


@pytest.mark.parametrize(
    ("case", "detail"),
    [
        ("missing-payload", "missing member 'payload'"),
        ("unknown-member", "unknown member 'extra'"),
        ("payload-not-base64", "payload is not base64"),
        ("payload-type-empty", "payloadType must be a non-empty string"),
        ("signatures-not-list", "signatures must be a list"),
        ("signatures-empty", "signatures must not be empty"),
        ("sig-not-base64", "signatures[0].sig is not base64"),
        ("keyid-not-string", "signatures[0].keyid must be a string"),
        ("signature-unknown-member", "signatures[0] has unknown member 'cert'"),
    ],
)
def test_malformed_envelope_is_refused_422_naming_the_member(
    app: Api, case: str, detail: str
) -> None:
    envelope = _malformed(app.operator.register("urn:spola:actor:a").to_json(), case)
    response = app.post(json.dumps(envelope).encode())
    body = assert_problem(response, 422, "format", detail)
    assert "position" not in body  # one envelope: there is no position to name
    assert app.tree_size() == 1


def test_envelope_without_keyid_is_refused_422(app: Api) -> None:
    envelope = app.operator.register("urn:spola:actor:a")
    anonymous = Envelope(envelope.payload_type, envelope.payload, (Signature("", b"\0" * 64),))
    response = app.post(anonymous)
    assert_problem(response, 422, "format", "exactly one signature, with its keyid")


def test_validly_signed_payload_that_is_not_canonical_json_is_refused_422(app: Api) -> None:
    key = app.operator.key
    envelope = sign_envelope(b'{"type": "actor", "v": 1}', key)  # spaces: not RFC 8785
    response = app.post(envelope)
    assert_problem(response, 422, "format", "not in RFC 8785 canonical form")


def test_validly_signed_envelope_of_another_payload_type_is_refused_422(app: Api) -> None:
    registered = app.operator.register("urn:spola:actor:a")
    envelope = sign_envelope(registered.payload, app.operator.key, payload_type="text/plain")
    response = app.post(envelope)
    assert_problem(response, 422, "format", "payloadType must be application/vnd.spola.event")


# -- signatures and keys: 403 ----------------------------------------------------------------


def test_flipped_signature_bit_is_refused_403(app: Api) -> None:
    envelope = app.operator.register("urn:spola:actor:a")
    forged = _with_signature(envelope, _flip_bit(envelope.signatures[0].sig, 10))
    response = app.post(forged)
    assert_problem(response, 403, "signature", f"no signature by key {app.operator.key_id}")
    assert app.tree_size() == 1


def test_payload_changed_after_signing_is_refused_403(app: Api) -> None:
    envelope = app.operator.register("urn:spola:actor:a")
    payload = envelope.payload.replace(b"urn:spola:actor:a", b"urn:spola:actor:b")
    forged = Envelope(envelope.payload_type, payload, envelope.signatures)
    assert_problem(app.post(forged), 403, "signature", "verifies over the envelope")


def test_envelope_signed_by_an_unknown_key_is_refused_403(app: Api) -> None:
    stranger = Terminal(actor="urn:spola:actor:stranger")
    response = app.post(stranger.update_self("Stranger"))
    assert_problem(response, 403, "unknown-key", f"unknown key {stranger.key_id}")
    assert app.tree_size() == 1


def test_event_claiming_another_actor_is_refused_403(app: Api) -> None:
    terminal = app.enrol("atelier")
    impostor = Terminal(actor="urn:spola:actor:maison", key=terminal.key)
    response = app.post(impostor.update_self("Maison"))
    assert_problem(response, 403, "key-owner", f"belongs to {terminal.actor}")


def test_envelope_signed_by_a_revoked_key_is_refused_403(app: Api) -> None:
    terminal = app.enrol("atelier")
    app.accept([app.operator.revoke(terminal.actor, terminal.key_id)])
    revoked_at = app.tree_size()
    response = app.post(terminal.update_self("late"))
    assert_problem(response, 403, "revoked-key", f"not valid from log index {revoked_at}")


# -- feeds: 409 ------------------------------------------------------------------------------


def test_feed_gap_is_refused_409(app: Api) -> None:
    terminal = app.enrol("atelier")
    response = app.post(_at_seq(terminal, 2))
    assert_problem(response, 409, "feed", f"feed gap: key {terminal.key_id} expects seq 0, got 2")


def test_feed_fork_with_wrong_prev_is_refused_409(app: Api) -> None:
    terminal = app.enrol("atelier")
    app.accept([terminal.update_self("first")])
    terminal.prev = "00" * 32
    response = app.post(terminal.update_self("second"))
    assert_problem(response, 409, "feed", f"feed fork: key {terminal.key_id} seq 1 names prev")


def test_equivocation_is_refused_409_naming_the_logged_entry_and_kept(
    app: Api, database_url: str
) -> None:
    terminal = app.enrol("atelier")
    (logged,) = app.accept([terminal.update_self("first")])
    terminal.seq, terminal.prev = 0, None

    response = app.post(terminal.update_self("contradiction"))

    body = assert_problem(response, 409, "equivocation", "already signed a different event")
    assert (body["key_id"], body["seq"], body["logged_index"]) == (
        terminal.key_id,
        0,
        logged["index"],
    )
    assert app.tree_size() == logged["index"] + 1
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            kept = conn.execute(
                select(func.count())
                .select_from(equivocations)
                .where(equivocations.c.key_id == terminal.key_id)
            ).scalar_one()
    finally:
        engine.dispose()
    assert kept == 1


# -- batches are atomic ----------------------------------------------------------------------


def test_batch_with_one_forged_envelope_is_refused_whole_naming_its_position(app: Api) -> None:
    start = app.operator.seq, app.operator.prev
    good = app.operator.register("urn:spola:actor:a")
    bad = app.operator.register("urn:spola:actor:b")
    bad = _with_signature(bad, _flip_bit(bad.signatures[0].sig))
    after = app.operator.register("urn:spola:actor:c")

    response = app.post([good, bad, after])

    body = assert_problem(response, 403, "signature", "no signature by key")
    assert body["position"] == 1
    assert body["detail"].startswith("envelopes[1]: ")
    assert app.tree_size() == 1
    assert app.client.get("/v1/actors/urn:spola:actor:a").status_code == 404
    app.operator.seq, app.operator.prev = start
    assert app.post(good).status_code == 201  # the refused batch consumed nothing


def test_batch_with_one_malformed_envelope_is_refused_whole_naming_its_position(
    app: Api,
) -> None:
    good = app.operator.register("urn:spola:actor:a").to_json()
    broken = {**app.operator.register("urn:spola:actor:b").to_json(), "payload": "!"}
    response = app.post(json.dumps({"envelopes": [good, good, broken]}).encode())
    body = assert_problem(response, 422, "format", "envelopes[2]: payload is not base64")
    assert body["position"] == 2
    assert app.tree_size() == 1


def test_batch_with_a_feed_gap_is_refused_whole_naming_its_position(app: Api) -> None:
    terminal = app.enrol("atelier")
    size = app.tree_size()
    envelopes = [terminal.update_self("one"), _at_seq(terminal, 5)]
    body = assert_problem(app.post(envelopes), 409, "feed", "envelopes[1]: feed gap")
    assert body["position"] == 1
    assert app.tree_size() == size


def test_batch_equivocation_names_position_and_logged_index(app: Api) -> None:
    terminal = app.enrol("atelier")
    (logged,) = app.accept([terminal.update_self("one")])
    envelopes = [terminal.update_self("two"), _at_seq(terminal, 0)]
    body = assert_problem(app.post(envelopes), 409, "equivocation", "envelopes[1]: ")
    assert (body["position"], body["seq"], body["logged_index"]) == (1, 0, logged["index"])


def test_batch_with_an_envelope_over_the_signature_limit_names_its_position(app: Api) -> None:
    good = app.operator.register("urn:spola:actor:a").to_json()
    crowded = {**good, "signatures": good["signatures"] * 17}
    response = app.post(json.dumps({"envelopes": [good, crowded]}).encode())
    body = assert_problem(response, 413, "too-large", "envelopes[1]: signatures has 17")
    assert body["position"] == 1


# -- routing ---------------------------------------------------------------------------------


def test_unknown_route_is_a_404_problem(app: Api) -> None:
    response = app.client.get("/v1/nothing-here")
    assert_problem(response, 404, "not-found", "Not Found")


def test_wrong_method_is_a_405_problem(app: Api) -> None:
    response = app.client.delete("/v1/entries")
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "POST"
