"""Checkpoints and tlog-proofs: strict text, operator signatures, and origin binding."""

from __future__ import annotations

import base64

import pytest

from ledger.checkpoint import (
    Checkpoint,
    TlogProof,
    sign_checkpoint,
    verify_checkpoint,
)
from ledger.errors import CheckpointError, FormatError, LimitError
from ledger.hashing import sha256
from ledger.keys import PrivateKey
from ledger.note import SignedNote, add_signature, sign_note, vkey

# Source: the example checkpoint text of C2SP/C2SP tlog-checkpoint.md.
SPEC_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

ORIGIN = "ledger.spola.example/log"
OPERATOR = PrivateKey.from_seed(b"\x11" * 32)
OTHER_OPERATOR = PrivateKey.from_seed(b"\x22" * 32)
WITNESS = PrivateKey.from_seed(b"\x33" * 32)
OPERATOR_VKEY = vkey(ORIGIN, OPERATOR.public_key.raw)
ROOT = sha256(b"root")
CHECKPOINT = Checkpoint(origin=ORIGIN, size=42, root_hash=ROOT)


def test_spec_example_text_round_trips() -> None:
    cp = Checkpoint.from_text(SPEC_TEXT)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert cp.to_text() == SPEC_TEXT


def test_extension_lines_round_trip() -> None:
    cp = Checkpoint(origin=ORIGIN, size=0, root_hash=ROOT, extensions=("ext one", "ext two"))
    assert cp.to_text().endswith("\next one\next two\n")
    assert Checkpoint.from_text(cp.to_text()) == cp


def test_empty_tree_size_is_zero() -> None:
    text = f"{ORIGIN}\n0\n{base64.b64encode(ROOT).decode()}\n"
    assert Checkpoint.from_text(text).size == 0


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (SPEC_TEXT.replace("\n20852163\n", "\n020852163\n"), "leading zero"),
        (SPEC_TEXT.replace("\n20852163\n", "\n00\n"), "zero with leading zero"),
        (SPEC_TEXT.replace("\n20852163\n", "\n+20852163\n"), "sign"),
        (SPEC_TEXT.replace("\n20852163\n", "\n2085 2163\n"), "space in size"),
        (SPEC_TEXT.replace("\n20852163\n", "\n\u0662\u0660\n"), "non-ASCII digits"),
        (SPEC_TEXT.replace("\n20852163\n", "\n18446744073709551616\n"), "above uint64"),
        (SPEC_TEXT.replace("CsUY", "Cs!Y"), "bad base64"),
        (SPEC_TEXT.replace("q2I=", "q2I"), "unpadded base64"),
        (SPEC_TEXT.replace("q2I=", "q2J="), "non-zero pad bits"),
        (
            SPEC_TEXT.replace(
                "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
                "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx",
            ),
            "short root",
        ),
        (SPEC_TEXT.replace("example.com/behind-the-sofa", ""), "empty origin"),
        (SPEC_TEXT[:-1], "no final newline"),
        ("example.com/log\n1\n", "no root line"),
        (SPEC_TEXT + "\n", "empty extension line"),
        (SPEC_TEXT + "ext\x00\n", "control character"),
    ],
)
def test_malformed_checkpoint_text_is_refused(text: str, why: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.from_text(text)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origin": "", "size": 1, "root_hash": ROOT},
        {"origin": "a\nb", "size": 1, "root_hash": ROOT},
        {"origin": ORIGIN, "size": -1, "root_hash": ROOT},
        {"origin": ORIGIN, "size": 2**64, "root_hash": ROOT},
        {"origin": ORIGIN, "size": True, "root_hash": ROOT},
        {"origin": ORIGIN, "size": 1, "root_hash": ROOT[:31]},
        {"origin": ORIGIN, "size": 1, "root_hash": ROOT, "extensions": ("",)},
    ],
)
def test_invalid_checkpoint_cannot_be_built(kwargs: dict[str, object]) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(**kwargs)  # type: ignore[arg-type]


def test_signed_checkpoint_verifies_against_operator_vkey() -> None:
    note = sign_checkpoint(CHECKPOINT, OPERATOR)
    assert note.startswith((CHECKPOINT.to_text() + "\n\u2014 ").encode())
    assert verify_checkpoint(note, OPERATOR_VKEY) == CHECKPOINT


def test_witness_cosignature_does_not_disturb_verification() -> None:
    note = add_signature(sign_checkpoint(CHECKPOINT, OPERATOR), "witness.example", WITNESS)
    assert verify_checkpoint(note, OPERATOR_VKEY) == CHECKPOINT


def test_checkpoint_signed_by_another_key_is_refused() -> None:
    note = sign_checkpoint(CHECKPOINT, OTHER_OPERATOR)
    with pytest.raises(CheckpointError, match="not signed by") as info:
        verify_checkpoint(note, OPERATOR_VKEY)
    assert info.value.__cause__ is not None


def test_tampered_size_is_refused() -> None:
    note = sign_checkpoint(CHECKPOINT, OPERATOR)
    forged = note.replace(b"\n42\n", b"\n43\n", 1)
    with pytest.raises(CheckpointError, match="not signed by"):
        verify_checkpoint(forged, OPERATOR_VKEY)


