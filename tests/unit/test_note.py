"""C2SP signed notes: the spec's example, then the attacks the verification rules stop."""

from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import FormatError, LimitError, SignatureError
from ledger.keys import PrivateKey
from ledger.note import (
    NoteSignature,
    SignedNote,
    Verifier,
    add_signature,
    decode_base64,
    note_key_id,
    sign_note,
    verify_note,
    vkey,
)

# Source: the signed-note example verifier key and note, from the documentation of
# golang.org/x/mod/sumdb/note (the format C2SP signed-note specifies), used as data only.
EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
EXAMPLE_TEXT = "This is an example message.\n"
EXAMPLE_SIG_LINE = (
    "\u2014 example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM="
)
EXAMPLE_NOTE = (EXAMPLE_TEXT + "\n" + EXAMPLE_SIG_LINE + "\n").encode()

LOG_KEY = PrivateKey.from_seed(bytes(range(32)))
WITNESS_KEY = PrivateKey.from_seed(bytes(range(1, 33)))
LOG_VKEY = vkey("log.spola.example", LOG_KEY.public_key.raw)
WITNESS_VKEY = vkey("witness.example", WITNESS_KEY.public_key.raw)
TEXT = "log.spola.example\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"


def test_c2sp_example_note_verifies() -> None:
    assert verify_note(EXAMPLE_NOTE, [EXAMPLE_VKEY]) == EXAMPLE_TEXT


def test_c2sp_example_vkey_round_trips_and_key_id_is_recomputed() -> None:
    verifier = Verifier.from_vkey(EXAMPLE_VKEY)
    assert verifier.name == "example.com/foo"
    assert verifier.key_id == 0x530D903A
    assert note_key_id("example.com/foo", verifier.public_key.raw) == 0x530D903A
    assert verifier.to_vkey() == EXAMPLE_VKEY


def test_c2sp_example_note_round_trips() -> None:
    note = SignedNote.from_bytes(EXAMPLE_NOTE)
    assert note.text == EXAMPLE_TEXT
    assert note.signatures[0].key_id == 0x530D903A
    assert note.to_bytes() == EXAMPLE_NOTE


def test_modified_text_is_refused() -> None:
    forged = EXAMPLE_NOTE.replace(b"example message", b"exemplary message")
    with pytest.raises(SignatureError, match=r"example\.com/foo"):
        verify_note(forged, [EXAMPLE_VKEY])


def test_note_signed_only_by_unknown_key_is_refused() -> None:
    note = sign_note(TEXT, "log.spola.example", LOG_KEY)
    with pytest.raises(SignatureError, match="no signature by a trusted key"):
        verify_note(note, [EXAMPLE_VKEY])


def test_known_name_with_wrong_key_id_is_ignored() -> None:
    # A line that shares the trusted key's name but not its id is an unknown key: skipped, so
    # its garbage signature neither verifies nor rejects the note.
    good = sign_note(TEXT, "log.spola.example", LOG_KEY)
    wrong_id = Verifier.from_vkey(LOG_VKEY).key_id ^ 1
    impostor = NoteSignature("log.spola.example", wrong_id, b"\x00" * 64)
    parsed = SignedNote.from_bytes(good)
    note = SignedNote(parsed.text, (impostor, *parsed.signatures)).to_bytes()
    assert verify_note(note, [LOG_VKEY]) == TEXT
    only_impostor = SignedNote(parsed.text, (impostor,)).to_bytes()
    with pytest.raises(SignatureError):
        verify_note(only_impostor, [LOG_VKEY])


def test_known_key_id_under_another_name_is_ignored() -> None:
    key_id = Verifier.from_vkey(LOG_VKEY).key_id
    note = SignedNote(TEXT, (NoteSignature("other.example", key_id, b"\x00" * 64),)).to_bytes()
    with pytest.raises(SignatureError, match="no signature by a trusted key"):
        verify_note(note, [LOG_VKEY])


def test_failing_known_signature_rejects_the_whole_note() -> None:
    # The log's signature verifies, but the witness's (also trusted) does not: reject.
    note = add_signature(
        sign_note(TEXT, "log.spola.example", LOG_KEY), "witness.example", WITNESS_KEY
    )
    parsed = SignedNote.from_bytes(note)
    log_sig, witness_sig = parsed.signatures
    broken = NoteSignature(witness_sig.name, witness_sig.key_id, bytes(64))
    tampered = SignedNote(parsed.text, (log_sig, broken)).to_bytes()
    with pytest.raises(SignatureError, match=r"witness\.example"):
        verify_note(tampered, [LOG_VKEY, WITNESS_VKEY])
    assert verify_note(tampered, [LOG_VKEY]) == TEXT  # untrusted witness: ignored


