"""``--jobs``: worker processes change how fast a bundle is verified, never what is found.

Batches and chunks are made tiny here so that even the small checked-in vectors cross many
batch and chunk boundaries and go through the process pool.
"""

from __future__ import annotations

import io
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ledger.bundle import MAX_LINE_BYTES
from tests.vectors.bundles.sealing import DATA, LOG_VKEY
from verifier import Report, reading, steps, verify_bundle
from verifier import entries as entries_module

BUNDLES = sorted(DATA.glob("*.bundle"))


@pytest.fixture
def tiny_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "FIRST_BATCH_LINES", 2)
    monkeypatch.setattr(reading, "BATCH_LINES", 3)
    monkeypatch.setattr(steps, "CHUNK", 4)


def _verify(data: bytes, jobs: int, **options: Any) -> Report:
    return verify_bundle(io.BytesIO(data), LOG_VKEY, jobs=jobs, **options)


def _same(one: Report, many: Report) -> None:
    assert many.findings == one.findings
    assert (many.omitted, many.skipped, many.valid) == (one.omitted, one.skipped, one.valid)
    assert (many.entries, many.signatures_checked) == (one.entries, one.signatures_checked)


@pytest.mark.usefixtures("tiny_batches")
@pytest.mark.parametrize("path", BUNDLES, ids=[p.stem for p in BUNDLES])
def test_two_jobs_report_exactly_what_one_job_reports(path: Path) -> None:
    data = path.read_bytes()
    _same(_verify(data, 1), _verify(data, 2))


@pytest.mark.parametrize("path", BUNDLES, ids=[p.stem for p in BUNDLES])
def test_batch_and_chunk_sizes_do_not_change_the_findings(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = path.read_bytes()
    whole = _verify(data, 1)
    monkeypatch.setattr(reading, "FIRST_BATCH_LINES", 1)
    monkeypatch.setattr(reading, "BATCH_LINES", 2)
    monkeypatch.setattr(steps, "CHUNK", 3)
    assert sorted(map(repr, _verify(data, 2).findings)) == sorted(map(repr, whole.findings))


@pytest.mark.usefixtures("tiny_batches")
def test_stray_lines_among_the_entries_are_reported_alike() -> None:
    lines = (DATA / "valid.bundle").read_bytes().splitlines(keepends=True)
    checkpoint_line = lines[1]
    lines[6:6] = [b"not json\n", checkpoint_line]
    lines[12:12] = [b'{"kind":"mystery"}\n']
    data = b"".join(lines)
    one, many = _verify(data, 1), _verify(data, 2)
    _same(one, many)
    assert {"bundle.line", "bundle.order"} <= {f.rule for f in one.findings}


@pytest.mark.usefixtures("tiny_batches")
def test_an_overlong_line_stops_the_reading_alike() -> None:
    lines = (DATA / "valid.bundle").read_bytes().splitlines(keepends=True)
    lines[9:9] = [b"x" * (MAX_LINE_BYTES + 10) + b"\n"]
    data = b"".join(lines)
    one, many = _verify(data, 1), _verify(data, 2)
    _same(one, many)
    assert one.entries == 7  # the entries before the overlong line, none after it
    assert {"bundle.line", "entries.count"} <= {f.rule for f in one.findings}


@pytest.mark.usefixtures("tiny_batches")
def test_one_job_starts_no_process_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("--jobs 1 started a process pool")

    monkeypatch.setattr(entries_module, "ProcessPoolExecutor", refuse)
    assert _verify((DATA / "valid.bundle").read_bytes(), 1).valid


class _CountingPool(ProcessPoolExecutor):
    batches = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        _CountingPool.batches += 1
        return super().submit(fn, *args, **kwargs)


@pytest.mark.usefixtures("tiny_batches")
def test_more_jobs_check_batches_in_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entries_module, "ProcessPoolExecutor", _CountingPool)
    _CountingPool.batches = 0
    report = _verify((DATA / "valid.bundle").read_bytes(), 2)
    assert report.valid
    assert report.signatures_checked == report.entries
    assert _CountingPool.batches >= 3  # the first batch is checked in the calling process
