"""Hostile input the verifier must survive: a finding or exit 2, never a traceback or a forgery.

Lone UTF-16 surrogates in JSON (I-JSON, RFC 7493, refuses them), quantities written with digits
other than ASCII 0-9, command-line options that cannot be used, and bundle text carrying
terminal control sequences meant to rewrite the human report on screen.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.canonical import canonical_bytes, parse_canonical_object, parse_json
from ledger.envelope import Envelope, sign_envelope
from ledger.errors import FormatError, LedgerError
from ledger.events import parse_event
from ledger.quantities import Quantity, parse_decimal
from spola.cli import build_parser
from tests.supply import material
from tests.terminal import Terminal
from tests.vectors.bundles.sealing import DATA, LOG_VKEY, envelopes, key, read_bundle, seal
from verifier import Report, UnusableInputError, steps, verify_bundle
from verifier.cli import MAX_JOBS, MAX_LOG_KEY_BYTES, main

LONE = "lone surrogate"
FILANDA = "urn:spola:actor:filanda"  # an actor of the vectors' story, with a key of its own


def _story() -> list[Envelope]:
    return envelopes(read_bundle(DATA / "valid.bundle"))


def _verify(data: bytes, **options: Any) -> Report:
    return verify_bundle(io.BytesIO(data), LOG_VKEY, **options)


def _texts(report: Report) -> str:
    return "\n".join(f"{f.rule} {f.expected} {f.actual}" for f in report.findings)


# 1. Lone surrogates: refused as FormatError wherever canonical.py parses or serializes.

SURROGATE_JSON = [
    '{"a\\ud800":1,"kind":"\u00e9"}',  # in a member name, next to non-ASCII (rfc8785's crash)
    '{"a\\ud800":1}',
    '{"a":"\\udc00","kind":"\u00e9"}',  # in a string
    '{"a":["x\\uDBFF"]}',  # upper-case hex, nested
    '{"a":"\\uDe00\\ud800"}',  # a low surrogate before a high one is no pair
    '"\\ud83d"',  # a top-level string: half a pair
]


@pytest.mark.parametrize("text", SURROGATE_JSON)
def test_parse_json_refuses_lone_surrogates(text: str) -> None:
    for check_duplicates in (True, False):
        with pytest.raises(FormatError, match=f"{LONE} in a string \\(I-JSON, RFC 7493\\)"):
            parse_json(text.encode(), check_duplicates=check_duplicates)


@pytest.mark.parametrize("text", [t for t in SURROGATE_JSON if t.startswith("{")])
def test_parse_canonical_object_refuses_lone_surrogates(text: str) -> None:
    with pytest.raises(FormatError, match=LONE):
        parse_canonical_object(text.encode())


@pytest.mark.parametrize(
    "value",
    [{"a\ud800": 1, "kind": "\u00e9"}, {"a": "\udc00"}, {"k": ["\u00e9", "x\udbff"]}],
    ids=["member-name", "string", "nested-string"],
)
def test_canonical_bytes_refuses_lone_surrogates(value: dict[str, Any]) -> None:
    for floats in (True, False):
        with pytest.raises(FormatError, match=LONE):
            canonical_bytes(value, floats=floats)


def test_only_the_lone_ones_are_refused_not_pairs_nor_escaped_backslashes() -> None:
    assert parse_json(b'{"a":"\\ud83d\\ude00","b":"\\\\ud800"}') == {
        "a": "\U0001f600",
        "b": "\\ud800",
    }
    assert parse_canonical_object('{"a":"\U0001f600"}'.encode()) == {"a": "\U0001f600"}
    with pytest.raises(FormatError, match=LONE):  # a pair, then half of one
        parse_json(b'{"a":"\\ud83d\\ude00\\ud83d"}')


def _reseal_body(good: bytes, lines: list[bytes]) -> bytes:
    """``good``'s manifest over another body, its ``body_sha256`` made to match."""
    manifest = json.loads(good.split(b"\n", 1)[0])
    body = b"".join(lines)
    manifest["body_sha256"] = hashlib.sha256(body).hexdigest()
    return canonical_bytes(manifest) + b"\n" + body