def test_cosigned_note_verifies_with_either_key() -> None:
    note = add_signature(
        sign_note(TEXT, "log.spola.example", LOG_KEY), "witness.example", WITNESS_KEY
    )
    assert len(SignedNote.from_bytes(note).signatures) == 2
    assert verify_note(note, [LOG_VKEY]) == TEXT
    assert verify_note(note, [WITNESS_VKEY]) == TEXT
    assert verify_note(note, [LOG_VKEY, WITNESS_VKEY]) == TEXT


def test_cosigning_twice_replaces_the_earlier_signature() -> None:
    note = sign_note(TEXT, "log.spola.example", LOG_KEY)
    twice = add_signature(
        add_signature(note, "witness.example", WITNESS_KEY), "witness.example", WITNESS_KEY
    )
    assert len(SignedNote.from_bytes(twice).signatures) == 2


def test_example_key_does_not_verify_another_text() -> None:
    parsed = SignedNote.from_bytes(EXAMPLE_NOTE)
    moved = SignedNote("Another message.\n", parsed.signatures).to_bytes()
    with pytest.raises(SignatureError):
        verify_note(moved, [EXAMPLE_VKEY])


@pytest.mark.parametrize("control", ["\x00", "\x01", "\t", "\r", "\x1b"])
def test_control_characters_are_refused(control: str) -> None:
    note = (
        EXAMPLE_TEXT.replace("example", "ex" + control + "ample") + "\n" + EXAMPLE_SIG_LINE + "\n"
    ).encode()
    with pytest.raises(FormatError, match="control character"):
        SignedNote.from_bytes(note)
    with pytest.raises(FormatError):
        verify_note(note, [EXAMPLE_VKEY])


def test_missing_blank_line_is_refused() -> None:
    note = (EXAMPLE_TEXT + EXAMPLE_SIG_LINE + "\n").encode()
    with pytest.raises(FormatError, match="blank line"):
        SignedNote.from_bytes(note)


def test_text_with_blank_lines_is_split_at_the_last_one() -> None:
    text = "first paragraph\n\nsecond paragraph\n"
    note = sign_note(text, "log.spola.example", LOG_KEY)
    assert SignedNote.from_bytes(note).text == text
    assert verify_note(note, [LOG_VKEY]) == text


def test_signature_line_text_in_the_body_cannot_smuggle_a_signature() -> None:
    # Text that itself looks like signature lines stays text: only lines after the last blank
    # line are signatures, and they cover the whole text above.
    text = "a\n\n" + EXAMPLE_SIG_LINE + "\n"
    note = sign_note(text, "log.spola.example", LOG_KEY)
    assert verify_note(note, [LOG_VKEY]) == text
    with pytest.raises(SignatureError):
        verify_note(note, [EXAMPLE_VKEY])


@pytest.mark.parametrize(
    ("note", "why"),
    [
        (EXAMPLE_NOTE[:-1], "no final newline"),
        (EXAMPLE_TEXT.encode() + b"\n", "no signature lines"),
        (EXAMPLE_NOTE.replace("\u2014".encode(), b"-"), "hyphen instead of em dash"),
        (EXAMPLE_NOTE.replace(b"foo ", b"foo  "), "two spaces"),
        (EXAMPLE_NOTE.replace(b"example.com/foo ", b"exa+mple ", 1), "plus in name"),
        (EXAMPLE_NOTE.replace(b"QM=", b"QM"), "unpadded base64"),
        (EXAMPLE_TEXT.encode() + "\n\u2014 k AAAAAA==\n".encode(), "key id only"),
        (b"\xff\xfe text\n\n" + EXAMPLE_SIG_LINE.encode() + b"\n", "invalid UTF-8"),
    ],
)
def test_malformed_note_is_refused(note: bytes, why: str) -> None:
    with pytest.raises(FormatError):
        SignedNote.from_bytes(note)


def test_sixteen_signatures_are_accepted_seventeen_refused() -> None:
    sigs = tuple(NoteSignature(f"w{i}.example", i, b"\x01" * 64) for i in range(17))
    sixteen = SignedNote(TEXT, sigs[:16]).to_bytes()
    assert len(SignedNote.from_bytes(sixteen).signatures) == 16
    seventeen = sixteen + (sigs[16].to_line() + "\n").encode()
    with pytest.raises(LimitError):
        SignedNote.from_bytes(seventeen)


