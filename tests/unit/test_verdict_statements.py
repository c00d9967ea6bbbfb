"""The log key's statement of a partial bundle's verdicts, and the header records around it."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace

import pytest

from ledger.bundle import SCOPE_ACTOR, SCOPE_ITEM, Manifest, parse_record
from ledger.checkpoint import verify_checkpoint
from ledger.errors import CheckpointError, FormatError
from ledger.hashing import HASH_SIZE
from ledger.keys import PrivateKey
from ledger.receipt import Violation
from ledger.verdicts import VerdictDigest, VerdictStatement, sign_verdicts, verify_verdicts
from tests.vectors.bundles.sealing import (
    DATA,
    LOG_VKEY,
    OPERATOR,
    ORIGIN,
    Bundle,
    partial,
    read_bundle,
    seal,
    sign_bundle_verdicts,
    with_since,
)
from tests.vectors.bundles.story import LOT_C, MAISON, passport_story
from verifier import Report, verify_bundle

SCARF = "/01/08000000001016/21/ORCIXS3356CPAJNMKYAQ"
STATEMENT = VerdictStatement(ORIGIN, 20, bytes(range(32)), "passport", SCARF, bytes(HASH_SIZE))
DIGEST = "A" * 43 + "="


def _verify(bundle: Bundle) -> Report:
    return verify_bundle(io.BytesIO(bundle.to_bytes()), LOG_VKEY)


def _found(report: Report) -> set[tuple[int, str]]:
    return {(f.step, f.rule) for f in report.findings}


def test_a_statement_round_trips_and_is_bound_to_its_log() -> None:
    note = sign_verdicts(STATEMENT, OPERATOR)
    assert verify_verdicts(note, LOG_VKEY, origin=ORIGIN) == STATEMENT
    with pytest.raises(CheckpointError, match="expected"):
        verify_verdicts(note, LOG_VKEY, origin="elsewhere.example/log")
    impostor = sign_verdicts(STATEMENT, PrivateKey.from_seed(bytes(32)))
    with pytest.raises(CheckpointError, match="not signed by the log key"):
        verify_verdicts(impostor, LOG_VKEY, origin=ORIGIN)


def test_a_statement_never_passes_for_a_checkpoint_nor_the_reverse() -> None:
    with pytest.raises(CheckpointError):
        verify_checkpoint(sign_verdicts(STATEMENT, OPERATOR), LOG_VKEY, origin=ORIGIN)
    head = read_bundle(DATA / "valid.bundle").head
    with pytest.raises(CheckpointError, match="malformed"):
        verify_verdicts(head, LOG_VKEY, origin=ORIGIN)


@pytest.mark.parametrize(
    "text",
    [
        f"spola verdicts v1\nvectors.spola.local/ledger\n1\n{DIGEST}\n{DIGEST}\n",
        f"spola verdicts v2\nvectors.spola.local/ledger\n01\n{DIGEST}\nitem\n\"x\"\n{DIGEST}\n",
        f"spola verdicts v2\nvectors.spola.local/ledger\n1\n{DIGEST}\nitem\n\"x\"\nAAAA\n",
        f"spola verdicts v2\nvectors.spola.local/ledger\n1\n{DIGEST}\nitem\n\"x\"\n",
        f"spola verdicts v2\nvectors.spola.local/ledger\n1\n{DIGEST}\nledger\n\"x\"\n{DIGEST}\n",
        f"spola verdicts v2\nvectors.spola.local/ledger\n1\n{DIGEST}\nitem\nx\n{DIGEST}\n",
        f"spola verdicts v2\nvectors.spola.local/ledger\n1\n{DIGEST}\nitem\n1\n{DIGEST}\n",
        f"spola verdicts v2\nvectors.spola.local/ledger\n1\n{DIGEST}\nitem\n\"\\u0078\"\n"
        + f"{DIGEST}\n",
    ],
    ids=[
        "v1", "leading-zero", "short-digest", "no-digest", "whole-ledger-scope",
        "bare-subject", "number-subject", "non-canonical-subject",
    ],
)  # fmt: skip
def test_malformed_statements_are_refused(text: str) -> None:
    with pytest.raises((FormatError, CheckpointError)):
        VerdictStatement.from_text(text)


def test_the_digest_covers_index_chain_hash_verdict_rule_and_detail() -> None:
    def digest(*items: tuple[int, bytes, bool, Violation | None]) -> bytes:
        d = VerdictDigest()
        for item in items:
            d.add(*item)
        return d.digest()

    broken = Violation("balance.insufficient", "holds 60 MTR")
    chain = bytes(range(32))
    first = (0, chain, True, None)
    base = digest(first, (7, chain, False, broken))
    assert base != digest(first, (8, chain, False, broken))
    assert base != digest(first, (7, bytes(32), False, broken))
    assert base != digest(first, (7, chain, False, replace(broken, detail="holds 61 MTR")))
    assert base != digest(first, (7, chain, False, replace(broken, rule="custody.x")))
    assert base != digest((7, chain, False, broken), first)
    assert base != digest(first)


def test_a_subject_with_a_line_feed_stays_on_its_line() -> None:
    odd = replace(STATEMENT, scope="actor", subject="urn:spola:actor:x\nspola verdicts v2")
    note = sign_verdicts(odd, OPERATOR)
    assert verify_verdicts(note, LOG_VKEY, origin=ORIGIN) == odd


def _passport() -> Bundle:
    return read_bundle(DATA / "valid_passport.bundle")


def test_a_statement_for_another_checkpoint_is_refused() -> None:
    good = _passport()
    other = read_bundle(DATA / "valid.bundle").head  # the same log key, another tree
    moved = replace(
        good, verdicts=sign_bundle_verdicts(other, good.entries, good.scope, good.subject)
    )
    assert _found(_verify(moved)) == {(3, "verdicts.checkpoint")}


def test_a_second_statement_or_one_in_a_whole_ledger_bundle_is_a_finding() -> None:
    good = _passport()
    assert _verify(good).valid
    data = good.to_bytes()
    first, body = data.split(b"\n", 1)
    statement_line = next(line for line in body.splitlines(keepends=True) if b'"verdicts"' in line)
    doubled = body.replace(statement_line, statement_line * 2, 1)
    report = _reseal(first, doubled)
    assert (3, "verdicts.count") in _found(report)
    whole = read_bundle(DATA / "valid.bundle")
    first, body = whole.to_bytes().split(b"\n", 1)
    cut = body.index(b"\n") + 1  # after the head checkpoint
    report = _reseal(first, body[:cut] + statement_line + body[cut:])
    assert (1, "bundle.verdicts") in _found(report)


def _reseal(first: bytes, body: bytes) -> Report:
    manifest = replace(Manifest.from_line(first + b"\n"), body_sha256=hashlib.sha256(body).digest())
    return verify_bundle(io.BytesIO(manifest.to_line() + body), LOG_VKEY)


def test_since_checkpoints_one_at_most_and_none_in_a_partial_bundle() -> None:
    whole = with_since(read_bundle(DATA / "valid.bundle"))
    first, body = whole.to_bytes().split(b"\n", 1)
    lines = body.splitlines(keepends=True)
    since = next(line for line in lines if b'"role":"since"' in line)
    report = _reseal(first.replace(b'"checkpoints":2', b'"checkpoints":3'), since + body)
    assert (3, "checkpoint.since") in _found(report)
    partial = _passport()
    first, body = partial.to_bytes().split(b"\n", 1)
    report = _reseal(first.replace(b'"checkpoints":1', b'"checkpoints":2'), since + body)
    assert (3, "checkpoint.since") in _found(report)


def test_records_refuse_true_for_a_version_and_a_missing_violation() -> None:
    manifest = Manifest.from_line(
        read_bundle(DATA / "valid.bundle").to_bytes().split(b"\n")[0] + b"\n"
    )
    line = manifest.to_line().replace(b'"v":1', b'"v":true')
    with pytest.raises(FormatError, match="version"):
        Manifest.from_line(line)
    entry = read_bundle(DATA / "valid.bundle").entries[1].to_line()
    without = entry.replace(b',"violation":null', b"")
    with pytest.raises(FormatError, match="violation"):
        parse_record(without, number=3)


def test_a_partial_bundle_without_genesis_or_a_passport_without_documents_is_refused() -> None:
    good = _passport()
    rest = [e for e in good.entries if e.index != 0]
    proofs = [p for p in good.inclusion if p.index != 0]
    cut = replace(good, entries=rest, inclusion=proofs)
    cut = replace(cut, verdicts=sign_bundle_verdicts(good.head, rest, good.scope, good.subject))
    assert (5, "entry.genesis") in _found(_verify(cut))
    bare = replace(good, passports=[])
    assert _found(_verify(bare)) == {(10, "passport.missing")}


def test_a_partial_bundle_must_hold_an_entry_about_its_subject() -> None:
    story = passport_story()
    whole = seal(story.envelopes)
    about_lots = [0, 1, 2, 7, 8, 11, 15]
    elsewhere = partial(whole, about_lots, scope=SCOPE_ITEM, subject="/01/08000000001016/21/NONE")
    assert (5, "entry.subject") in _found(_verify(elsewhere))
    # maison's bundle made of what filanda signed: handovers to maison name it, yet it signed
    # none of them.
    not_hers = partial(whole, about_lots, scope=SCOPE_ACTOR, subject=MAISON)
    assert (5, "entry.subject") in _found(_verify(not_hers))
    assert _verify(partial(whole, about_lots, scope=SCOPE_ITEM, subject=LOT_C)).valid
