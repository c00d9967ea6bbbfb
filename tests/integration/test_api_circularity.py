"""``POST /v1/circularity/mci`` over real HTTP: known answers, and every refusal naming its field.

The known answers are the ones tests/unit/test_scoring_mci.py works out by hand, rounded to six
places as the API presents them. Each test runs on SQLite and PostgreSQL: the endpoint reads
no data, but it is served by the same app, lifespan and problem handlers as everything else.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.api_support import JSON_HEADERS, Api, assert_problem

pytestmark = pytest.mark.integration

URL = "/v1/circularity/mci"
SCORING_DOC = Path(__file__).resolve().parents[2] / "docs" / "scoring.md"
DOC_EXAMPLE = re.compile(r"^#### Example (request|response)\n```json\n(.+?)\n```", re.M | re.S)


def _post(app: Api, body: Any) -> httpx.Response:
    response: httpx.Response = app.client.post(URL, json=body)
    return response


def _answer(app: Api, body: Any) -> dict[str, Any]:
    response = _post(app, body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer: dict[str, Any] = response.json()
    return answer


def test_2015_known_answer_with_every_component(app: Api) -> None:
    # M = 1, FR = CR = 0.5, EF = EC = 0.8: LFI = 89/161, MCI = 809/1610 = 0.5024844...
    body = {
        "method": "2015",
        "materials": [{"mass_kg": "1", "fr": "0.5", "cr": "0.5", "ef": "0.8", "ec": "0.8"}],
    }

    answer = _answer(app, body)

    assert answer == {
        "method": "2015",
        "mci": "0.502484",
        "lfi": "0.552795",
        "utility": "1",
        "f_x": "0.9",
        "v": "0.5",
        "w": "0.6125",
        "w0": "0.5",
        "wc": "0.1",
        "wf": "0.125",
        "mass_kg": "1",
        "materials": [
            {
                "mass_kg": "1",
                "v": "0.5",
                "w0": "0.5",
                "wc": "0.1",
                "wf": "0.125",
                "w": "0.6125",
                "lfi": "0.552795",
            }
        ],
        "ignored": ["fs", "cc", "ce"],
        "note": "method 2015 has no fs, cc, ce: they were ignored",
    }


FLOWS_2019 = {
    "mass_kg": 2,
    "fr": 0.2,
    "fu": 0.1,
    "fs": 0.3,
    "cr": 0.3,
    "cu": 0.1,
    "cc": 0.2,
    "ce": 0.1,
    "ef": 0.5,
    "ec": 0.75,
}


def test_2019_known_answer_from_json_numbers(app: Api) -> None:
    # LFI = 1.675 / 4.125 = 67/165 = 0.4060606...; MCI = 349/550 = 0.6345454...
    answer = _answer(app, {"method": "2019", "materials": [FLOWS_2019]})

    assert (answer["mci"], answer["lfi"]) == ("0.634545", "0.406061")
    assert (answer["v"], answer["w0"], answer["wc"], answer["wf"]) == ("0.8", "0.6", "0.15", "0.4")
    assert answer["ignored"] == [] and "note" not in answer


def test_2015_ignores_fs_cc_ce_and_says_so(app: Api) -> None:
    # 2015 on the same flows: LFI = 23/33, MCI = 41/110 = 0.3727272...
    plain = {k: v for k, v in FLOWS_2019.items() if k not in ("fs", "cc", "ce")}

    answer = _answer(app, {"method": "2015", "materials": [FLOWS_2019]})

    assert answer["mci"] == "0.372727"
    assert answer == _answer(app, {"method": "2015", "materials": [plain]})
    assert answer["ignored"] == ["fs", "cc", "ce"]
    assert "ignored" in answer["note"]


def test_multi_material_known_answer(app: Api) -> None:
    # Sums: M = 4, V = 2, W0 = 2.25, WC = 0.75, WF = 0.5, W = 2.875; LFI = 13/21; MCI = 31/70.
    body = {
        "method": "2015",
        "materials": [
            {"mass_kg": "3", "fr": "0.5", "cr": "0.5", "ef": "0.75", "ec": "0.5"},
            {"mass_kg": "1", "fu": "0.5", "cu": "0.25"},
        ],
    }

    answer = _answer(app, body)

    assert (answer["mci"], answer["lfi"], answer["mass_kg"]) == ("0.442857", "0.619048", "4")
    assert (answer["v"], answer["w"]) == ("2", "2.875")
    assert [m["mass_kg"] for m in answer["materials"]] == ["3", "1"]
    assert answer["materials"][1] == {
        "mass_kg": "1",
        "v": "0.5",
        "w0": "0.75",
        "wc": "0",
        "wf": "0",
        "w": "0.75",
        "lfi": "0.625",
    }


def test_utility_ratios_and_the_clamp(app: Api) -> None:
    linear = [{"mass_kg": "1"}]

    better = _answer(
        app,
        {"method": "2019", "lifetime_ratio": "2", "intensity_ratio": 1.5, "materials": linear},
    )
    worse = _answer(app, {"method": "2019", "lifetime_ratio": "0.5", "materials": linear})

    assert (better["utility"], better["f_x"], better["mci"]) == ("3", "0.3", "0.7")
    assert (worse["f_x"], worse["lfi"], worse["mci"]) == ("1.8", "1", "0")


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            {"method": "2015", "materials": [{"mass_kg": "1", "fr": "1.5"}]},
            "materials[0].fr",
            "[0, 1]",
        ),
        (
            {"method": "2019", "materials": [{"mass_kg": "1", "cc": -0.1}]},
            "materials[0].cc",
            "[0, 1]",
        ),
        (
            {
                "method": "2015",
                "materials": [{"mass_kg": "1"}, {"mass_kg": "1", "fr": "0.7", "fu": "0.4"}],
            },
            "materials[1].fr",
            "fr + fu is over 1",
        ),
        (
            {"method": "2019", "materials": [{"mass_kg": "1", "fr": "0.5", "fs": "0.6"}]},
            "materials[0].fr",
            "fr + fu + fs is over 1",
        ),
        (
            {"method": "2015", "materials": [{"mass_kg": "1", "cr": "0.7", "cu": "0.4"}]},
            "materials[0].cr",
            "cr + cu is over 1",
        ),
        (
            {
                "method": "2019",
                "materials": [{"mass_kg": "1", "cr": "0.5", "cc": "0.3", "ce": "0.3"}],
            },
            "materials[0].cr",
            "cr + cu + cc + ce is over 1",
        ),
        (
            {"method": "2015", "materials": [{"mass_kg": "1", "ef": "0"}]},
            "materials[0].ef",
            "efficiency",
        ),
        (
            {"method": "2015", "materials": [{"mass_kg": "1", "ec": 0}]},
            "materials[0].ec",
            "efficiency",
        ),
        ({"method": "2015", "materials": [{"mass_kg": "0"}]}, "materials[0].mass_kg", "over 0"),
        ({"method": "2015", "materials": [{"mass_kg": -2}]}, "materials[0].mass_kg", "over 0"),
        ({"method": "2015", "materials": [{"fr": "0.5"}]}, "materials[0].mass_kg", "required"),
        ({"method": "2020", "materials": [{"mass_kg": "1"}]}, "method", "unknown method"),
        ({"method": 2015, "materials": [{"mass_kg": "1"}]}, "method", "unknown method"),
        ({"materials": [{"mass_kg": "1"}]}, "method", "required"),
        ({"method": "2015", "materials": []}, "materials", "non-empty"),
        ({"method": "2015"}, "materials", "non-empty"),
        ({"method": "2015", "materials": ["cotton"]}, "materials[0]", "object"),
        (
            {"method": "2015", "materials": [{"mass_kg": "1", "fx": "0.5"}]},
            "materials[0].fx",
            "unknown field",
        ),
        ({"method": "2015", "materials": [{"mass_kg": "one"}]}, "materials[0].mass_kg", "decimal"),
        ({"method": "2015", "materials": [{"mass_kg": True}]}, "materials[0].mass_kg", "decimal"),
        ({"method": "2015", "materials": [{"mass_kg": "1e3"}]}, "materials[0].mass_kg", "decimal"),
        (
            {"method": "2015", "materials": [{"mass_kg": 1e300}]},
            "materials[0].mass_kg",
            "out of range",
        ),
        (
            {"method": "2015", "lifetime_ratio": "0", "materials": [{"mass_kg": "1"}]},
            "lifetime_ratio",
            "over 0",
        ),
        (
            {"method": "2015", "intensity_ratio": None, "materials": [{"mass_kg": "1"}]},
            "intensity_ratio",
            "decimal",
        ),
        (
            {"method": "2015", "materials": [{"mass_kg": "1"}], "lifetime": "2"},
            "lifetime",
            "unknown field",
        ),
    ],
)
def test_impossible_input_is_a_422_naming_the_field(
    app: Api, body: dict[str, Any], field: str, words: str
) -> None:
    problem = assert_problem(_post(app, body), 422, "format", f"{field}: ", words)

    assert problem["detail"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'["method"]',
        b'{"method": "2015", "materials": [{"mass_kg": NaN}]}',
        b'{"method": "2015", "method": "2019"}',
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400(app: Api, raw: bytes) -> None:
    response = app.client.post(URL, content=raw, headers=JSON_HEADERS)

    assert_problem(response, 400, "bad-request", "body")


def test_too_many_materials_is_a_413(app: Api) -> None:
    body = {"method": "2015", "materials": [{"mass_kg": "1"}] * 201}

    assert_problem(_post(app, body), 413, "too-large", "materials", "200")


def test_numbers_are_read_exactly_not_as_binary_floats(app: Api) -> None:
    # As binary floats 0.33 + 0.56 + 0.11 is 1.0000000000000002, over 1; read as decimals it is
    # exactly 1, so the material is accepted and its virgin feedstock is exactly 0.
    raw = json.dumps(
        {"method": "2019", "materials": [{"mass_kg": 1, "fr": 0.33, "fu": 0.56, "fs": 0.11}]}
    )

    response = app.client.post(URL, content=raw.encode(), headers=JSON_HEADERS)

    assert response.status_code == 200, response.text
    assert response.json()["v"] == "0"


def test_the_documented_example_is_what_the_service_answers(app: Api) -> None:
    examples = dict(DOC_EXAMPLE.findall(SCORING_DOC.read_text(encoding="utf-8")))

    assert _answer(app, json.loads(examples["request"])) == json.loads(examples["response"])
