"""A brand's terminal issues what only it can sign: a passport for a piece it made, its
directory profile and its maturity self-assessment, with ``spola sign … --from FILE`` like any
other event, and they reach the ledger with ``spola sync``.

``spola sign`` knew only the five supply-chain events: a brand had no spola tool to issue a
passport, nor any actor to sign its profile or a company its self-assessment (the docs sent
brands to ``spola sign --from FILE``, which refused a passport row as the wrong type).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from signer.keyfile import read_key_info
from tests.integration.api_support import get_json, route_terminal_to, running_api
from tests.supply import facility, item, make, take
from tests.terminal import run_cli as run

pytestmark = pytest.mark.integration

BRAND = "urn:spola:actor:maison-cli"
LOT = "urn:spola:lot:maison-cli"
PIECE = "/01/08000000001016/21/CLIPIECE0001"


def _write(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text(json.dumps(rows), encoding="utf-8")
    return str(path)


def test_a_brand_signs_its_passport_profile_and_assessment_from_files(
    home: Path,
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run(capsys, "key", "generate", "--actor", BRAND)[0] == 0
    with running_api(database_url, tmp_path / "ledger-home") as api:
        info = read_key_info(home / "terminal.key")
        api.accept(
            [
                api.operator.register(
                    BRAND, name="Maison CLI", roles=["brand", "supplier"],
                    facilities=[facility(town="Milano")],
                ),
                api.operator.sign(
                    {
                        "type": "key", "op": "add", "subject": BRAND,
                        "key_id": info.key_id, "public_key": info.public_key.to_base64(),
                    }
                ),
            ]
        )  # fmt: skip
        route_terminal_to(api, monkeypatch)
        made = [
            {"type": "material", "lot": f"{LOT}:S1", "material": "silk-mulberry",
             "quantity": {"value": "1", "unit": "KGM"}, "facility": "main"},
        ]  # fmt: skip
        sewn = [
            {"type": "process", "process": "sewing", "facility": "main",
             "inputs": [take(f"{LOT}:S1", "0.3")], "outputs": [make(f"{LOT}:R1", "0.1")],
             "items": [item(PIECE, "0.2")]},
        ]  # fmt: skip
        passport = {
            "subject": PIECE,
            "product": {"name": "Foulard Brera", "category": "scarf", "country": "IT",
                        "lang": "it"},
            "instructions": {"care": ["Lavare a secco"], "take_back": "Riportalo in negozio."},
        }  # fmt: skip
        profile = {"processes": ["sewing"], "materials": ["silk-mulberry"],
                   "contact": "Atelier a Milano", "public_figures": ["maturity"]}  # fmt: skip
        assessment = {
            "model": "2026.1", "date": "2026-11-20",
            "answers": [{"question": "tr-1", "answer": "yes", "note": "elenco fornitori"}],
        }  # fmt: skip
        for kind, rows in (
            ("material", made), ("process", sewn), ("passport", [passport]),
            ("profile", [profile]), ("assessment", [assessment]),
        ):  # fmt: skip
            code, out, err = run(
                capsys, "sign", kind, "--from", _write(tmp_path / f"{kind}.json", rows)
            )
            assert code == 0, err
            assert f"signed and queued 1 {kind} event(s)" in out

        code, out, err = run(capsys, "sync", "--ledger", "http://ledger.test")
        assert code == 0, err
        assert "sent 5: 5 applied, 0 not applied" in out, out

        page = api.client.get(PIECE, headers={"Accept": "text/html"})
        assert page.status_code == 200 and "Foulard Brera" in page.text
        assert '<h1 id="product-name" dir="auto" lang="it">Foulard Brera</h1>' in page.text
        maturity = get_json(api, f"/v1/actors/{BRAND}/maturity")
        assert maturity["assessment"] is not None
        profile_json = get_json(api, f"/v1/directory/{BRAND}")
        assert "sewing" in json.dumps(profile_json)


@pytest.mark.parametrize("kind", ["passport", "profile", "assessment"])
def test_these_events_come_from_a_file_only(
    home: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "key", "generate", "--actor", BRAND)
    with pytest.raises(SystemExit) as refused:
        run(capsys, "sign", kind)
    assert refused.value.code == 2
    assert "--from" in capsys.readouterr().err


def test_a_passport_row_with_a_bad_field_is_named_and_nothing_queued(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "key", "generate", "--actor", BRAND)
    bad = {"subject": PIECE, "product": {"name": "X", "category": "scarf", "country": "Italy"}}
    code, _, err = run(capsys, "sign", "passport", "--from", _write(tmp_path / "p.json", [bad]))
    assert code == 1
    assert err.startswith("spola: event 1: passport event: product.country"), err
    code, out, _ = run(capsys, "queue")
    assert code == 0 and "0 pending" in out, out
