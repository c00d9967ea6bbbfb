"""A passport's offline proof: ``GET /v1/passports/{path}/bundle`` verified with the log key alone.

On SQLite and PostgreSQL, over the demo ledger: the bundle of every demo passport verifies and
carries the exact public document of every version the API serves; fetched over real HTTP from
``spola serve`` it verifies with ``python -m verifier`` (exit 0), and with one passport field
altered it does not (exit 1, a step-10 finding naming the field). ``spola export bundle
--item`` and ``--actor`` write partial bundles that ``spola verify`` accepts; and the versions
the verifier derives from the events are the ones the store lists.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from api.demo_story import BAGS, BRAND, JACKETS, SCARVES
from ledger.bundle import Manifest, parse_record
from ledger.bundle_records import EntryRecord, InclusionRecord, PassportRecord
from ledger.canonical import canonical_bytes
from ledger.passport import passport_versions
from ledger.receipt import Violation
from ledger.store.bundle import export_partial_bundle
from ledger.supply import ProcessEvent
from tests.integration.api_support import DEMO_ENTRIES, Api, store_of
from tests.integration.test_cli import Operator
from tests.integration.test_http_server import Site, serving
from tests.integration.test_http_server import site as site  # noqa: PLC0414 (the fixture)
from verifier import verify_bundle

pytestmark = pytest.mark.integration

JACKET = JACKETS[0]  # sold, then repaired: three versions
PIECES = [*SCARVES, *JACKETS, *BAGS]
MEDIA_TYPE = "application/vnd.spola.bundle"


def _passport_records(data: bytes) -> list[PassportRecord]:
    lines = data.splitlines(keepends=True)[1:]
    records = [parse_record(line, number=n) for n, line in enumerate(lines, start=2)]
    return [r for r in records if isinstance(r, PassportRecord)]


def _alter_product_name(data: bytes, name: str) -> bytes:
    """The bundle with version 1's product name changed, resealed (manifest hash updated)."""
    first, *body = data.splitlines(keepends=True)
    for i, line in enumerate(body):
        record = parse_record(line, number=i + 2)
        if isinstance(record, PassportRecord) and record.version == 1:
            document = json.loads(record.document)
            document["product"]["name"] = name
            body[i] = replace(record, document=canonical_bytes(document)).to_line()
    rest = b"".join(body)
    manifest = replace(Manifest.from_line(first), body_sha256=hashlib.sha256(rest).digest())
    return manifest.to_line() + rest


def test_every_demo_passport_bundle_verifies_and_holds_each_served_version(demo: Api) -> None:
    vkey = demo.client.get("/v1/log/key").text
    for subject in PIECES:
        response = demo.client.get(f"/v1/passports{subject}/bundle")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == MEDIA_TYPE
        report = verify_bundle(io.BytesIO(response.content), vkey, jobs=1)
        assert report.valid, report.to_text()
        statuses = {s["step"]: s["status"] for s in report.to_json()["steps"]}
        assert statuses[6] == statuses[7] == statuses[10] == "ok"
        assert statuses[9].startswith("ok (partial bundle: verdicts checked against the log key")
        records = _passport_records(response.content)
        served = demo.client.get(f"/v1/passports{subject}").json()
        assert [r.version for r in records] == [v["version"] for v in served["versions"]]
        for record in records:
            version = demo.client.get(f"/v1/passports{subject}/versions/{record.version}")
            assert record.document == version.content, (subject, record.version)


def _flip_first_verdict(data: bytes) -> tuple[bytes, int]:
    """The bundle with its first non-genesis entry published as refused, resealed; its index."""
    first, *body = data.splitlines(keepends=True)
    for i, line in enumerate(body):
        record = parse_record(line, number=i + 2)
        if isinstance(record, EntryRecord) and record.index > 0 and record.applied:
            forged = Violation("lifecycle.wrong_state", "made up by whoever edited the file")
            body[i] = replace(record, applied=False, violation=forged).to_line()
            break
    rest = b"".join(body)
    manifest = replace(Manifest.from_line(first), body_sha256=hashlib.sha256(rest).digest())
    return manifest.to_line() + rest, record.index


def test_a_verdict_edited_in_a_served_bundle_breaks_the_log_keys_statement(demo: Api) -> None:
    vkey = demo.client.get("/v1/log/key").text
    served = demo.client.get(f"/v1/passports{JACKET}/bundle").content
    forged, index = _flip_first_verdict(served)
    report = verify_bundle(io.BytesIO(forged), vkey, jobs=1)
    rules = {(f.step, f.rule) for f in report.findings}
    assert (9, "verdicts.digest") in rules, report.to_text()
    assert not report.valid and index > 0