def test_lone_surrogate_in_a_bundle_line_is_a_finding_not_a_crash() -> None:
    good = seal(_story()).to_bytes()
    lines = good.splitlines(keepends=True)[1:]
    evil = '{"a\\ud800":1,"kind":"\u00e9"}\n'.encode()
    for at in (1, 4):  # among the checkpoints, among the entries
        report = _verify(_reseal_body(good, [*lines[:at], evil, *lines[at:]]), jobs=1)
        assert not report.valid
        assert "bundle.line" in {f.rule for f in report.findings}, _texts(report)


def test_lone_surrogate_in_the_manifest_is_unusable_input() -> None:
    with pytest.raises(UnusableInputError, match=LONE):
        _verify('{"a\\ud800":1,"kind":"\u00e9"}\n'.encode())


def test_signed_payload_with_a_lone_surrogate_is_a_finding_not_a_crash() -> None:
    payload = '{"a\\ud800":1,"type":"\u00e9"}'.encode()
    bundle = seal([*_story(), sign_envelope(payload, key("filanda"))])
    for jobs in (1, 2):
        report = _verify(bundle.to_bytes(), jobs=jobs)
        assert not report.valid
        assert LONE in _texts(report)


# 2. Quantities: ASCII digits only.

UNICODE_DIGITS = ["\u00b2", "\u0663", "1.\u0663", "\u0661\u0662", "\U0001d7d9", "\uff15"]


@pytest.mark.parametrize("text", UNICODE_DIGITS)
def test_quantities_take_ascii_digits_only(text: str) -> None:
    with pytest.raises(FormatError, match="ASCII 0-9") as refused:
        parse_decimal(text)
    assert ascii(text) in str(refused.value)  # the value, named visibly
    with pytest.raises(FormatError):
        Quantity.parse(text, "KGM")


def _quantity_event(amount: str) -> bytes:
    terminal = Terminal(FILANDA, key("filanda"))
    return terminal.sign_unchecked(material("urn:spola:lot:filanda:Z", amount)).payload


@pytest.mark.parametrize("amount", ["\u00b2", "\u0663"])
def test_an_event_with_a_unicode_digit_quantity_is_refused(amount: str) -> None:
    with pytest.raises(LedgerError):  # not decimal.InvalidOperation, not accepted as 3
        parse_event(_quantity_event(amount))


def test_a_signed_unicode_digit_quantity_is_a_finding_not_a_crash() -> None:
    terminal = Terminal(FILANDA, key("filanda"))
    event = terminal.sign_unchecked(material("urn:spola:lot:filanda:Z", "\u00b2"))
    bundle = seal([*_story(), event])
    report = _verify(bundle.to_bytes(), jobs=1)
    assert not report.valid
    assert "ASCII 0-9" in _texts(report)


# 3. The command line: unusable options are refused with one line, exit 2.


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A valid bundle of the vectors' story, in a file."""
    path = tmp_path / "good.bundle"
    path.write_bytes(seal(_story()).to_bytes())
    return path