def test_checkpoint_for_another_origin_is_refused() -> None:
    # The operator key signs a checkpoint of another log under its own key name: the signature
    # verifies, but the origin is not the one the key speaks for.
    other_log = Checkpoint(origin="other.example/log", size=42, root_hash=ROOT)
    note = sign_checkpoint(other_log, OPERATOR, name=ORIGIN)
    with pytest.raises(CheckpointError, match="origin"):
        verify_checkpoint(note, OPERATOR_VKEY)
    assert verify_checkpoint(note, OPERATOR_VKEY, origin="other.example/log") == other_log


def test_explicit_origin_must_match() -> None:
    note = sign_checkpoint(CHECKPOINT, OPERATOR)
    with pytest.raises(CheckpointError, match=r"expected 'ledger\.spola\.example/other'"):
        verify_checkpoint(note, OPERATOR_VKEY, origin="ledger.spola.example/other")


def test_malformed_note_and_vkey_become_checkpoint_errors() -> None:
    with pytest.raises(CheckpointError, match="malformed") as info:
        verify_checkpoint(b"not a note", OPERATOR_VKEY)
    assert isinstance(info.value.__cause__, FormatError)
    with pytest.raises(CheckpointError, match="vkey"):
        verify_checkpoint(sign_checkpoint(CHECKPOINT, OPERATOR), "garbage")


def test_signed_note_that_is_not_a_checkpoint_is_refused() -> None:
    note = sign_note(f"{ORIGIN}\nnot a size\n", ORIGIN, OPERATOR)
    with pytest.raises(CheckpointError, match="size"):
        verify_checkpoint(note, OPERATOR_VKEY)


def test_origin_that_is_no_key_name_cannot_be_signed_by_default() -> None:
    cp = Checkpoint(origin="has space", size=1, root_hash=ROOT)
    with pytest.raises(CheckpointError, match="cannot sign"):
        sign_checkpoint(cp, OPERATOR)
    assert sign_checkpoint(cp, OPERATOR, name="log.example")  # an explicit key name works


def _proof(extra: bytes | None = None) -> TlogProof:
    return TlogProof(
        index=7,
        proof=(sha256(b"a"), sha256(b"b"), sha256(b"c")),
        checkpoint=sign_checkpoint(CHECKPOINT, OPERATOR),
        extra=extra,
    )


@pytest.mark.parametrize("extra", [None, b"", b"\x00vrf proof\xff"])
def test_tlog_proof_round_trips(extra: bytes | None) -> None:
    proof = _proof(extra)
    text = proof.to_text()
    assert TlogProof.from_text(text) == proof
    assert TlogProof.from_text(text).to_text() == text


def test_tlog_proof_text_layout_follows_the_spec() -> None:
    text = _proof(b"x").to_text()
    lines = text.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1] == "extra eA=="
    assert lines[2] == "index 7"
    assert lines[3] == base64.b64encode(sha256(b"a")).decode()
    assert lines[6] == ""
    assert text.endswith(sign_checkpoint(CHECKPOINT, OPERATOR).decode())


def test_tlog_proof_checkpoint_still_verifies() -> None:
    parsed = TlogProof.from_text(_proof().to_text())
    assert verify_checkpoint(parsed.checkpoint, OPERATOR_VKEY) == CHECKPOINT


def test_tlog_proof_with_no_hashes_round_trips() -> None:
    proof = TlogProof(index=0, proof=(), checkpoint=sign_checkpoint(CHECKPOINT, OPERATOR))
    assert "index 0\n\n" in proof.to_text()
    assert TlogProof.from_text(proof.to_text()) == proof


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda t: t.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"), "wrong header"),
        (lambda t: t.replace("index 7", "index 07"), "leading zero"),
        (lambda t: t.replace("index 7", "index -7"), "negative index"),
        (lambda t: t.replace("index 7\n", ""), "no index"),
        (lambda t: t.replace("index 7", "idx 7"), "misspelt index"),
        (lambda t: t.replace("\n\n", "\n", 1), "no blank line before checkpoint"),
        (lambda t: t.replace("index 7\n", "index 7\nAAAA\n"), "short hash"),
        (lambda t: t.replace("index 7\n", "index 7\nnot base64!\n"), "bad hash"),
        (lambda t: t.replace("\u2014", "-"), "checkpoint note malformed"),
        (
            lambda t: t.replace(f"\n{ORIGIN}\n42\n", f"\n{ORIGIN}\n042\n"),
            "checkpoint text malformed",
        ),
    ],
)
def test_malformed_tlog_proof_is_refused(mutate: object, why: str) -> None:
    text = _proof().to_text()
    mutated = mutate(text)  # type: ignore[operator]
    assert mutated != text
    with pytest.raises(FormatError):
        TlogProof.from_text(mutated)


def test_tlog_proof_with_too_many_hashes_is_refused() -> None:
    hashes = "".join(base64.b64encode(sha256(bytes([i]))).decode() + "\n" for i in range(65))
    text = _proof().to_text().replace("index 7\n", "index 7\n" + hashes)
    with pytest.raises(LimitError):
        TlogProof.from_text(text)


def test_tlog_proof_checkpoint_signature_is_not_checked_by_parsing() -> None:
    # from_text checks structure only; the forged checkpoint fails where it must: verification.
    forged = _proof().to_text().replace("\n42\n", "\n43\n")
    parsed = TlogProof.from_text(forged)
    with pytest.raises(CheckpointError):
        verify_checkpoint(parsed.checkpoint, OPERATOR_VKEY)
    assert SignedNote.from_bytes(parsed.checkpoint).text.splitlines()[1] == "43"
