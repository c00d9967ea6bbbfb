"""DSSE v1 envelopes: known answers from the DSSE test vectors, then the tampering they stop."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import rfc8785

from ledger.envelope import (
    EVENT_PAYLOAD_TYPE,
    Envelope,
    Signature,
    pae,
    sign_envelope,
    verify_envelope,
)
from ledger.errors import FormatError, LimitError, SignatureError
from ledger.keys import PrivateKey, PublicKey, key_id

# Source: secure-systems-lab/dsse, testvectors/vectors.json, keys "A" and "B" (RFC 8032 §7.1
# TEST 1 and TEST 2). The vectors label key A as keyid "A"; a keyid is an unauthenticated hint,
# so below it is replaced by spola's key id for A, or dropped where the vector drops it.
SEED_A = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
PUBLIC_A = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
SEED_B = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
PUBLIC_B = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")

IN_TOTO = "application/vnd.in-toto+json"
STATEMENT_B64 = "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ=="
STATEMENT_PAE = (
    "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203433207b225f"
    "74797065223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e742f7631227d"
)
STATEMENT_SIG_A = (
    "2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA=="
)
STATEMENT_SIG_B = (
    "c1+67/aT0yqEpwx8PsVY3MLHsj9D0CZ014/Fv/QlG59P+9CobUZ7xECJ/V3USG0Ob9CiE5LjReEZUzNF2l7eBw=="
)

# (vector id, payloadType, payload as in the vector, PAE hex, signature by A as in the vector)
ACCEPT_VECTORS = [
    ("single-signature", IN_TOTO, STATEMENT_B64, STATEMENT_PAE, STATEMENT_SIG_A),
    (
        "url-safe-base64",
        IN_TOTO,
        "-_-_Pj8=",
        "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203520fbffbf3e3f",
        "P-_KHICeR7tI6S_YyejJTRtrXhcQyQ2LYPaL8h90KjC9qN8HU_svOQ6TuDOT1HIrsGW886DbWNWcCmX5twLrAw==",
    ),
    (
        "non-ascii-payload-type",
        "application/vnd.ex\u00e4mple+json",
        STATEMENT_B64,
        "445353457631203239206170706c69636174696f6e2f766e642e6578c3a46d706c652b6a736f6e203433207b22"
        "5f74797065223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e742f7631227d",
        "xmSk/ug66ysT7ayhkCIjhAq42zgZXSsEWuzUaNL7w2eGAdF/NU6/fRXPtmfN+5DNSAs5/i2lUnHjbbjPsu0tAw==",
    ),
    (
        "empty-payload",
        IN_TOTO,
        "",
        "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203020",
        "gSggCAaTLTYyRH6FIDBem6meyIynsYy8RTHVzwx9tnTb7Bg/1jMWnuVgI/gffqmbsC2VX5/jHfkkDqsj7CDbDg==",
    ),
]
VECTOR_IDS = [v[0] for v in ACCEPT_VECTORS]

KEY_A = PrivateKey.from_seed(SEED_A)
KEY_B = PrivateKey.from_seed(SEED_B)


def _urlsafe_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.translate(str.maketrans("+/", "-_")))


def _envelope_json(
    payload_type: str, payload: str, sig: str, keyid: str | None
) -> dict[str, object]:
    signature: dict[str, str] = {"sig": sig}
    if keyid is not None:
        signature["keyid"] = keyid
    return {"payload": payload, "payloadType": payload_type, "signatures": [signature]}


def test_rfc8032_seed_gives_the_vector_public_key() -> None:
    assert KEY_A.public_key.raw == PUBLIC_A
    assert KEY_B.public_key.raw == PUBLIC_B


@pytest.mark.parametrize(
    ("vid", "payload_type", "payload", "pae_hex", "sig"), ACCEPT_VECTORS, ids=VECTOR_IDS
)
def test_pae_matches_vector(
    vid: str, payload_type: str, payload: str, pae_hex: str, sig: str
) -> None:
    assert pae(payload_type, _urlsafe_decode(payload)) == bytes.fromhex(pae_hex)


def test_pae_counts_utf8_bytes_not_characters() -> None:
    # 28 characters, 29 bytes: the ä is two bytes in UTF-8.
    assert pae("application/vnd.ex\u00e4mple+json", b"").startswith(b"DSSEv1 29 ")


@pytest.mark.parametrize(
    ("vid", "payload_type", "payload", "pae_hex", "sig"), ACCEPT_VECTORS, ids=VECTOR_IDS
)
def test_signing_reproduces_vector_signature(
    vid: str, payload_type: str, payload: str, pae_hex: str, sig: str
) -> None:
    envelope = sign_envelope(_urlsafe_decode(payload), KEY_A, payload_type=payload_type)
    assert envelope.signatures[0].sig == _urlsafe_decode(sig)
    assert envelope.signatures[0].keyid == key_id(PUBLIC_A)
    assert envelope.signed_message() == bytes.fromhex(pae_hex)


@pytest.mark.parametrize("with_keyid", [True, False], ids=["keyid", "no-keyid"])
@pytest.mark.parametrize(
    ("vid", "payload_type", "payload", "pae_hex", "sig"), ACCEPT_VECTORS, ids=VECTOR_IDS
)
def test_accept_vectors_verify(
    vid: str, payload_type: str, payload: str, pae_hex: str, sig: str, with_keyid: bool
) -> None:
    hint = key_id(PUBLIC_A) if with_keyid else None
    envelope = Envelope.from_json(_envelope_json(payload_type, payload, sig, hint))
    verify_envelope(envelope, PublicKey(PUBLIC_A))


def test_swapped_payload_type_is_refused() -> None:
    # Vector payload-type-swapped: A's signature covers in-toto, the envelope claims another type.
    envelope = Envelope.from_json(
        _envelope_json(
            "application/vnd.example.other+json", STATEMENT_B64, STATEMENT_SIG_A, key_id(PUBLIC_A)
        )
    )
    with pytest.raises(SignatureError, match=key_id(PUBLIC_A)):
        verify_envelope(envelope, PublicKey(PUBLIC_A))


def test_empty_payload_type_is_refused_before_verifying() -> None:
    # Vector empty-payload-type: a valid signature over an empty type, which nothing supports.
    sig = "iC3q/+3Rm0+lpAJRueDmDh15PnwCfxKmS0NAfKsbv+zgulXQC/WM9trc+j1XEqlwDIg/vf/uNfebeD6sxInrDg=="
    with pytest.raises(FormatError, match="payloadType"):
        Envelope.from_json(_envelope_json("", STATEMENT_B64, sig, None))


def test_each_of_two_keyless_signers_verifies() -> None:
    # Vector threshold-two-without-keyids: no keyid hints, so each key finds its own signature.
    obj = {
        "payload": STATEMENT_B64,
        "payloadType": IN_TOTO,
        "signatures": [{"sig": STATEMENT_SIG_A}, {"sig": STATEMENT_SIG_B}],
    }
    envelope = Envelope.from_json(obj)
    verify_envelope(envelope, PublicKey(PUBLIC_A))
    verify_envelope(envelope, PublicKey(PUBLIC_B))


def test_signature_by_another_key_does_not_verify() -> None:
    envelope = sign_envelope(b'{"v":1}', KEY_B)
    with pytest.raises(SignatureError):
        verify_envelope(envelope, PublicKey(PUBLIC_A))


def test_tampered_payload_is_refused() -> None:
    envelope = sign_envelope(b'{"lot":"L1","qty":"10"}', KEY_A)
    tampered = Envelope(envelope.payload_type, b'{"lot":"L1","qty":"90"}', envelope.signatures)
    with pytest.raises(SignatureError):
        verify_envelope(tampered, KEY_A.public_key)


def test_one_flipped_signature_bit_is_refused() -> None:
    envelope = sign_envelope(b"{}", KEY_A)
    sig = bytearray(envelope.signatures[0].sig)
    sig[10] ^= 0x01
    forged = Envelope(
        envelope.payload_type, envelope.payload, (Signature(key_id(PUBLIC_A), bytes(sig)),)
    )
    with pytest.raises(SignatureError):
        verify_envelope(forged, KEY_A.public_key)


def test_truncated_signature_is_refused_not_crashing() -> None:
    envelope = sign_envelope(b"{}", KEY_A)
    short = Envelope(
        envelope.payload_type, envelope.payload, (Signature("", envelope.signatures[0].sig[:63]),)
    )
    with pytest.raises(SignatureError):
        verify_envelope(short, KEY_A.public_key)


def test_unknown_member_is_refused() -> None:
    obj = sign_envelope(b"{}", KEY_A).to_json()
    obj["payloadEncoding"] = "base64"
    with pytest.raises(FormatError, match="payloadEncoding"):
        Envelope.from_json(obj)


def test_unknown_signature_member_is_refused() -> None:
    obj = sign_envelope(b"{}", KEY_A).to_json()
    obj["signatures"][0]["cert"] = "x"
    with pytest.raises(FormatError, match=r"signatures\[0\] has unknown member 'cert'"):
        Envelope.from_json(obj)


@pytest.mark.parametrize("signatures", ["missing", []])
def test_missing_or_empty_signatures_are_refused(signatures: object) -> None:
    obj = sign_envelope(b"{}", KEY_A).to_json()
    if signatures == "missing":
        del obj["signatures"]
    else:
        obj["signatures"] = signatures
    with pytest.raises(FormatError, match="signatures"):
        Envelope.from_json(obj)


def test_more_than_sixteen_signatures_are_refused() -> None:
    obj = sign_envelope(b"{}", KEY_A).to_json()
    obj["signatures"] = obj["signatures"] * 17
    with pytest.raises(LimitError):
        Envelope.from_json(obj)


@pytest.mark.parametrize(
    ("sig", "why"),
    [
        ("not base64!", "bad character"),
        ("QUFB=", "padding on a full quantum"),
        ("Q", "one character is no byte"),
        ("P+_K", "mixed alphabets"),
        ("QR==", "non-zero pad bits"),
        (7, "not a string"),
    ],
)
def test_bad_base64_is_refused_naming_the_member(sig: object, why: str) -> None:
    obj = _envelope_json(IN_TOTO, STATEMENT_B64, "x", None)
    obj["signatures"] = [{"sig": sig}]
    with pytest.raises(FormatError, match=r"signatures\[0\]\.sig"):
        Envelope.from_json(obj)


def test_unpadded_base64_is_accepted() -> None:
    envelope = Envelope.from_json(
        _envelope_json(IN_TOTO, STATEMENT_B64.rstrip("="), STATEMENT_SIG_A.rstrip("="), None)
    )
    verify_envelope(envelope, PublicKey(PUBLIC_A))


def test_non_object_and_wrong_types_are_refused() -> None:
    with pytest.raises(FormatError):
        Envelope.from_json([])
    with pytest.raises(FormatError, match="keyid"):
        Envelope.from_json(
            {"payload": "", "payloadType": IN_TOTO, "signatures": [{"sig": "", "keyid": 1}]}
        )


def test_to_bytes_is_canonical_jcs_and_round_trips() -> None:
    envelope = sign_envelope(b'{"type":"ship"}', KEY_A)
    data = envelope.to_bytes()
    assert data == rfc8785.dumps(json.loads(data))
    assert b" " not in data  # JCS has no insignificant whitespace
    assert data.index(b'"payload"') < data.index(b'"payloadType"') < data.index(b'"signatures"')
    assert Envelope.from_bytes(data) == envelope
    assert Envelope.from_bytes(data).to_bytes() == data


def test_from_bytes_accepts_any_layout_but_to_bytes_normalizes_it() -> None:
    data = json.dumps(
        _envelope_json(
            IN_TOTO,
            "-_-_Pj8",
            "P-_KHICeR7tI6S_YyejJTRtrXhcQyQ2LYPaL8h90KjC9qN8HU_svOQ6TuDOT1HIrsGW886DbWNWcCmX5twLrAw",
            None,
        ),
        indent=2,
    ).encode()
    envelope = Envelope.from_bytes(data)
    assert envelope.to_json()["payload"] == "+/+/Pj8="
    assert b'"keyid"' not in envelope.to_bytes()


def test_oversized_envelope_is_refused() -> None:
    with pytest.raises(LimitError):
        Envelope.from_bytes(b" " * 1025, max_bytes=1024)


def test_key_id_is_hex_sha256_of_raw_public_key() -> None:
    expected = hashlib.sha256(PUBLIC_A).hexdigest()
    assert key_id(PUBLIC_A) == expected
    assert KEY_A.public_key.key_id == expected
    assert sign_envelope(b"", KEY_A).signatures[0].keyid == expected


def test_private_key_repr_hides_the_seed() -> None:
    for text in (repr(KEY_A), str(KEY_A)):
        assert SEED_A.hex() not in text
        assert key_id(PUBLIC_A) in text
    assert KEY_A.seed == SEED_A


@pytest.mark.parametrize("seed", [b"", SEED_A[:31], SEED_A + b"\x00"])
def test_seed_of_wrong_length_is_refused(seed: bytes) -> None:
    with pytest.raises(FormatError):
        PrivateKey.from_seed(seed)


def test_public_key_base64_round_trips_and_is_strict() -> None:
    text = KEY_A.public_key.to_base64()
    assert PublicKey.from_base64(text) == KEY_A.public_key
    with pytest.raises(FormatError):
        PublicKey.from_base64(text.rstrip("="))
    with pytest.raises(FormatError):
        PublicKey.from_base64(base64.b64encode(PUBLIC_A[:31]).decode())


def test_event_payload_type_is_the_default() -> None:
    assert sign_envelope(b"{}", KEY_A).payload_type == EVENT_PAYLOAD_TYPE
