"""The foundation's acceptance: a client that knows only the specs re-derives the whole log.

Everything this module checks, it checks with ``hashlib``, ``base64``, ``json``, ``nacl.signing``
and ``rfc8785`` alone — no import of spola's ``ledger`` package — following the formats of
DESIGN.md: the C2SP signed-note checkpoint and vkey, DSSE envelopes over PAE, RFC 8785 entries,
RFC 9162 leaves, roots, inclusion and consistency proofs, and the 0x02 hash chain. It even signs
one event itself. The service it talks to is populated through ``api_support`` by the operator
and terminals, the way their own software would.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.signing
import pytest
import rfc8785

from tests.integration.api_support import Api, running_api

pytestmark = pytest.mark.integration

EVENT_TYPE = "application/vnd.spola.event+json"
EM_DASH = "\u2014 "


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# -- RFC 9162 §2.1, written from the RFC ---------------------------------------------------


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes: the empty hash, the leaf, or 0x01 || left || right."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)  # largest power of two smaller than n
    return sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def inclusion_root(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root an inclusion proof leads to (ValueError if malformed)."""
    if index >= size:
        raise ValueError("index beyond tree")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = sha256(b"\x01" + p + r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = sha256(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


def consistency_roots(first: int, second: int, proof: list[bytes], first_root: bytes) -> bytes:
    """RFC 9162 §2.1.4.2: check the old root, return the new root the proof leads to."""
    if not 0 < first < second or not proof:
        raise ValueError("sizes or proof out of shape")
    if first & (first - 1) == 0:  # a power of two: the old tree is a subtree of the new one
        proof = [first_root, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            fr, sr = sha256(b"\x01" + c + fr), sha256(b"\x01" + c + sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = sha256(b"\x01" + sr + c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != first_root:
        raise ValueError("old root does not match")
    return sr


# -- C2SP signed-note, vkey and checkpoint --------------------------------------------------


@dataclass(frozen=True)
class LogKey:
    name: str
    note_key_id: bytes
    public_key: bytes


def parse_vkey(text: str) -> LogKey:
    name, hex_id, encoded = text.split("+", 2)
    raw = base64.b64decode(encoded, validate=True)
    assert len(raw) == 33 and raw[0] == 0x01  # signature type 0x01: Ed25519
    key_id = sha256(name.encode() + b"\n" + b"\x01" + raw[1:])[:4]
    assert key_id.hex() == hex_id
    return LogKey(name=name, note_key_id=key_id, public_key=raw[1:])


@dataclass(frozen=True)
class SignedCheckpoint:
    origin: str
    size: int
    root: bytes


def open_checkpoint(note: bytes, key: LogKey) -> SignedCheckpoint:
    """Verify the note's signature by ``key`` over its text; then parse the checkpoint text."""
    whole = note.decode("utf-8")
    split = whole.rfind("\n\n")
    text, signature_lines = whole[: split + 1], whole[split + 2 :].splitlines()
    verified = False
    for line in signature_lines:
        assert line.startswith(EM_DASH)
        name, encoded = line[len(EM_DASH) :].split(" ")
        raw = base64.b64decode(encoded, validate=True)
        if name == key.name and raw[:4] == key.note_key_id:
            nacl.signing.VerifyKey(key.public_key).verify(text.encode("utf-8"), raw[4:])
            verified = True
    assert verified, "no signature by the log key"
    origin, size, root, *_ = text.splitlines()
    assert origin == key.name
    return SignedCheckpoint(origin, int(size), base64.b64decode(root, validate=True))


# -- DSSE ------------------------------------------------------------------------------------


def pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def sign_event(seed: bytes, fields: dict[str, Any]) -> dict[str, Any]:
    """A DSSE envelope over the RFC 8785 payload, as a terminal's own software makes one."""
    key = nacl.signing.SigningKey(seed)
    payload = rfc8785.dumps(fields)
    signature = key.sign(pae(EVENT_TYPE, payload)).signature
    return {
        "payloadType": EVENT_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [
            {
                "keyid": hashlib.sha256(bytes(key.verify_key)).hexdigest(),
                "sig": base64.b64encode(signature).decode(),
            }
        ],
    }


# -- the log as the client sees it ----------------------------------------------------------


@dataclass
class Replay:
    log_key: LogKey
    checkpoint: SignedCheckpoint
    leaves: list[bytes]


def fetch_all_entries(app: Api, size: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while len(rows) < size:
        page = app.client.get("/v1/log/entries", params={"start": len(rows)}).json()
        assert page["entries"], "the log ended before the checkpoint's size"
        rows.extend(page["entries"])
    return rows[:size]


def signing_key_for(app: Api, key_id: str, index: int, log_key: LogKey) -> bytes:
    """The public key behind ``key_id``, valid at ``index``; the genesis key is the log key."""
    if index == 0:
        assert key_id == hashlib.sha256(log_key.public_key).hexdigest()
        return log_key.public_key
    record = app.client.get(f"/v1/keys/{key_id}").json()
    public_key = base64.b64decode(record["public_key"], validate=True)
    assert hashlib.sha256(public_key).hexdigest() == key_id
    assert record["valid_from_index"] <= index
    assert record["revoked_at_index"] is None or index < record["revoked_at_index"]
    return public_key


def replay(app: Api) -> Replay:
    log_key = parse_vkey(app.client.get("/v1/log/key").text.strip())
    checkpoint = open_checkpoint(app.client.get("/v1/log/checkpoint").content, log_key)
    chain = bytes(32)
    leaves: list[bytes] = []
    feeds: dict[str, tuple[int, str]] = {}  # key id -> (last seq, digest of its payload)
    for index, row in enumerate(fetch_all_entries(app, checkpoint.size)):
        assert row["index"] == index
        entry = base64.b64decode(row["entry"], validate=True)
        envelope = json.loads(entry)
        assert rfc8785.dumps(envelope) == entry  # the entry is the envelope in RFC 8785 form
        leaf = sha256(b"\x00" + entry)
        assert leaf.hex() == row["leaf_hash"]
        chain = sha256(b"\x02" + chain + leaf)
        assert chain.hex() == row["chain_hash"]
        leaves.append(leaf)

        (signature,) = envelope["signatures"]
        payload = base64.b64decode(envelope["payload"])
        public_key = signing_key_for(app, signature["keyid"], index, log_key)
        message = pae(envelope["payloadType"], payload)
        nacl.signing.VerifyKey(public_key).verify(message, base64.b64decode(signature["sig"]))

        event = json.loads(payload)
        assert rfc8785.dumps(event) == payload  # signed bytes are canonical, kept as signed
        last_seq, last_digest = feeds.get(signature["keyid"], (-1, None))
        assert (event["seq"], event["prev"]) == (last_seq + 1, last_digest)
        feeds[signature["keyid"]] = (event["seq"], hashlib.sha256(payload).hexdigest())
    assert mth(leaves) == checkpoint.root
    return Replay(log_key=log_key, checkpoint=checkpoint, leaves=leaves)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(database_url, tmp_path / "home") as running:
        atelier = running.enrol("atelier-brera")
        conceria = running.enrol("conceria-del-serio")
        running.accept([conceria.update_self("renamed by itself")])  # logged, not applied
        running.accept([running.operator.register(f"urn:spola:actor:w{i}") for i in range(3)])
        new_seed = nacl.signing.SigningKey.generate().encode()
        new_public = bytes(nacl.signing.SigningKey(new_seed).verify_key)
        rotation = sign_event(
            atelier.key.seed,
            {
                "v": 1,
                "type": "key",
                "actor": atelier.actor,
                "seq": 0,
                "prev": None,
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "op": "rotate",
                "subject": atelier.actor,
                "key_id": hashlib.sha256(new_public).hexdigest(),
                "public_key": base64.b64encode(new_public).decode(),
                "replaces": atelier.key_id,
            },
        )
        response = running.client.post("/v1/entries", json=rotation)
        assert response.status_code == 201, response.text
        assert response.json()["applied"] is True
        yield running


def test_independent_client_rederives_the_log_from_the_api(app: Api) -> None:
    replayed = replay(app)
    assert replayed.checkpoint.size == len(replayed.leaves) == 10


def test_independent_client_verifies_every_inclusion_proof(app: Api) -> None:
    replayed = replay(app)
    size, root = replayed.checkpoint.size, replayed.checkpoint.root
    for index, leaf in enumerate(replayed.leaves):
        body = app.client.get("/v1/log/proof/inclusion", params={"index": index}).json()
        proof = [base64.b64decode(h, validate=True) for h in body["proof"]]
        assert inclusion_root(index, size, leaf, proof) == root


def test_independent_client_verifies_consistency_from_every_older_size(app: Api) -> None:
    replayed = replay(app)
    size, root = replayed.checkpoint.size, replayed.checkpoint.root
    for first in range(1, size):
        body = app.client.get("/v1/log/proof/consistency", params={"first": first}).json()
        proof = [base64.b64decode(h, validate=True) for h in body["proof"]]
        old_root = mth(replayed.leaves[:first])
        assert consistency_roots(first, size, proof, old_root) == root


def test_independent_client_verifies_a_receipt_against_its_own_checkpoint(app: Api) -> None:
    replayed = replay(app)
    receipt = app.client.get("/v1/log/receipts/4").json()
    old = open_checkpoint(receipt["checkpoint"].encode(), replayed.log_key)
    assert old.root == mth(replayed.leaves[: old.size])
    proof = [base64.b64decode(h, validate=True) for h in receipt["inclusion_proof"]]
    assert inclusion_root(4, old.size, replayed.leaves[4], proof) == old.root
    body = app.client.get(
        "/v1/log/proof/consistency", params={"first": old.size, "second": replayed.checkpoint.size}
    ).json()
    proof = [base64.b64decode(h, validate=True) for h in body["proof"]]
    assert consistency_roots(old.size, replayed.checkpoint.size, proof, old.root) == (
        replayed.checkpoint.root
    )


def test_minimal_verifiers_refuse_a_tampered_proof_or_note(app: Api) -> None:
    replayed = replay(app)
    size, root = replayed.checkpoint.size, replayed.checkpoint.root
    body = app.client.get("/v1/log/proof/inclusion", params={"index": 5}).json()
    proof = [base64.b64decode(h) for h in body["proof"]]
    tampered = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
    assert inclusion_root(5, size, replayed.leaves[5], tampered) != root
    assert inclusion_root(4, size, replayed.leaves[5], proof) != root
    with pytest.raises(ValueError, match="proof too short"):
        inclusion_root(5, size, replayed.leaves[5], proof[:-1])

    body = app.client.get("/v1/log/proof/consistency", params={"first": 6}).json()
    proof = [base64.b64decode(h) for h in body["proof"]]
    with pytest.raises(ValueError, match="old root"):
        consistency_roots(6, size, proof, mth(replayed.leaves[:5]))

    note = app.client.get("/v1/log/checkpoint").content
    forged = note.replace(b"\n%d\n" % size, b"\n%d\n" % (size + 1), 1)
    with pytest.raises(nacl.exceptions.BadSignatureError):
        open_checkpoint(forged, replayed.log_key)
