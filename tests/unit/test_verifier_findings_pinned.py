"""Findings pinned one by one: for each, a bundle that must produce it, and nothing else.

Each test builds one hostile bundle and asserts that it is invalid and which findings (step,
rule, entry index) it gives, exactly: with the check that names it gone, the test fails. Most of
these bundles are what the log key holder could publish (it is not trusted to keep the rules):
entries its sequencer would never have admitted, sealed with a correct chain, root and verdict
statement, or header records the format does not allow. For most of them the finding is the only
defence: without it the bundle would be reported valid (each test says so).

Pure: only the core, the verifier and the vectors' pure helpers, so the verifier-only install
runs it too.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from dataclasses import replace
from typing import Final

from ledger.bundle import SCOPE_ACTOR, Manifest, parse_record
from ledger.bundle_records import (
    ROLE_HEAD,
    ROLE_SINCE,
    CheckpointRecord,
    ConsistencyRecord,
    EntryRecord,
    InclusionRecord,
    PassportRecord,
    VerdictsRecord,
)
from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.envelope import Envelope, sign_envelope
from ledger.hashing import CHAIN_GENESIS, chain_hash, leaf_hash
from ledger.merkle import consistency_proof
from ledger.receipt import Violation
from ledger.verdicts import VerdictDigest, VerdictStatement, sign_verdicts
from tests.supply import material
from tests.vectors.bundles.sealing import (
    DATA,
    LOG_VKEY,
    Bundle,
    checkpoint,
    key,
    partial,
    read_bundle,
    sign_bundle_verdicts,
)
from tests.vectors.bundles.story import FILANDA, honest_story
from verifier import Report, verify_bundle

Found = Counter[tuple[int, str, int | None]]

SALE: Final = 19  # the scarf's sale, in the passport vector: the entry that makes version 2
NOT_AN_ENVELOPE: Final = b'{"payload":"not an envelope"}'


def _verify(data: bytes) -> Report:
    return verify_bundle(io.BytesIO(data), LOG_VKEY, jobs=1)


def _found(report: Report) -> Found:
    """Every finding as (step, rule, index), each as often as it is reported."""
    return Counter((f.step, f.rule, f.index) for f in report.findings)


def _invalid_with(data: bytes, *want: tuple[int, str, int | None]) -> Report:
    """The verification of ``data``: invalid, with exactly the findings ``want``."""
    report = _verify(data)
    assert not report.valid
    assert _found(report) == Counter(want), report.to_text(width=200)
    return report


def _whole() -> Bundle:
    return read_bundle(DATA / "valid.bundle")


def _passport() -> Bundle:
    return read_bundle(DATA / "valid_passport.bundle")


def _body(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)[1:]


def _resealed(data: bytes, body: list[bytes]) -> bytes:
    """``data``'s manifest over ``body``: its hash and every count made to match the lines,
    as anyone can (the manifest is not signed)."""
    manifest = Manifest.from_line(data.splitlines(keepends=True)[0])
    kinds = Counter(type(parse_record(line, number=2)) for line in body)
    resealed = replace(
        manifest,
        body_sha256=hashlib.sha256(b"".join(body)).digest(),
        entries=kinds[EntryRecord],
        checkpoints=kinds[CheckpointRecord],
        consistency=kinds[ConsistencyRecord],
        inclusion=kinds[InclusionRecord] if manifest.partial else 0,
        passports=kinds[PassportRecord] if manifest.partial else 0,
    )
    return resealed.to_line() + b"".join(body)


def _repeated(data: bytes, line: bytes) -> bytes:
    """``data`` with its body line ``line`` twice in a row, resealed."""
    body = _body(data)
    at = body.index(line)
    return _resealed(data, [*body[: at + 1], line, *body[at + 1 :]])


def _sealed(entries: list[bytes]) -> Bundle:
    """The whole-ledger bundle the log key holder would publish for ``entries``, whatever
    they are: chain, root and head checkpoint correct, every entry published as applied."""
    leaves = [leaf_hash(entry) for entry in entries]
    records, chain = [], CHAIN_GENESIS
    for index, (entry, leaf) in enumerate(zip(entries, leaves, strict=True)):
        chain = chain_hash(chain, leaf)
        records.append(EntryRecord(index, entry, chain, True, None))
    return Bundle(head=checkpoint(leaves, len(entries)), entries=records)


def _logged(last: bytes) -> Bundle:
    """The honest story's log with ``last`` logged after it, sealed by the log key."""
    story = honest_story()
    return _sealed([*(e.to_bytes() for e in story.envelopes), last])