def test_unknown_signatures_are_kept_on_round_trip() -> None:
    foreign = NoteSignature("pq.example", 0xDEADBEEF, b"\x42" * 2420)  # e.g. an ML-DSA cosignature
    note = SignedNote(TEXT, (foreign,)).to_bytes()
    parsed = SignedNote.from_bytes(add_signature(note, "log.spola.example", LOG_KEY))
    assert parsed.signatures[0] == foreign
    assert verify_note(parsed.to_bytes(), [LOG_VKEY]) == TEXT


def test_oversized_note_is_refused() -> None:
    with pytest.raises(LimitError):
        SignedNote.from_bytes(EXAMPLE_NOTE, max_bytes=len(EXAMPLE_NOTE) - 1)


def test_sign_note_requires_final_newline_and_valid_name() -> None:
    with pytest.raises(FormatError):
        sign_note("no newline", "log.spola.example", LOG_KEY)
    with pytest.raises(FormatError):
        sign_note(TEXT, "has space", LOG_KEY)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("example.com/foo+530d903a", "no key"),
        ("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "wrong key id"),
        ("example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "upper hex"),
        ("example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "seven hex"),
        ("example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "other name"),
        ("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "empty name"),
        ("ex ample+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "space in name"),
        ("example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "type 0x02"),
        ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U0=", "short key"),
        ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k=", "bad padding"),
    ],
)
def test_malformed_vkey_is_refused(text: str, why: str) -> None:
    with pytest.raises(FormatError):
        Verifier.from_vkey(text)
    with pytest.raises(FormatError):
        verify_note(EXAMPLE_NOTE, [text])


def test_vkey_base64_may_contain_plus() -> None:
    # The name cannot hold "+", the base64 key can: the vkey splits at the first two only.
    for seed in range(64):
        key = PrivateKey.from_seed(bytes([seed]) * 32)
        text = vkey("k.example", key.public_key.raw)
        if "+" in text.split("+", 2)[2]:
            assert Verifier.from_vkey(text).public_key == key.public_key
            return
    pytest.fail("no key with '+' in its base64 among the seeds tried")


def test_signature_bytes_are_base64_of_key_id_and_signature() -> None:
    line = (
        SignedNote.from_bytes(sign_note(TEXT, "log.spola.example", LOG_KEY)).signatures[0].to_line()
    )
    raw = base64.b64decode(line.split(" ")[2])
    assert int.from_bytes(raw[:4], "big") == Verifier.from_vkey(LOG_VKEY).key_id
    LOG_KEY.public_key.verify(TEXT.encode(), raw[4:])


def _reference_decode(text: str) -> tuple[str, bytes]:
    """Strict base64 by definition: the alphabet, then the text ``b64encode`` gives back."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return "not base64", b""
    if base64.b64encode(raw).decode("ascii") != text:
        return "not canonical padded base64", b""
    return "", raw


def _decoded(text: str) -> tuple[str, bytes]:
    try:
        return "", decode_base64(text, "x")
    except FormatError as exc:
        return str(exc).removeprefix("x is "), b""


# Texts near base64: its digits (those that carry pad bits among them), padding, and intruders.
_near_base64 = st.text(st.sampled_from("AQgwBRhx+/09=\n -_\u00e9"), max_size=12)


@given(st.binary(max_size=40))
def test_every_encoding_decodes_back(raw: bytes) -> None:
    assert decode_base64(base64.b64encode(raw).decode("ascii"), "x") == raw


@given(_near_base64)
def test_strict_base64_refuses_what_its_definition_refuses(text: str) -> None:
    assert _decoded(text) == _reference_decode(text)


@given(st.binary(min_size=1, max_size=40), st.integers(0, 63))
def test_a_set_pad_bit_is_not_canonical(raw: bytes, bits: int) -> None:
    text = base64.b64encode(raw).decode("ascii")
    if not text.endswith("="):
        return
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    body = text.rstrip("=")
    last = digits[digits.index(body[-1]) | (bits & (0b1111 if text.endswith("==") else 0b11))]
    changed = body[:-1] + last + text[len(body) :]
    assert _decoded(changed) == _reference_decode(changed)
    if changed != text:
        assert _decoded(changed)[0] == "not canonical padded base64"
