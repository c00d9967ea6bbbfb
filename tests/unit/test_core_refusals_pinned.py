"""Refusals of the core parsers, pinned to their error class and message.

Each test feeds malformed input the way a terminal, an auditor's script or the network does: a
receipt or an envelope as JSON, a checkpoint or tlog-proof as text, proof arguments as numbers.
Several of these checks have a second check behind them that would still refuse the input, only
with another class or message; others stand alone, and without them the input is accepted.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from ledger.canonical import LONE_SURROGATE, canonical_bytes, parse_json
from ledger.checkpoint import (
    MAX_PROOF_HASHES,
    MAX_TLOG_PROOF_CHARS,
    Checkpoint,
    TlogProof,
    sign_checkpoint,
    verify_checkpoint,
)
from ledger.envelope import DEFAULT_MAX_BYTES, MAX_SIGNATURES, Envelope, sign_envelope
from ledger.errors import (
    CheckpointError,
    FormatError,
    LedgerError,
    LimitError,
    ProofShapeError,
)
from ledger.hashing import leaf_hash, sha256
from ledger.keys import PrivateKey
from ledger.merkle import consistency_proof, inclusion_proof, root_hash
from ledger.note import sign_note, vkey
from ledger.proofs import verify_consistency, verify_inclusion
from ledger.receipt import Receipt
from ledger.verdicts import VERDICTS_HEADER, VerdictStatement, verify_verdicts

ORIGIN = "ledger.spola.example/log"
OPERATOR = PrivateKey.from_seed(b"\x11" * 32)
OPERATOR_VKEY = vkey(ORIGIN, OPERATOR.public_key.raw)
SIGNER = PrivateKey.from_seed(b"\x44" * 32)
ROOT = sha256(b"root")
ROOT_TEXT = base64.b64encode(ROOT).decode()
CHECKPOINT_TEXT = f"{ORIGIN}\n42\n{ROOT_TEXT}\n"

ENTRIES = [b"entry %d" % i for i in range(8)]
LEAVES = [leaf_hash(e) for e in ENTRIES]
TREE_ROOT = root_hash(LEAVES)
TREE_NOTE = sign_checkpoint(Checkpoint(ORIGIN, len(LEAVES), TREE_ROOT), OPERATOR)


def _refused(error: type[LedgerError], message: str, call: Callable[[], object]) -> None:
    """``call`` raises exactly ``error`` (not a subclass, not a foreign type) naming ``message``."""
    with pytest.raises(Exception) as info:  # the class is checked exactly below
        call()
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    assert re.search(message, str(info.value)), str(info.value)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _receipt_json(index: object, position: int = 5, **fields: object) -> dict[str, object]:
    """A receipt as a terminal gets it from the ledger: JSON, here with a chosen index."""
    return {
        "index": index,
        "leaf_hash": LEAVES[position].hex(),
        "checkpoint": TREE_NOTE.decode(),
        "inclusion_proof": [_b64(h) for h in inclusion_proof(LEAVES, position)],
        "applied": True,
        "violation": None,
    } | fields


def _receipt(index: int, position: int = 5, proof: list[bytes] | None = None) -> Receipt:
    """A receipt with a chosen index, made directly (its JSON reader refuses an index out of
    range first): what the checks behind the reader must hold against on their own."""
    hashes = inclusion_proof(LEAVES, position) if proof is None else proof
    return Receipt(
        index=index,
        leaf_hash=LEAVES[position],
        checkpoint=TREE_NOTE,
        inclusion_proof=tuple(hashes),
        applied=True,
        violation=None,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("index", -7), ("index", "5"), ("index", 5.9), ("index", True), ("applied", "false"),
     ("applied", 0), ("duplicate", "no")],
)  # fmt: skip
def test_a_receipt_whose_numbers_or_flags_are_not_json_s_own_is_refused(
    field: str, value: object
) -> None:
    # int() and bool() would read "5" as 5, 5.9 as 5, true as 1, and "false" as true.
    assert Receipt.from_json(_receipt_json(5)).index == 5
    _refused(
        FormatError,
        rf"^malformed receipt: {field} must be ",
        lambda: Receipt.from_json(_receipt_json(5) | {field: value}),
    )


# ledger/proofs.py


def test_receipt_with_a_negative_index_is_refused_though_its_path_fits() -> None:
    # Leaf 5 of 8 (0b101) and index -7 (...11001) share their low bits and path length, so the
    # real inclusion proof of entry 5 rebuilds the signed root: only the sign check refuses it.
    assert _receipt(5).verify(ENTRIES[5], OPERATOR_VKEY).size == len(LEAVES)
    forged = _receipt(-7)
    _refused(
        ProofShapeError,
        r"^negative leaf index -7 or tree size 8$",
        lambda: forged.verify(ENTRIES[5], OPERATOR_VKEY),
    )


def test_inclusion_with_a_negative_index_and_size_is_refused() -> None:
    _refused(
        ProofShapeError,
        r"^negative leaf index -2 or tree size -1$",
        lambda: verify_inclusion(LEAVES[0], -2, -1, [], TREE_ROOT),
    )


@pytest.mark.parametrize(("size1", "size2"), [(-1, -1), (-8, -8), (-1, 8)])
def test_consistency_between_negative_sizes_is_refused(size1: int, size2: int) -> None:
    # Equal negative sizes with an empty proof and equal roots would otherwise pass.
    _refused(
        ProofShapeError,
        rf"^negative tree size {size1} or {size2}$",
        lambda: verify_consistency(size1, size2, [], TREE_ROOT, TREE_ROOT),
    )


def test_consistency_proof_is_still_checked_for_real_sizes() -> None:
    old = root_hash(LEAVES[:3])
    verify_consistency(3, 8, consistency_proof(LEAVES, 3), old, TREE_ROOT)


# ledger/checkpoint.py: Checkpoint


def test_checkpoint_with_an_empty_origin_cannot_be_built() -> None:
    _refused(
        CheckpointError,
        r"^checkpoint origin must be non-empty$",
        lambda: Checkpoint(origin="", size=1, root_hash=ROOT),
    )


def test_checkpoint_extensions_given_as_one_string_are_refused() -> None:
    # A string is iterable: taken as it is, "ext" would sign three extension lines e, x and t.
    _refused(
        CheckpointError,
        r"^checkpoint extensions must be a tuple of lines$",
        lambda: Checkpoint(origin=ORIGIN, size=1, root_hash=ROOT, extensions="ext"),  # type: ignore[arg-type]
    )


def test_checkpoint_text_without_final_newline_is_refused_not_truncated() -> None:
    # Without the check the last character is cut: the extension line "ext" would read "ex".
    _refused(
        CheckpointError,
        r"^checkpoint text must end with a newline$",
        lambda: Checkpoint.from_text(CHECKPOINT_TEXT + "ext"),
    )


@pytest.mark.parametrize(
    "text",
    [
        CHECKPOINT_TEXT + "ext\r\n",  # a CRLF line ending
        CHECKPOINT_TEXT.replace(ORIGIN, ORIGIN + "\t"),
        CHECKPOINT_TEXT + "\x00\n",
    ],
)
def test_checkpoint_text_with_a_control_character_is_refused(text: str) -> None:
    _refused(
        CheckpointError,
        r"^checkpoint text contains a control character$",
        lambda: Checkpoint.from_text(text),
    )


@pytest.mark.parametrize(
    "text",
    [CHECKPOINT_TEXT + "\n", "\n" + CHECKPOINT_TEXT, CHECKPOINT_TEXT + "\next\n"],
)
def test_checkpoint_text_with_an_empty_line_is_refused(text: str) -> None:
    _refused(
        CheckpointError,
        r"^checkpoint text contains an empty line$",
        lambda: Checkpoint.from_text(text),
    )


def test_checkpoint_root_hash_of_the_wrong_length_is_refused() -> None:
    short = _b64(ROOT[:30])
    _refused(
        CheckpointError,
        r"^checkpoint root hash is 30 bytes, not 32$",
        lambda: Checkpoint.from_text(CHECKPOINT_TEXT.replace(ROOT_TEXT, short)),
    )


@pytest.mark.parametrize(
    "bad_vkey",
    [
        "garbage",
        OPERATOR_VKEY.replace("+", "+0", 1),
        OPERATOR_VKEY[:-4],
    ],
)
def test_malformed_operator_vkey_is_named_not_blamed_on_the_note(bad_vkey: str) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT), OPERATOR)
    _refused(
        CheckpointError,
        r"^operator vkey is malformed: ",
        lambda: verify_checkpoint(note, bad_vkey),
    )


# ledger/checkpoint.py: TlogProof


def _tlog_proof_text(extra: bytes | None = None) -> str:
    return TlogProof(
        index=5, proof=tuple(inclusion_proof(LEAVES, 5)), checkpoint=TREE_NOTE, extra=extra
    ).to_text()


@pytest.mark.parametrize("index", [-1, 2**64])
def test_receipt_index_outside_uint64_gives_no_tlog_proof(index: int) -> None:
    receipt = _receipt(index)
    _refused(FormatError, r"^tlog-proof index must be a uint64$", receipt.tlog_proof)
    _refused(FormatError, r"^tlog-proof index must be a uint64$", receipt.to_json)


def test_receipt_with_too_many_proof_hashes_gives_no_tlog_proof() -> None:
    receipt = _receipt(5, proof=[sha256(bytes([i])) for i in range(MAX_PROOF_HASHES + 1)])
    _refused(
        LimitError,
        rf"^tlog-proof has more than {MAX_PROOF_HASHES} proof hashes$",
        receipt.tlog_proof,
    )


def test_tlog_proof_over_the_size_limit_is_refused() -> None:
    # The extra line is the only part with no bound of its own.
    extra = b"\x00" * (MAX_TLOG_PROOF_CHARS * 3 // 4)
    text = _tlog_proof_text(extra)
    assert len(text) > MAX_TLOG_PROOF_CHARS
    _refused(
        LimitError,
        rf"^tlog-proof is over the limit of {MAX_TLOG_PROOF_CHARS} characters$",
        lambda: TlogProof.from_text(text),
    )
    small = _tlog_proof_text(b"\x00" * 1024)
    assert TlogProof.from_text(small).extra == b"\x00" * 1024


@pytest.mark.parametrize(
    "text",
    [
        "c2sp.org/tlog-proof@v1\nindex 5\n",  # cut off before the checkpoint
        "c2sp.org/tlog-proof@v1\nindex 5\n" + _b64(LEAVES[4]) + "\n",
        "",
    ],
)
def test_tlog_proof_without_a_blank_line_is_refused(text: str) -> None:
    _refused(
        FormatError,
        r"^tlog-proof has no blank line before its checkpoint$",
        lambda: TlogProof.from_text(text),
    )


@pytest.mark.parametrize(
    "head",
    [
        "c2sp.org/tlog-proof@v1\n",
        "c2sp.org/tlog-proof@v1\nextra eA==\n",
        "c2sp.org/tlog-proof@v1\nindx 5\n",
    ],
)
def test_tlog_proof_without_an_index_line_is_refused(head: str) -> None:
    text = head + "\n" + TREE_NOTE.decode()
    _refused(FormatError, r"^tlog-proof has no 'index' line$", lambda: TlogProof.from_text(text))


def test_tlog_proof_hash_count_is_limited_before_the_hashes_are_read() -> None:
    lines = "".join("not base64!\n" for _ in range(MAX_PROOF_HASHES + 1))
    text = "c2sp.org/tlog-proof@v1\nindex 5\n" + lines + "\n" + TREE_NOTE.decode()
    _refused(
        LimitError,
        rf"^tlog-proof has more than {MAX_PROOF_HASHES} proof hashes$",
        lambda: TlogProof.from_text(text),
    )


# ledger/envelope.py


def _envelope_json(**members: Any) -> bytes:
    obj: dict[str, Any] = {
        "payload": _b64(b'{"type":"test"}'),
        "payloadType": "application/vnd.spola.event+json",
        "signatures": [{"keyid": "k", "sig": _b64(b"\x00" * 64)}],
    }
    obj.update(members)
    return json.dumps(obj).encode()


def test_envelope_json_layout_is_accepted() -> None:
    envelope = Envelope.from_bytes(_envelope_json())
    assert envelope.signatures[0].keyid == "k"


@pytest.mark.parametrize("item", [5, None, "sig", [], True])
def test_signature_that_is_no_json_object_is_refused(item: object) -> None:
    data = _envelope_json(signatures=[{"sig": ""}, item])
    _refused(
        FormatError,
        r"^signatures\[1\] must be a JSON object$",
        lambda: Envelope.from_bytes(data),
    )


@pytest.mark.parametrize("item", [{}, {"keyid": "k"}])
def test_signature_without_sig_is_refused(item: dict[str, str]) -> None:
    data = _envelope_json(signatures=[item])
    _refused(FormatError, r"^signatures\[0\]\.sig is missing$", lambda: Envelope.from_bytes(data))


@pytest.mark.parametrize("keyid", [5, None, ["k"], {"k": "k"}])
def test_signature_keyid_that_is_no_string_is_refused(keyid: object) -> None:
    data = _envelope_json(signatures=[{"sig": "", "keyid": keyid}])
    _refused(
        FormatError,
        r"^signatures\[0\]\.keyid must be a string$",
        lambda: Envelope.from_bytes(data),
    )


@pytest.mark.parametrize("signatures", [5, True, "sig", {"sig": ""}, None])
def test_signatures_that_are_no_list_are_refused(signatures: object) -> None:
    data = _envelope_json(signatures=signatures)
    _refused(FormatError, r"^signatures must be a list$", lambda: Envelope.from_bytes(data))


def test_signature_count_is_limited_before_the_signatures_are_read() -> None:
    data = _envelope_json(signatures=[{}] * (MAX_SIGNATURES + 1))
    _refused(
        LimitError,
        rf"^signatures has {MAX_SIGNATURES + 1} entries, over the limit of {MAX_SIGNATURES}$",
        lambda: Envelope.from_bytes(data),
    )


def test_canonical_envelope_over_the_size_limit_is_refused() -> None:
    # The bytes an honest signer writes take the fast canonical reader, which has no bound.
    data = sign_envelope(b"x" * DEFAULT_MAX_BYTES, SIGNER).to_bytes()
    assert Envelope.from_bytes(data, max_bytes=len(data)).payload == b"x" * DEFAULT_MAX_BYTES
    message = rf"^envelope is {len(data)} bytes, over the limit of {DEFAULT_MAX_BYTES}$"
    _refused(LimitError, message, lambda: Envelope.from_bytes(data))
    _refused(LimitError, message, lambda: Envelope.from_entry(data))
    small = rf"^envelope is {len(data)} bytes, over the limit of 1000$"
    _refused(LimitError, small, lambda: Envelope.from_bytes(data, max_bytes=1000))


# Lone surrogates: a JSON "\ud800" escape decodes to a str that has no UTF-8 form, so it can
# be neither note text nor a signed line.


@pytest.mark.parametrize("where", ["origin", "extension"])
def test_checkpoint_text_with_a_lone_surrogate_is_refused(where: str) -> None:
    text = (
        CHECKPOINT_TEXT.replace(ORIGIN, ORIGIN + "\ud800")
        if where == "origin"
        else CHECKPOINT_TEXT + "ext \udcff\n"
    )
    _refused(
        CheckpointError,
        rf"^checkpoint {where}( line)? must be one non-empty line of text$",
        lambda: Checkpoint.from_text(text),
    )


@pytest.mark.parametrize(
    "checkpoint",
    ["\ud800", TREE_NOTE.decode().replace(ORIGIN, ORIGIN + "\udcff", 1)],
)
def test_tlog_proof_with_a_lone_surrogate_in_its_checkpoint_is_refused(checkpoint: str) -> None:
    text = "c2sp.org/tlog-proof@v1\nindex 5\n\n" + checkpoint
    _refused(
        FormatError,
        r"^tlog-proof checkpoint is not valid Unicode text$",
        lambda: TlogProof.from_text(text),
    )


# ledger/canonical.py


@pytest.mark.parametrize(
    "value",
    [{"\ud800": 1}, {"a": "\udcff"}, ["x", "\ud800"]],
    ids=["member name", "string value", "array item"],
)
@pytest.mark.parametrize("floats", [True, False])
def test_a_value_with_a_lone_surrogate_has_no_canonical_bytes(value: object, floats: bool) -> None:
    _refused(
        FormatError,
        rf"^cannot canonicalize JSON: {re.escape(LONE_SURROGATE)}$",
        lambda: canonical_bytes(value, floats=floats),
    )


@pytest.mark.parametrize("data", [rb'{"a":"\ud800"}', rb'["\uDFFF"]', rb'{"\udbff":1}'])
def test_json_with_a_lone_surrogate_escape_is_refused(data: bytes) -> None:
    assert parse_json(rb'["\ud83d\ude00"]') == ["\U0001f600"]  # an escaped pair is one character
    _refused(FormatError, rf"^JSON has a {re.escape(LONE_SURROGATE)}$", lambda: parse_json(data))


@pytest.mark.parametrize("member", ["payloadType", "keyid"])
def test_envelope_with_a_lone_surrogate_is_refused(member: str) -> None:
    # The envelope would parse, and fail later where its type or key id is encoded as UTF-8.
    if member == "payloadType":
        data = _envelope_json(payloadType="\ud800")
    else:
        data = _envelope_json(signatures=[{"keyid": "\ud800", "sig": ""}])
    assert b"\\ud800" in data
    _refused(
        FormatError,
        rf"^envelope has a {re.escape(LONE_SURROGATE)}$",
        lambda: Envelope.from_bytes(data),
    )


# ledger/verdicts.py

STATEMENT = VerdictStatement(ORIGIN, 8, TREE_ROOT, "passport", "/01/08000000001016", ROOT)


def test_verdict_statement_round_trips() -> None:
    note = sign_note(STATEMENT.to_text(), ORIGIN, OPERATOR)
    assert verify_verdicts(note, OPERATOR_VKEY, origin=ORIGIN) == STATEMENT


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace(VERDICTS_HEADER, "spola verdicts v1"),  # another version's text
        lambda t: t + "one more line\n",
        lambda t: t.replace("\npassport\n", "\n"),
    ],
    ids=["old header", "extra line", "missing line"],
)
def test_signed_verdict_statement_of_another_shape_is_refused(edit: Callable[[str], str]) -> None:
    # The log key signed it, so only the shape check stands between it and being believed.
    text = edit(STATEMENT.to_text())
    assert text != STATEMENT.to_text()
    note = sign_note(text, ORIGIN, OPERATOR)
    _refused(
        CheckpointError,
        r"^verdict statement is malformed: a verdict statement is seven lines, the first "
        + re.escape(repr(VERDICTS_HEADER))
        + "$",
        lambda: verify_verdicts(note, OPERATOR_VKEY, origin=ORIGIN),
    )