def _filanda_event() -> Envelope:
    """Filanda's next event after the honest story, validly signed."""
    story = honest_story()
    return story.sign(FILANDA, material("urn:spola:lot:filanda:Z", "1"))


def _spaced(envelope: Envelope) -> bytes:
    """The envelope's JSON with spaces after ':' and ',': the same envelope, other bytes."""
    spaced = json.dumps(json.loads(envelope.to_bytes()))
    assert spaced.encode() != envelope.to_bytes()
    return spaced.encode()


def _two_signatures(envelope: Envelope) -> bytes:
    """The envelope with its one (valid) signature given twice: not a one-signature event."""
    doubled = replace(envelope, signatures=envelope.signatures * 2)
    return doubled.to_bytes()


def _no_event() -> bytes:
    """A payload filanda signed that is no event: a valid signature, by a valid key."""
    return sign_envelope(canonical_bytes({"type": "no such event"}), key("filanda")).to_bytes()


def _actor_bundle(whole: Bundle, indexes: list[int] | None = None) -> Bundle:
    """Filanda's partial bundle of ``whole`` (every entry unless ``indexes``), as the log key
    holder would publish it: each entry's inclusion proof, the verdicts signed."""
    picked = list(range(len(whole.entries))) if indexes is None else indexes
    return partial(whole, picked, scope=SCOPE_ACTOR, subject=FILANDA)


def _statement_by(
    head: bytes, entries: list[EntryRecord], bundle: Bundle, signer_seed: str
) -> bytes:
    """The verdict statement of ``entries`` for ``head``, signed by another key than the log's,
    under the log's name."""
    assert bundle.subject is not None
    digest = VerdictDigest()
    for record in entries:
        digest.add(record.index, record.chain_hash, record.applied, record.violation)
    cp = Checkpoint.from_text(head.decode().split("\n\n")[0] + "\n")
    statement = VerdictStatement(
        cp.origin, cp.size, cp.root_hash, bundle.scope, bundle.subject, digest.digest()
    )
    return sign_verdicts(statement, key(signer_seed))


# -- the honest bundles these are cut from ---------------------------------------------------


def test_the_bundles_the_hostile_ones_are_made_from_are_valid() -> None:
    # Without this, a hostile bundle's findings could come from its base, not its edit.
    for data in (
        _whole().to_bytes(),
        _passport().to_bytes(),
        _actor_bundle(_logged(_filanda_event().to_bytes())).to_bytes(),
        _resealed(_whole().to_bytes(), _body(_whole().to_bytes())),
    ):
        report = _verify(data)
        assert report.valid, report.to_text(width=200)


# -- step 1: records a whole-ledger bundle does not hold ----------------------------------


def test_a_verdict_statement_in_a_whole_ledger_bundle_is_reported() -> None:
    # Without the finding: valid (the statement is read no further).
    good = _passport()
    _invalid_with(
        replace(_whole(), verdicts=good.verdicts).to_bytes(), (1, "bundle.verdicts", None)
    )


