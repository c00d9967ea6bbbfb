"""Tamper vectors for the offline verifier: a small honest log and named mutations of it.

Everything is deterministic: keys come from fixed seeds and every event has a fixed time, so
the same bundles come out on every run. Each vector is one bundle file and a row in
``vectors.json``: its name, ``desc``, and ``want``, the findings (step, rule, entry index)
the verifier must report. Mutations that an operator with the log key could make re-sign the
checkpoint (the log key holder is not trusted to keep the rules); mutations of the file alone
keep the honest checkpoint. The stories are in ``story``; the partial vectors (``passport_*``,
``partial_*``, ``truncated_inclusion_proof``), cut from one passport's bundle, in
``passport_vectors``.

    python -m tests.vectors.bundles.generate OUT_DIR
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ledger.bundle_records import EntryRecord
from ledger.envelope import Envelope, Signature
from ledger.events import OPERATOR_ACTOR
from ledger.hashing import leaf_hash
from tests.supply import CERT_GOTS, GOTS_CLAIM, handover, make, material, process, take
from tests.vectors.bundles.passport_vectors import partial_vectors
from tests.vectors.bundles.sealing import (
    LOG_VKEY,
    ORIGIN,
    Bundle,
    checkpoint,
    key,
    seal,
    with_since,
)
from tests.vectors.bundles.story import (
    FILANDA,
    LOT_A,
    LOT_C,
    SARTORIA,
    TINTORIA,
    Story,
    Vector,
    honest_story,
)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _reenvelope(record: EntryRecord, edit: Callable[[Envelope], Envelope]) -> EntryRecord:
    return replace(record, entry=edit(Envelope.from_bytes(record.entry)).to_bytes())


def _payload_flip(env: Envelope) -> Envelope:
    at = env.payload.index(b'"100"') + 2  # the quantity 100 becomes 000
    return replace(env, payload=_flip(env.payload, at))


def _signature_flip(env: Envelope) -> Envelope:
    sig = env.signatures[0]
    return replace(env, signatures=(Signature(sig.keyid, _flip(sig.sig, 5)),))


def _lying(
    name: str, desc: str, story: Story, actor: str, fields: dict[str, Any], rule: str
) -> tuple[str, Vector]:
    """A rule-breaking event that the ledger published as applied; replay names ``rule``."""
    story.sign(actor, fields)
    index = len(story.envelopes) - 1
    return name, (desc, seal(story.envelopes, {index: None}), [(9, rule, index)])


def _file_mutations(good: Bundle) -> dict[str, Vector]:
    """Edits of the file alone: the honest checkpoint stays."""
    e = list(good.entries)
    inserted = honest_story()
    extra = inserted.sign(FILANDA, material("urn:spola:lot:filanda:X", "1"))
    forged = replace(e[11], index=12, entry=extra.to_bytes())
    return {
        "payload_byte_flip": (
            "one bit of a signed payload flipped (lot A's quantity)",
            replace(good, entries=[*e[:7], _reenvelope(e[7], _payload_flip), *e[8:]]),
            [(7, "signature.invalid", 7), (5, "entry.chain_hash", 7), (5, "merkle.root", None)],
        ),
        "signature_flip": (
            "one bit of an envelope signature flipped",
            replace(good, entries=[*e[:8], _reenvelope(e[8], _signature_flip), *e[9:]]),
            [(7, "signature.invalid", 8), (5, "entry.chain_hash", 8)],
        ),
        "entries_reordered": (
            "the handover and its receipt swapped",
            replace(good, entries=[*e[:8], e[9], e[8], *e[10:]]),
            [(5, "entry.index", 8), (5, "entry.chain_hash", 8), (5, "merkle.root", None)],
        ),
        "entry_dropped": (
            "the receipt left out",
            replace(good, entries=[*e[:9], *e[10:]]),
            [(5, "entry.index", 9), (5, "entries.count", None)],
        ),
        "entry_inserted": (
            "a signed event inserted that the log never committed to",
            replace(good, entries=[*e[:12], forged, *e[12:]]),
            [(5, "entry.chain_hash", 12), (5, "entries.count", None)],
        ),
        "entry_duplicated": (
            "the handover repeated",
            replace(good, entries=[*e[:9], e[8], *e[9:]]),
            [(5, "entry.index", 9), (8, "feed.repeated", 9), (5, "entries.count", None)],
        ),
    }


def _checkpoint_mutations(good: Bundle) -> dict[str, Vector]:
    n = len(good.entries)
    sig_at = good.head.index(b"\n\n") + 2 + len("\u2014 ".encode()) + len(ORIGIN) + 10
    leaves = [leaf_hash(r.entry) for r in good.entries]
    since = with_since(good)
    assert since.consistency is not None
    short = replace(since.consistency, proof=since.consistency.proof[:-1])
    return {
        "forged_checkpoint": (
            "the checkpoint's signature altered",
            replace(good, head=_flip(good.head, sig_at)),
            [(3, "checkpoint.signature", None), (3, "checkpoint.missing", None)],
        ),
        "checkpoint_unknown_key": (
            "the checkpoint signed by a key that is not the log key, under the log's name",
            replace(good, head=checkpoint(leaves, n, key("impostor"))),
            [(3, "checkpoint.signature", None)],
        ),
        "wrong_tree_size": (
            "the manifest claims one entry more than the checkpoint",
            replace(good, manifest_tree_size=n + 1),
            [(3, "checkpoint.tree_size", None)],
        ),
        "truncated_proof": (
            "the consistency proof misses its last hash",
            replace(since, consistency=short),
            [(4, "consistency.proof", None)],
        ),
    }


def _admission_mutations(n: int) -> dict[str, Vector]:
    """Entries the ledger could never have admitted, sealed by the log key holder."""
    early = honest_story()
    early.envelopes.insert(5, early.envelopes.pop(-1))  # sartoria signs before its key exists
    revoked = honest_story()
    sartoria_key = key("sartoria").public_key.key_id
    revoke = {"type": "key", "op": "revoke", "subject": SARTORIA, "key_id": sartoria_key}
    revoked.sign(OPERATOR_ACTOR, revoke)
    revoked.sign(SARTORIA, material("urn:spola:lot:sartoria:T", "5"))
    gap = honest_story()
    gap.terminals[FILANDA].seq += 1
    gap.sign(FILANDA, material("urn:spola:lot:filanda:G", "1"))
    fork = honest_story()
    fork.terminals[FILANDA].prev = "00" * 32
    fork.sign(FILANDA, material("urn:spola:lot:filanda:F", "1"))
    return {
        "key_before_registration": (
            "an event signed by a key before the key event that registers it",
            seal(early.envelopes),
            [(7, "key.unknown", 5)],
        ),
        "key_after_revocation": (
            "an event signed by a key after the operator revoked it",
            seal(revoked.envelopes),
            [(7, "key.revoked", n + 1)],
        ),
        "feed_gap": ("a feed skips a seq", seal(gap.envelopes), [(8, "feed.gap", n)]),
        "feed_fork": ("a feed names the wrong prev", seal(fork.envelopes), [(8, "feed.fork", n)]),
    }


def _verdict_mutations() -> dict[str, Vector]:
    """Rule-breaking events the ledger published as applied: replay disagrees (step 9)."""
    in_transit = honest_story()
    in_transit.sign(FILANDA, handover("H2", TINTORIA, [take(LOT_C, "10")]))
    claim_up = [make("urn:spola:lot:filanda:E", "38", claim=GOTS_CLAIM)]
    return dict(
        [
            _lying(
                "custody_without_receipt",
                "goods processed before the receipt, published as applied",
                in_transit,
                TINTORIA,
                process([take(LOT_C, "10")], [make("urn:spola:lot:tintoria:D", "9")]),
                "custody.not_holder",
            ),
            _lying(
                "double_spend",
                "lot A handed over twice, published as applied",
                honest_story(),
                FILANDA,
                handover("H3", TINTORIA, [take(LOT_A, "60")]),
                "balance.insufficient",
            ),
            _lying(
                "mass_created",
                "a process outputs more mass than it takes in",
                honest_story(),
                FILANDA,
                process([take(LOT_C, "10")], [make("urn:spola:lot:filanda:M", "30")]),
                "mass.balance",
            ),
            _lying(
                "claim_inflated",
                "an output claims more GOTS than its input",
                honest_story(),
                FILANDA,
                process([take(LOT_A, "40")], claim_up, certificates=[CERT_GOTS]),
                "claim.fraction_grows",
            ),
        ]
    )


def vectors() -> dict[str, Vector]:
    """Every vector by name."""
    good = seal(honest_story().envelopes)
    return {
        "valid": ("the honest log, every check passes", good, []),
        "valid_since": ("the honest log with a consistency proof", with_since(good), []),
        **_file_mutations(good),
        **_checkpoint_mutations(good),
        **_admission_mutations(len(good.entries)),
        **_verdict_mutations(),
        **partial_vectors(),
    }


def generate(directory: Path) -> list[dict[str, Any]]:
    """Write every vector's bundle and ``vectors.json`` into ``directory``; the rows."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (desc, bundle, want) in vectors().items():
        (directory / f"{name}.bundle").write_bytes(bundle.to_bytes())
        rows.append(
            {
                "name": name,
                "desc": desc,
                "want": [{"step": s, "rule": r, "index": i} for s, r, i in want],
            }
        )
    (directory / "log.vkey").write_text(LOG_VKEY + "\n")
    (directory / "vectors.json").write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    generate(Path(sys.argv[1]))