def test_passport_bundle_is_revalidated_by_etag_and_unknown_passports_are_404(
    demo: Api,
) -> None:
    first = demo.client.get(f"/v1/passports{JACKET}/bundle")
    tag = first.headers["etag"]
    again = demo.client.get(f"/v1/passports{JACKET}/bundle", headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert first.headers["cache-control"] == "public, no-cache"
    assert "attachment" in first.headers["content-disposition"]
    missing = demo.client.get("/v1/passports/01/08000000001016/21/AAAAAAAAAAAAAAAAAAAA/bundle")
    assert missing.status_code == 404, missing.text


def test_versions_from_the_events_are_the_stores(demo: Api) -> None:
    store = store_of(demo)
    for subject in PIECES:
        facts = store.passport_facts(subject)
        assert passport_versions(subject, facts.facts) == list(facts.versions), subject


def _verifier(bundle: Path, vkey: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verifier", str(bundle), "--log-key", str(vkey), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_bundle_fetched_over_real_http_verifies_and_an_altered_field_is_named(
    site: Site, tmp_path: Path
) -> None:
    with serving(site) as client:
        vkey = client.get("/v1/log/key").text
        response = client.get(f"/v1/passports{JACKET}/bundle")
    assert response.status_code == 200 and response.headers["content-type"] == MEDIA_TYPE
    (tmp_path / "log.vkey").write_text(vkey)
    good = tmp_path / "jacket.bundle"
    good.write_bytes(response.content)
    verified = _verifier(good, tmp_path / "log.vkey")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["valid"] is True

    altered = tmp_path / "altered.bundle"
    altered.write_bytes(_alter_product_name(response.content, "Giacca Contraffatta"))
    refused = _verifier(altered, tmp_path / "log.vkey")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    findings = json.loads(refused.stdout)["findings"]
    assert [(f["step"], f["rule"]) for f in findings] == [(10, "passport.field")]
    assert findings[0]["expected"].startswith("/product/name: ")
    assert findings[0]["actual"] == '"Giacca Contraffatta"'


def test_cli_exports_item_and_actor_bundles_that_verify(op_db: Operator, tmp_path: Path) -> None:
    assert op_db.spola("init").code == 0
    assert op_db.spola("demo").code == 0
    key_file = tmp_path / "log.vkey"
    key_file.write_text(op_db.spola("log", "key").stdout)
    for option, subject in (("--item", JACKET), ("--actor", f"urn:spola:actor:{BRAND}")):
        out = tmp_path / f"{option[2:]}.bundle"
        exported = op_db.spola("export", "bundle", "--out", str(out), option, subject)
        assert exported.code == 0, exported.stderr
        assert f"bundle of {subject}" in exported.stdout
        manifest = Manifest.from_line(out.open("rb").readline())
        assert (manifest.scope, manifest.subject) == (option[2:], subject)
        assert manifest.inclusion == manifest.entries < DEMO_ENTRIES
        verified = op_db.spola("verify", str(out), "--log-key", str(key_file))
        assert verified.code == 0, verified.stdout + verified.stderr
        assert "VALID" in verified.stdout and f"scope {option[2:]}" in verified.stdout
    unknown = op_db.spola("export", "bundle", "--out", str(tmp_path / "x"), "--actor", "urn:x")
    assert unknown.code == 1 and "signed no entry" in unknown.stderr
    assert not (tmp_path / "x").exists()


@pytest.fixture
def op_db(tmp_path: Path, database_url: str) -> Operator:
    return Operator(tmp_path / "home", database_url, tmp_path, [])


def test_partial_bundle_entries_are_the_passport_entries_and_their_registry(demo: Api) -> None:
    response = demo.client.get(f"/v1/passports{JACKET}/bundle")
    lines = response.content.splitlines(keepends=True)[1:]
    records = [parse_record(line, number=n) for n, line in enumerate(lines, start=2)]
    indexes = [r.index for r in records if isinstance(r, EntryRecord)]
    proved = [r.index for r in records if isinstance(r, InclusionRecord)]
    latest = json.loads(_passport_records(response.content)[-1].document)
    assert set(latest["entries"]) <= set(indexes)
    assert indexes == proved == sorted(set(indexes)) and indexes[0] == 0


def test_item_bundle_of_a_lot_without_passport_carries_its_making_and_verifies(
    demo: Api, tmp_path: Path
) -> None:
    store = store_of(demo)
    making = [f for f in store.passport_facts(JACKET).facts if isinstance(f.event, ProcessEvent)]
    made = making[0].event
    assert isinstance(made, ProcessEvent) and made.outputs
    lot = made.outputs[0].lot
    out = tmp_path / "lot.bundle"
    summary = export_partial_bundle(store, out, scope="item", subject=lot)
    assert summary.tree_size == DEMO_ENTRIES + 1
    with out.open("rb") as source:
        report = verify_bundle(source, store.log_vkey, jobs=2)
    assert report.valid, report.to_text()
    lines = out.read_bytes().splitlines(keepends=True)[1:]
    records = [parse_record(line, number=n) for n, line in enumerate(lines, start=2)]
    assert making[0].index in {r.index for r in records if isinstance(r, EntryRecord)}
    assert not [r for r in records if isinstance(r, PassportRecord)]