def test_an_inclusion_proof_in_a_whole_ledger_bundle_is_reported_once() -> None:
    # One finding for such lines, with their count: neither again for each line (the finding
    # could not say where) nor as a manifest count (a whole ledger's manifest has none).
    # Without it: valid.
    data = _whole().to_bytes()
    body = _body(data)
    proof = _passport().inclusion[0].to_line()
    at = next(i for i, line in enumerate(body) if b'"kind":"entry"' in line)
    for extra in ([proof], [proof, proof]):
        report = _invalid_with(
            _resealed(data, [*body[: at + 1], *extra, *body[at + 1 :]]), (1, "bundle.line", None)
        )
        count = f"{len(extra)} line{'s' if len(extra) > 1 else ''} in a whole-ledger bundle"
        assert [(f.expected, f.actual) for f in report.findings] == [("no inclusion record", count)]


# -- step 3: checkpoints and the verdict statement -----------------------------------------


def test_two_head_checkpoints_are_reported() -> None:
    # The same signed head twice. Without the finding: valid.
    data = _whole().to_bytes()
    head = CheckpointRecord(ROLE_HEAD, _whole().head).to_line()
    _invalid_with(_repeated(data, head), (3, "checkpoint.head", None))


def test_two_since_checkpoints_are_reported() -> None:
    # The same signed since checkpoint twice, with its consistency proof. Without the
    # finding: valid (the second is ignored).
    whole = _whole()
    leaves = [leaf_hash(e.entry) for e in whole.entries]
    n = len(leaves)
    since = replace(
        whole,
        since=checkpoint(leaves, 6),
        consistency=ConsistencyRecord(6, n, tuple(consistency_proof(leaves, 6))),
    )
    data = since.to_bytes()
    assert _verify(data).valid
    line = CheckpointRecord(ROLE_SINCE, checkpoint(leaves, 6)).to_line()
    _invalid_with(_repeated(data, line), (3, "checkpoint.since", None))


def test_a_since_checkpoint_in_a_partial_bundle_is_reported() -> None:
    # A checkpoint the log key signed, as ``since``: a partial bundle carries none. Without
    # the finding: valid (it is not read further).
    good = _passport()
    since = checkpoint([bytes(32)] * 5, 5)
    _invalid_with(replace(good, since=since).to_bytes(), (3, "checkpoint.since", None))


def test_two_verdict_statements_are_reported() -> None:
    # The log key's statement, twice. Without the finding: valid.
    good = _passport()
    assert good.verdicts is not None
    line = VerdictsRecord(good.verdicts).to_line()
    _invalid_with(_repeated(good.to_bytes(), line), (3, "verdicts.count", None))


def test_a_verdict_statement_not_signed_by_the_log_key_is_reported() -> None:
    # Anyone without the log key: the sale published as refused (so the scarf seems unsold,
    # version 2 dropped), the statement of these verdicts signed by the forger's key under
    # the log's name. Without the finding: valid — the statement is all that binds a partial
    # bundle's verdicts.
    good = _passport()
    entries = list(good.entries)
    at = [e.index for e in entries].index(SALE)
    refused = Violation("lifecycle.wrong_state", "the item is not for sale")
    entries[at] = replace(entries[at], applied=False, violation=refused)
    forged = _statement_by(good.head, entries, good, "forger")
    bundle = replace(good, entries=entries, passports=good.passports[:1], verdicts=forged)
    _invalid_with(bundle.to_bytes(), (3, "verdicts.signature", None))


def test_a_verdict_statement_of_another_checkpoint_is_reported() -> None:
    # The log key signed the bundle's verdicts, scope and subject, but for a checkpoint other
    # than the bundle's head (its size, another root). Without the finding: valid.
    good = _passport()
    head = Checkpoint.from_text(good.head.decode().split("\n\n")[0] + "\n")
    other = checkpoint([bytes(32)] * head.size, head.size)
    assert good.subject is not None
    verdicts = sign_bundle_verdicts(other, good.entries, good.scope, good.subject)
    _invalid_with(replace(good, verdicts=verdicts).to_bytes(), (3, "verdicts.checkpoint", None))


