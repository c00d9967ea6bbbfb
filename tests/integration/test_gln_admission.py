"""A GLN is admitted only with a valid GS1 check digit, over HTTP and through the CLI.

An actor's profile (``actor`` register/update) may carry a GLN for the actor (party, exported
as ``https://id.gs1.org/417/{gln}``) and one per facility (``/414/{gln}``). The last of its 13
digits is the GS1 mod-10 check digit, as in a GTIN: a typo'd GLN would be logged for ever and
exported as an identifier GS1 tools reject, so the ledger refuses the event (422, nothing
logged) and says which field holds it and which check digit it should end in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spola.cli import main
from tests.integration.api_support import Api, assert_problem, running_api, urn

pytestmark = pytest.mark.integration

SLUG = "seteria-como"
GOOD_PARTY, GOOD_SITE = "8012345000012", "8012345000029"


def in_digits(gln: str, zero: int) -> str:
    """``gln`` spelt in another script's decimal digits, from code point ``zero`` up."""
    return "".join(chr(zero + int(d)) for d in gln)


def works(gln: str | None = None) -> dict[str, Any]:
    facility = {"id": "main", "name": "Works", "town": "Como", "country": "IT"}
    return facility | {"lat": "45.8081", "lon": "9.0852"} | ({"gln": gln} if gln else {})


def profile(op: str = "register", **extra: Any) -> dict[str, Any]:
    fields = {"type": "actor", "op": op, "id": urn(SLUG), "name": "Seteria di Como"}
    return fields | {"roles": ["supplier"], "country": "IT"} | extra


def refused(api: Api, fields: dict[str, Any], *detail: str) -> None:
    """The operator's event ``fields`` is refused with a format problem; nothing is logged."""
    size = api.tree_size()
    assert_problem(api.post(api.operator.sign_unchecked(fields)), 422, "format", *detail)
    assert api.tree_size() == size


@pytest.mark.parametrize(
    ("extra", "detail"),
    [
        ({"gln": "8012345000017"}, ("gln: ", "8012345000017", "check digit 7, expected 2")),
        (
            {"facilities": [works("8012345000024")]},
            ("facilities.0.gln: ", "check digit 4, expected 9"),
        ),
        (
            {"gln": GOOD_PARTY, "facilities": [works(GOOD_SITE), works("8012345000013")]},
            ("facilities.1.gln: ", "check digit 3, expected 2"),
        ),
        # \d would match these (Unicode decimal digits); GS1 keys are ASCII digits only.
        ({"gln": in_digits(GOOD_PARTY, 0xFF10)}, ("gln: ", "should match pattern")),
        ({"gln": in_digits(GOOD_PARTY, 0x0660)}, ("gln: ", "should match pattern")),
    ],
    ids=["party", "facility", "second-facility", "fullwidth-digits", "arabic-indic-digits"],
)
def test_actor_registered_with_a_wrong_gln_is_refused_and_nothing_is_logged(
    database_url: str, tmp_path: Path, extra: dict[str, Any], detail: tuple[str, ...]
) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        refused(api, profile(**extra), "actor event: ", *detail)
        # The operator's feed did not move: the corrected profile takes the same seq.
        (receipt,) = api.accept(
            api.operator.register(urn(SLUG), gln=GOOD_PARTY, facilities=[works(GOOD_SITE)])
        )
        assert receipt["applied"], receipt["violation"]


def test_profile_update_with_a_wrong_gln_is_refused(database_url: str, tmp_path: Path) -> None:
    with running_api(database_url, tmp_path / "home") as api:
        api.accept(api.operator.register(urn(SLUG), facilities=[works()]))
        refused(api, profile("update", gln="8012345000010"), "gln: ", "expected 2")
        refused(
            api,
            profile("update", facilities=[works("8012345000020")]),
            "facilities.0.gln: ",
            "check digit 0, expected 9",
        )
        update = profile("update", gln=GOOD_PARTY, facilities=[works(GOOD_SITE)])
        (receipt,) = api.accept(api.operator.sign(update))
        assert receipt["applied"], receipt["violation"]


def test_cli_actor_register_refuses_a_wrong_gln_in_one_line(
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = tmp_path / "seteria.json"
    body = {k: v for k, v in profile().items() if k not in ("type", "op")}
    source.write_text(json.dumps(body | {"facilities": [works("8012345000024")]}))
    with running_api(database_url, tmp_path / "ledger") as api:
        monkeypatch.setenv("SPOLA_HOME", str(tmp_path / "ledger"))
        monkeypatch.setenv("SPOLA_DATABASE_URL", database_url)
        size = api.tree_size()
        code = main(["actor", "register", "--from", str(source)])
        out, err = capsys.readouterr()
        assert (code, out) == (1, "")
        assert err.count("\n") == 1 and "facilities.0.gln: " in err and "expected 9" in err, err
        assert api.tree_size() == size
