"""What the verifier found: findings by step, and their human and JSON renderings."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

STEPS: Final = {
    1: "parse and bound the input",
    2: "log key",
    3: "checkpoint signatures",
    4: "consistency with earlier checkpoints",
    5: "entries, leaf and chain hashes, Merkle root",
    6: "inclusion proofs (partial bundles)",
    7: "envelope signatures, key validity by index",
    8: "feeds: no gap, no fork",
    9: "domain rules replayed, verdicts agree",
    10: "passports rebuilt from the events",
}
MAX_FINDINGS: Final = 10_000  # kept in full; beyond this only counted


@dataclass(frozen=True)
class Finding:
    """One thing that does not hold: the step, the entry (if any), the rule, the two sides."""

    step: int
    index: int | None
    rule: str
    expected: str
    actual: str

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "index": self.index,
            "rule": self.rule,
            "expected": self.expected,
            "actual": self.actual,
        }


@dataclass
class Report:
    origin: str = ""
    tree_size: int = 0
    entries: int = 0
    signatures_checked: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    omitted: int = 0
    skipped: dict[int, str] = field(default_factory=dict)  # step → why it did not run
    notes: dict[int, str] = field(default_factory=dict)  # step → how it ran, when it passed
    scope: str = "ledger"
    subject: str | None = None

    @property
    def valid(self) -> bool:
        return not self.findings and not self.omitted

    def add(self, step: int, index: int | None, rule: str, expected: str, actual: str) -> None:
        if len(self.findings) >= MAX_FINDINGS:
            self.omitted += 1
            return
        self.findings.append(Finding(step, index, rule, expected, actual))

    def step_status(self, step: int) -> str:
        count = sum(1 for f in self.findings if f.step == step)
        if count:
            return f"{count} finding{'s' if count != 1 else ''}"
        if step in self.skipped:
            return f"skipped: {self.skipped[step]}"
        return f"ok ({self.notes[step]})" if step in self.notes else "ok"

    def to_json(self) -> dict[str, Any]:
        scope = {"scope": self.scope, "subject": self.subject} if self.subject else {}
        return {
            "valid": self.valid,
            "origin": self.origin,
            **scope,
            "tree_size": self.tree_size,
            "entries": self.entries,
            "signatures_checked": self.signatures_checked,
            "seconds": round(self.seconds, 3),
            "steps": [
                {"step": step, "check": name, "status": self.step_status(step)}
                for step, name in STEPS.items()
            ],
            "findings": [f.to_json() for f in self.findings],
            "findings_omitted": self.omitted,
        }

    def to_json_text(self) -> str:
        """The JSON report. It decodes to the exact strings of the bundle, yet its text is safe
        on a terminal too: what ``visible`` would escape is written as a JSON ``\\u`` escape
        (JSON itself escapes only C0 controls, not C1 controls, DEL or bidi overrides)."""
        return _json_escaped(json.dumps(self.to_json(), indent=2, ensure_ascii=False)) + "\n"

    def to_text(self, *, width: int = 60) -> str:
        """The report for a terminal: every text that may come from the bundle (origin, scope,
        subject, findings, step notes) is shown through ``visible``, so a hostile bundle cannot
        move the cursor, recolour or hide lines, or reorder them with bidi controls."""
        origin = visible(self.origin)
        lines = [f"bundle of {origin}: tree size {self.tree_size:,}, {self.entries:,} entries"]
        if self.subject:
            lines.append(f"partial bundle, scope {visible(self.scope)}: {visible(self.subject)}")
        lines.append(f"{'step':<5} {'check':<45} result")
        lines.extend(
            f"{step:<5} {name:<45} {visible(self.step_status(step))}"
            for step, name in STEPS.items()
        )
        if self.findings:
            lines.append("")
            lines.append(f"{'step':<5} {'entry':>8}  {'rule':<28} expected / actual")
            for f in self.findings:
                entry = "-" if f.index is None else str(f.index)
                rule = visible(f.rule)
                lines.append(f"{f.step:<5} {entry:>8}  {rule:<28} {_cut(f.expected, width)}")
                lines.append(f"{'':<5} {'':>8}  {'':<28} {_cut(f.actual, width)}")
        if self.omitted:
            lines.append(f"… and {self.omitted:,} more findings")
        total = len(self.findings) + self.omitted
        plural = "s" if total != 1 else ""
        verdict = "VALID" if self.valid else f"INVALID: {total:,} finding{plural}"
        lines.append(f"{verdict} ({self.signatures_checked:,} signatures, {self.seconds:.2f} s)")
        return "\n".join(lines) + "\n"


def visible(text: str) -> str:
    """``text`` with every code point a terminal would act on rather than show written as an
    escape (``\\x1b``, ``\\u202e``): C0 and C1 controls, DEL, line and paragraph separators,
    format characters (the bidi embeddings, overrides and isolates U+202A-U+202E and
    U+2066-U+2069 among them), lone surrogates, private-use and unassigned code points: all
    that ``str.isprintable`` refuses. Printable text, non-ASCII letters included, is unchanged."""
    return _unprintable_escaped(text, _escape)


def _json_escaped(text: str) -> str:
    # In JSON text from json.dumps, such a code point can only stand inside a string, where a
    # \\u escape (a surrogate pair above U+FFFF) means the same code point; its line feeds
    # are the indentation's.
    return _unprintable_escaped(text, _json_escape, keep="\n")


def _unprintable_escaped(text: str, escape: Callable[[str], str], keep: str = "") -> str:
    """``text`` with each code point ``str.isprintable`` refuses, but those in ``keep``,
    written as ``escape`` writes it."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in keep else escape(ch) for ch in text)


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _cut(text: str, width: int) -> str:
    shown = visible(text)
    if len(shown) <= width:
        return shown
    if text.isprintable():
        return shown[: width - 1] + "…"
    pieces: list[str] = []  # escapes whole: never half of one before the ellipsis
    size = 0
    for ch in text:
        piece = ch if ch.isprintable() else _escape(ch)
        if size + len(piece) > width - 1:
            break
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces) + "…"