# -- step 4: a consistency proof with nothing to start from --------------------------------


def test_a_consistency_proof_from_no_verified_checkpoint_is_reported() -> None:
    # A (correct) proof from size 6 to the head, but no checkpoint of size 6 in the bundle and
    # none trusted: nothing to verify it against. Without the finding: valid.
    whole = _whole()
    leaves = [leaf_hash(e.entry) for e in whole.entries]
    proof = ConsistencyRecord(6, len(leaves), tuple(consistency_proof(leaves, 6)))
    _invalid_with(replace(whole, consistency=proof).to_bytes(), (4, "consistency.sizes", None))


# -- step 5: entries the sequencer would never have admitted, sealed by the log key --------


def test_an_entry_that_is_not_a_dsse_envelope_is_reported() -> None:
    # Without the finding: valid (the replay counts it and applies nothing).
    whole = _logged(NOT_AN_ENVELOPE)
    _invalid_with(whole.to_bytes(), (5, "entry.envelope", len(whole.entries) - 1))


def test_an_envelope_not_in_canonical_bytes_is_reported() -> None:
    # Filanda's next event, validly signed, logged with spaces in its JSON. Without the
    # finding: valid (the signature is over the payload, not the envelope's bytes).
    whole = _logged(_spaced(_filanda_event()))
    _invalid_with(whole.to_bytes(), (5, "entry.canonical", len(whole.entries) - 1))


def test_a_partial_bundles_entry_that_is_not_a_dsse_envelope_is_reported() -> None:
    # Without the finding: valid.
    whole = _logged(NOT_AN_ENVELOPE)
    bundle = _actor_bundle(whole)
    _invalid_with(bundle.to_bytes(), (5, "entry.envelope", len(whole.entries) - 1))


def test_a_partial_bundles_envelope_not_in_canonical_bytes_is_reported() -> None:
    # Without the finding: valid.
    whole = _logged(_spaced(_filanda_event()))
    bundle = _actor_bundle(whole)
    _invalid_with(bundle.to_bytes(), (5, "entry.canonical", len(whole.entries) - 1))


def test_a_partial_bundles_envelope_with_two_signatures_is_reported() -> None:
    # Filanda's valid signature given twice: no one-signature event. Without the finding:
    # valid.
    whole = _logged(_two_signatures(_filanda_event()))
    bundle = _actor_bundle(whole)
    _invalid_with(bundle.to_bytes(), (5, "entry.payload", len(whole.entries) - 1))


def test_a_partial_bundles_signed_payload_that_is_no_event_is_reported() -> None:
    # Without the finding: valid.
    whole = _logged(_no_event())
    bundle = _actor_bundle(whole)
    _invalid_with(bundle.to_bytes(), (5, "entry.payload", len(whole.entries) - 1))


def test_a_partial_bundle_without_the_genesis_entry_is_reported() -> None:
    # Every entry but the genesis, the verdicts signed by the log key. Without the finding:
    # valid.
    whole = _logged(_filanda_event().to_bytes())
    bundle = _actor_bundle(whole, list(range(1, len(whole.entries))))
    _invalid_with(bundle.to_bytes(), (5, "entry.genesis", None))


# -- step 6: a proof where none is due -----------------------------------------------------


def test_a_repeated_inclusion_proof_is_reported() -> None:
    # The sale's own proof, twice after it. Without the finding: valid.
    good = _passport()
    proof = next(p for p in good.inclusion if p.index == SALE).to_line()
    _invalid_with(_repeated(good.to_bytes(), proof), (6, "inclusion.order", SALE))


# -- step 10 ---------------------------------------------------------------------------------


def test_a_passport_bundle_without_passport_records_is_reported() -> None:
    # The log key's statement binds the scope and subject, not the records. Without the
    # finding: valid (step 10 skipped).
    _invalid_with(replace(_passport(), passports=[]).to_bytes(), (10, "passport.missing", None))
