"""The operator's side of enrolment: ``spola actor register|update|add-key|revoke-key``.

A workshop generates its key and shows it; the operator registers the actor from a JSON
profile and adds the key, beside a running API on the same database; the workshop's next sync
is applied. Errors are one line and exit 1, including a registry rule the event breaks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spola.cli import main
from tests.integration.api_support import route_terminal_to, running_api
from tests.supply import facility

pytestmark = pytest.mark.integration

ACTOR = "urn:spola:actor:conceria-ticino"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def shown(out: str, field: str) -> str:
    return next(line.split()[1] for line in out.splitlines() if line.startswith(field))


def test_operator_enrols_a_workshop_whose_sync_is_then_applied(
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPOLA_TERMINAL_HOME", str(tmp_path / "terminal"))
    monkeypatch.setenv("SPOLA_KEY_PASSPHRASE", "cuoio al vegetale")
    profile = tmp_path / "conceria.json"
    profile.write_text(
        json.dumps(
            {
                "id": ACTOR,
                "name": "Conceria del Ticino",
                "roles": ["supplier"],
                "country": "IT",
                "region": "Lombardia",
                "facilities": [facility("main", "Robecchetto con Induno")],
            }
        )
    )
    with running_api(database_url, tmp_path / "ledger") as api:
        monkeypatch.setenv("SPOLA_HOME", str(tmp_path / "ledger"))
        monkeypatch.setenv("SPOLA_DATABASE_URL", database_url)

        code, out, err = run(capsys, "actor", "register", "--from", str(profile))
        assert (code, err) == (0, "")
        assert out.startswith("actor register: applied as log entry ")
        assert run(capsys, "key", "generate", "--actor", ACTOR)[0] == 0
        _, key_out, _ = run(capsys, "key", "show")
        code, out, err = run(
            capsys, "actor", "add-key", ACTOR, "--public-key", shown(key_out, "public_key")
        )
        assert (code, err) == (0, "")
        record = api.client.get(f"/v1/keys/{shown(key_out, 'key_id')}").json()
        assert record["actor"] == ACTOR

        route_terminal_to(api, monkeypatch)
        lot = "urn:spola:lot:conceria-ticino:CR26-01"
        assert run(
            capsys, "sign", "material", "--lot", lot, "--material", "leather-bovine-vegetable",
            "--quantity", "310", "--facility", "main",
        )[0] == 0  # fmt: skip
        code, out, err = run(capsys, "sync", "--ledger", "http://ledger.test")
        assert code == 0, err
        assert "1 applied" in out
        assert api.client.get(f"/v1/lots/{lot}").json()["origin"] == ACTOR

        code, out, err = run(
            capsys, "actor", "revoke-key", ACTOR, shown(key_out, "key_id"), "--reason", "lost"
        )
        assert (code, err) == (0, "")
        record = api.client.get(f"/v1/keys/{shown(key_out, 'key_id')}").json()
        assert record["revoked_at_index"] is not None


def test_operator_errors_are_one_line(
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPOLA_HOME", str(tmp_path / "ledger"))
    monkeypatch.setenv("SPOLA_DATABASE_URL", database_url)
    assert run(capsys, "init")[0] == 0
    profile = tmp_path / "p.json"
    profile.write_text(
        json.dumps({"id": ACTOR, "name": "C", "roles": ["supplier"], "country": "IT"})
    )
    assert run(capsys, "actor", "register", "--from", str(profile))[0] == 0

    cases = [
        (["actor", "register", "--from", str(profile)], "rule registry.actor_exists"),
        (["actor", "add-key", "urn:spola:actor:nobody", "--public-key", "A" * 43 + "="],
         "rule registry.unknown_actor"),
        (["actor", "add-key", ACTOR, "--public-key", "not base64"], "public key is not base64"),
    ]  # fmt: skip
    header = tmp_path / "header.json"
    header.write_text(json.dumps({"id": ACTOR, "seq": 4}))
    cases.append((["actor", "update", "--from", str(header)], "'seq' is set by"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    cases.append((["actor", "update", "--from", str(broken)], "not JSON"))
    for args, words in cases:
        code, out, err = run(capsys, *args)
        assert code == 1, (args, out, err)
        assert len(err.strip().splitlines()) == 1 and err.startswith("spola: "), err
        assert words in err, err
