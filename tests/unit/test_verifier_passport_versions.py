"""Step 10 on the list of versions: a passport bundle carries every version, oldest first, once.

The bundles are the checked-in passport vector (``valid_passport.bundle``: the scarf's passport,
two versions — the passport event at entry 18, the sale at entry 19) with its passport records
dropped, reordered or repeated, resealed. Pure: runs on a verifier-only install too.
"""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

from ledger.bundle_records import PassportRecord
from tests.vectors.bundles.sealing import DATA, LOG_VKEY, Bundle, read_bundle
from verifier import Report, passports, verify_bundle


def _good() -> Bundle:
    return read_bundle(DATA / "valid_passport.bundle")


def _verify(bundle: Bundle) -> Report:
    return verify_bundle(io.BytesIO(bundle.to_bytes()), LOG_VKEY, jobs=1)


def _found(report: Report) -> list[tuple[int, str, int | None]]:
    return sorted(((f.step, f.rule, f.index) for f in report.findings), key=repr)


def _with(records: list[PassportRecord]) -> Report:
    return _verify(replace(_good(), passports=records))


def test_a_dropped_latest_version_is_reported_missing() -> None:
    assert [r.version for r in _good().passports] == [1, 2]
    assert _verify(_good()).valid
    v1, _ = _good().passports
    report = _with([v1])
    assert _found(report) == [(10, "passport.version_missing", 19)]
    assert not report.valid


def test_a_dropped_first_version_is_reported_missing() -> None:
    _, v2 = _good().passports
    assert _found(_with([v2])) == [(10, "passport.version_missing", 18)]


def test_versions_out_of_order_and_repeated_are_reported() -> None:
    v1, v2 = _good().passports
    found = _found(_with([v2, v1, v1]))
    assert found == sorted([(10, "passport.order", 18), (10, "passport.duplicate", None)], key=repr)


def test_a_repeated_version_is_reported_once_per_repeat() -> None:
    v1, v2 = _good().passports
    found = _found(_with([v1, v1, v2, v2, v2]))
    assert found == [(10, "passport.duplicate", None)] * 3


def test_a_repeat_with_another_document_is_a_repeat() -> None:
    v1, v2 = _good().passports
    found = _found(_with([v1, v2, replace(v1, document=v2.document)]))
    assert found == [(10, "passport.duplicate", None)]


def test_a_version_beyond_the_events_is_one_finding_and_hides_no_missing_one() -> None:
    v1, v2 = _good().passports
    found = _found(_with([v1, replace(v2, version=3)]))
    assert found == sorted(
        [(10, "passport.version", None), (10, "passport.version_missing", 19)], key=repr
    )


def test_records_of_another_subject_leave_the_bundles_own_versions_missing() -> None:
    other = "/01/08000000001016/21/BMO2ZTDZWCAXFY2VIAFQ"
    v1, v2 = (replace(r, subject=other) for r in _good().passports)
    found = _found(_with([v1, v2]))
    assert found == sorted(
        [(10, "passport.subject", None)] * 2
        + [(10, "passport.version_missing", 18), (10, "passport.version_missing", 19)],
        key=repr,
    )


def test_versions_are_derived_once_per_subject(monkeypatch: Any) -> None:
    """Not once per record: R records over F facts must not cost R x F."""
    calls: list[str] = []
    derive = passports.passport_versions

    def counting(subject: str, facts: Any) -> Any:
        calls.append(subject)
        return derive(subject, facts)

    monkeypatch.setattr(passports, "passport_versions", counting)
    v1, v2 = _good().passports
    report = _with([v1, v2, *[v1] * 20])
    assert [f.rule for f in report.findings] == ["passport.duplicate"] * 20
    assert len(calls) == 1