def test_log_key_file_that_is_not_utf8_is_unusable_input(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "log.vkey"
    key_file.write_bytes(b"\xff\xfe\x00garbage")
    assert main([str(bundle), "--log-key", str(key_file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not UTF-8" in err and "Traceback" not in err


@pytest.mark.parametrize("jobs", ["0", "-3", "x", str(MAX_JOBS + 1), "100000"])
def test_jobs_outside_one_to_the_cap_is_refused(
    jobs: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["b", "--log-key", LOG_VKEY, "--jobs", jobs])
    assert refused.value.code == 2
    assert (
        "argument --jobs: must be a whole number of worker processes from 1 (none) "
        f"to {MAX_JOBS}, not {jobs!r}"
    ) in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--log-key", "--trusted-checkpoint"])
def test_an_endless_key_or_checkpoint_file_is_refused_at_its_limit(
    option: str, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # /dev/zero never ends: read whole, it would take all memory before any check ran.
    argv = [str(bundle), "--log-key", LOG_VKEY, option, "/dev/zero"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "/dev/zero: over the limit of" in err


def test_a_file_one_byte_over_the_key_limit_is_refused_and_one_at_it_is_read(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "log.vkey"
    padded = LOG_VKEY.encode() + b"\n"
    key_file.write_bytes(padded + b" " * (MAX_LOG_KEY_BYTES - len(padded)))
    assert main([str(bundle), "--log-key", str(key_file)]) == 0
    key_file.write_bytes(padded + b" " * (MAX_LOG_KEY_BYTES - len(padded) + 1))
    capsys.readouterr()
    assert main([str(bundle), "--log-key", str(key_file)]) == 2
    assert f"over the limit of {MAX_LOG_KEY_BYTES} bytes" in capsys.readouterr().err


def test_unusable_input_messages_show_control_characters_as_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "\x1b[2J\x1b[1Aok\u202e.bundle"
    assert main([str(missing), "--log-key", LOG_VKEY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("verify: ")
    assert "\x1b" not in err and "\u202e" not in err
    assert "\\x1b[2J\\x1b[1Aok\\u202e.bundle" in err


@pytest.mark.parametrize("jobs", ["0", "-3", str(MAX_JOBS + 1)])
def test_spola_verify_refuses_the_same_jobs(jobs: str, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("httpx", reason="the terminal extra is not installed")
    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(["verify", "b", "--log-key", "k", "--jobs", jobs])
    assert refused.value.code == 2
    assert "argument --jobs: must be a whole number" in capsys.readouterr().err
    args = build_parser().parse_args(["verify", "b", "--log-key", "k", "--jobs", "1"])
    assert isinstance(args, argparse.Namespace) and args.jobs == 1


# 4. The human report: bundle text shown, never obeyed by the terminal.

FORGERY = (
    "\x1b[1A\x1b[2K\rpartial bundle, scope passport: /01/08000000001016/21/X\n"
    "VALID (11 signatures, 0.01 s)\x1b[8m"
)
INVISIBLE = ["\x1b", "\r", "\n", "\x00", "\x7f", "\x9b", "\u2028", "\u202e", "\u2066", "\u200f"]


def _hostile_report() -> Report:
    report = Report(origin="log\x1b]0;title\x07", scope="passport\u202e", subject=FORGERY)
    report.add(10, None, "passport.subject", FORGERY, "/01/\u202e08000000001016\u2069")
    report.add(9, 3, "rule\x1b[2J", "applied\u2066", "x\x9b31m\x7f\x00\u2028y")
    report.skipped[4] = "no trusted checkpoint\x1b[8m"
    return report


def test_human_report_shows_control_and_bidi_characters_as_escapes() -> None:
    report = _hostile_report()
    text = report.to_text(width=200)
    lines = text.split("\n")
    assert lines[-1] == "" and lines[-2].startswith("INVALID: 2 findings")
    assert len(lines) == 1 + 1 + 1 + 10 + 1 + 1 + 2 * 2 + 1 + 1  # no line forged
    assert [char for char in INVISIBLE if char in text] == ["\n"]  # only between lines
    assert "\\x1b[1A\\x1b[2K\\x0dpartial bundle" in text
    assert "VALID (11 signatures, 0.01 s)\\x1b[8m" in text
    assert "/01/\\u202e08000000001016\\u2069" in text
    assert "x\\x9b31m\\x7f\\x00\\u2028y" in text
    assert "skipped: no trusted checkpoint\\x1b[8m" in text
    assert "bundle of log\\x1b]0;title\\x07:" in text and "scope passport\\u202e:" in text


def test_human_report_keeps_printable_text_and_json_keeps_the_exact_strings() -> None:
    subject = "Cantù 東京 ✓\u202e"
    report = Report(origin="vectors.spola.local/ledger", scope="item", subject=subject)
    assert "partial bundle, scope item: Cantù 東京 ✓\\u202e\n" in report.to_text()
    assert json.loads(report.to_json_text())["subject"] == subject
    hostile = _hostile_report()
    data = json.loads(hostile.to_json_text())
    assert data["subject"] == FORGERY and data["findings"][0]["expected"] == FORGERY
    text = hostile.to_json_text()
    assert all(ch.isprintable() or ch == "\n" for ch in text)
    assert "\\u009b31m\\u007f\\u0000\\u2028y" in text  # C1, DEL, NUL, line separator


@pytest.mark.parametrize(
    "value", ["\x9b2J", "\u202e", "\U000e0001", "\U0010fffe", "\ud800", "a\u2066b\u2069", "é東"]
)
def test_json_report_escapes_what_a_terminal_would_obey_and_decodes_exactly(value: str) -> None:
    report = Report(origin="o", scope="item", subject=value)
    report.add(9, 1, "rule", value, value)
    text = report.to_json_text()
    text.encode("utf-8")  # a lone surrogate, escaped, can be written out
    assert all(ch.isprintable() or ch == "\n" for ch in text)
    data = json.loads(text)
    assert data["subject"] == value
    assert data["findings"][0]["expected"] == data["findings"][0]["actual"] == value


def test_cut_escapes_before_it_cuts() -> None:
    report = Report()
    report.add(5, 1, "r", "\x1b" * 100, "ok")
    line = report.to_text(width=20).split("\n")[-4]
    assert line.split()[-1] == "\\x1b" * 4 + "…"  # no half escape before the ellipsis


def test_the_default_jobs_are_the_cores_but_never_more_than_the_cap(
    bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []

    class Recording(steps.LineChecker):
        def __init__(self, jobs: int, *args: Any) -> None:
            started.append(jobs)
            super().__init__(jobs, *args)

    monkeypatch.setattr(steps, "LineChecker", Recording)
    monkeypatch.setattr(steps.os, "cpu_count", lambda: 512)
    monkeypatch.setattr(steps, "MAX_JOBS", 2)  # so that the test starts two, not 256
    assert _verify(bundle.read_bytes()).valid
    assert started == [2]


def test_a_log_key_too_long_to_be_a_file_name_is_read_as_a_key(
    bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(bundle), "--log-key", "origin+" + "a" * 5000 + "+AQ=="]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a C2SP vkey" in err, err


@pytest.mark.parametrize(
    ("option", "said"),
    [
        ("bundle", "the bundle's path is empty: give the bundle file to verify"),
        ("--log-key", "--log-key is empty: give the log's vkey or a file holding it"),
        (
            "--trusted-checkpoint",
            "--trusted-checkpoint is empty: give a file holding a checkpoint you trust",
        ),
    ],
)
def test_an_empty_argument_is_refused_by_name(
    option: str, said: str, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A shell variable left unset gives "": the log key was then read from "." ("Is a
    # directory"), the bundle opened as "." as well, and an empty --trusted-checkpoint was
    # taken for none given: the consistency check skipped and the bundle reported VALID.
    given = {"bundle": str(bundle), "--log-key": LOG_VKEY, "--trusted-checkpoint": None}
    given[option] = ""
    argv = [str(given["bundle"]), "--log-key", str(given["--log-key"])]
    if given["--trusted-checkpoint"] is not None:
        argv += ["--trusted-checkpoint", given["--trusted-checkpoint"]]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"verify: {said}\n"


@pytest.mark.parametrize("name", ["no-such.bundle", "."])
def test_a_bundle_that_cannot_be_opened_is_named_with_why(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It was "verify: No such file or directory: no-such.bundle": which file, and as what, is
    # said first, as for the log key and the trusted checkpoint.
    path = tmp_path / name
    assert main([str(path), "--log-key", LOG_VKEY]) == 2
    err = capsys.readouterr().err
    why = "No such file or directory" if name != "." else "Is a directory"
    assert err == f"verify: cannot read the bundle {path}: {why}\n"
