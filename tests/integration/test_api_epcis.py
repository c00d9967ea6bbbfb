"""EPCIS 2.0 export through the real API and the real CLI, on SQLite and PostgreSQL.

A small chain is signed by workshop terminals and posted over HTTP: a silk mill commissions a
lot, weaves it into fabric and ships it to a dye house, which dyes a scarf, sells it to a brand
and ships it there; the brand sells it, takes it back, repairs it and recycles it. One shipment
is refused, and one handover claims more than the mill holds (logged, not applied). Every
document the service or ``spola export epcis`` writes must validate against GS1's EPCIS 2.0
schema, and GS1's reference implementation must compute the same event IDs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ledger.envelope import Envelope
from ledger.feed import payload_digest
from tests.epcis_oracle import reference_hashes, schema_errors
from tests.integration.api_support import Api, assert_problem, running_api
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

MAX_PAGE = 5
GLN_MILL, GLN_WORKS = "8012345000012", "8012345000029"
LOT = "urn:spola:lot:seteria:S26-0142"
FABRIC = "/01/09506000134352/10/S26.01"
SCARF = "/01/09506000134352/21/8F3KQ2M7XW"
RECYCLED = "urn:spola:lot:maison:R26-1"
SCRIPT = Path(sys.executable).with_name("spola")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "spola"]


def q(value: str, unit: str = "KGM") -> dict[str, str]:
    return {"value": value, "unit": unit}


def works(gln: str | None = None) -> dict[str, Any]:
    facility = {"id": "main", "name": "Works", "town": "Como", "country": "IT"}
    return facility | {"lat": "45.8081", "lon": "9.0852"} | ({"gln": gln} if gln else {})


@dataclass
class Chain:
    api: Api
    home: Path
    database_url: str
    terminals: dict[str, Terminal] = field(default_factory=dict)
    index: dict[str, int] = field(default_factory=dict)  # step name → log index
    time: dict[str, str] = field(default_factory=dict)
    refused: int = -1

    def step(self, name: str, who: str, day: int, fields: dict[str, Any]) -> None:
        time = f"2026-01-{day:02d}T08:00:00Z"
        (receipt,) = self.api.accept(self.terminals[who].sign(fields | {"time": time}))
        assert receipt["applied"], receipt["violation"]
        self.index[name], self.time[name] = receipt["index"], time


def build_chain(api: Api, home: Path, database_url: str) -> Chain:
    chain = Chain(api, home, database_url)
    chain.terminals["mill"] = api.enrol("seteria", gln=GLN_MILL, facilities=[works(GLN_WORKS)])
    chain.terminals["dyer"] = api.enrol("tintoria", facilities=[works()])
    chain.terminals["brand"] = api.enrol("maison", roles=["brand"], facilities=[works()])
    mill, dyer, brand = (chain.terminals[k].actor for k in ("mill", "dyer", "brand"))
    material = {"material": "silk-mulberry", "facility": "main"}
    chain.step(
        "material", "mill", 10, {"type": "material", "lot": LOT, "quantity": q("100")} | material
    )
    chain.step(
        "weaving",
        "mill",
        11,
        {
            "type": "process",
            "process": "weaving",
            "facility": "main",
            "inputs": [{"lot": LOT, "quantity": q("60")}],
            "outputs": [
                {
                    "lot": FABRIC,
                    "material": "silk-mulberry",
                    "quantity": q("120", "MTR"),
                    "mass_per_unit": q("0.4"),
                }
            ],
        },
    )
    ship = {"type": "handover", "from_facility": "main", "to_facility": "main"}
    chain.step(
        "ship-fabric",
        "mill",
        12,
        ship | {"id": "DDT-1", "to": dyer, "lines": [{"lot": FABRIC, "quantity": q("100", "MTR")}]},
    )
    chain.step(
        "receive-fabric",
        "dyer",
        13,
        {
            "type": "receipt",
            "handover": {"sender": mill, "id": "DDT-1"},
            "accepted": True,
            "facility": "main",
        },
    )
    chain.step(
        "dyeing",
        "dyer",
        14,
        {
            "type": "process",
            "process": "dyeing",
            "facility": "main",
            "inputs": [{"lot": FABRIC, "quantity": q("100", "MTR")}],
            "items": [{"id": SCARF, "product": "Foulard Lario 90x90", "mass": q("0.2")}],
        },
    )
    life = {"type": "lifecycle", "item": SCARF}
    chain.step("sell-to-brand", "dyer", 15, life | {"kind": "sale", "to": brand})
    chain.step(
        "ship-scarf",
        "dyer",
        16,
        {"type": "handover", "id": "B-7", "to": brand, "lines": [{"item": SCARF}]},
    )
    chain.step(
        "receive-scarf",
        "brand",
        17,
        {"type": "receipt", "handover": {"sender": dyer, "id": "B-7"}, "accepted": True},
    )
    chain.step("sale", "brand", 18, life | {"kind": "sale", "facility": "main"})
    chain.step("take-back", "brand", 19, life | {"kind": "take-back", "facility": "main"})
    chain.step("repair", "brand", 20, life | {"kind": "repair", "description": "hem restitched"})
    chain.step(
        "recycling",
        "brand",
        21,
        life
        | {
            "kind": "recycling",
            "outputs": [{"lot": RECYCLED, "material": "silk-recycled", "quantity": q("0.15")}],
        },
    )
    chain.step(
        "ship-lot",
        "mill",
        22,
        {
            "type": "handover",
            "id": "DDT-2",
            "to": dyer,
            "lines": [{"lot": LOT, "quantity": q("10")}],
        },
    )
    chain.step(
        "refuse-lot",
        "dyer",
        23,
        {
            "type": "receipt",
            "handover": {"sender": mill, "id": "DDT-2"},
            "accepted": False,
            "reason": "wrong colour",
        },
    )
    too_much = {
        "type": "handover",
        "id": "DDT-3",
        "to": dyer,
        "lines": [{"lot": LOT, "quantity": q("1000")}],
    }
    (refused,) = api.accept(chain.terminals["mill"].sign(too_much))
    assert not refused["applied"]
    chain.refused = refused["index"]
    return chain


@pytest.fixture
def chain(database_url: str, tmp_path: Path) -> Iterator[Chain]:
    home = tmp_path / "home"
    with running_api(database_url, home, max_page=MAX_PAGE) as api:
        yield build_chain(api, home, database_url)


def get_pages(api: Api, **params: str) -> list[dict[str, Any]]:
    """Every page of documents the filters select, following the Link headers."""
    documents: list[dict[str, Any]] = []
    url: str | None = "/v1/epcis/events"
    while url is not None:
        response = api.client.get(url, params=None if documents else params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/ld+json")
        assert response.headers["gs1-epcis-version"] == "2.0.0"
        document = response.json()
        assert schema_errors(document) == []
        documents.append(document)
        link = response.headers.get("link")
        found = re.fullmatch(r'<(http[^>]+)>; rel="next"', link or "")
        assert link is None or found, link
        url = found.group(1) if found else None
    return documents


def get_all(api: Api, **params: str) -> tuple[list[dict[str, Any]], int]:
    """Every event the filters select, in log order; and the number of pages they took."""
    documents = get_pages(api, **params)
    return [e for d in documents for e in d["epcisBody"]["eventList"]], len(documents)


def indices(events: list[dict[str, Any]]) -> list[int]:
    return sorted({e["spola:logIndex"] for e in events})


def test_export_is_schema_valid_and_hashes_as_the_reference(chain: Chain) -> None:
    documents = get_pages(chain.api)
    assert len(documents) == -(-len(chain.index) // MAX_PAGE)
    events = [e for d in documents for e in d["epcisBody"]["eventList"]]
    assert indices(events) == sorted(chain.index.values())
    assert chain.refused not in indices(events)  # a refused claim is not an EPCIS event
    assert len(events) == len(chain.index) + 1  # recycling: a transformation and an end
    for document in documents:
        ids = [e["eventID"] for e in document["epcisBody"]["eventList"]]
        assert ids == reference_hashes(document)
    for event in events:
        signed = Envelope.from_bytes(chain.api.entry(event["spola:logIndex"])).payload
        assert event["spola:payloadDigest"] == "sha-256:" + payload_digest(signed)
        assert event["eventTime"] == json.loads(signed)["time"]


def test_steps_map_to_their_cbv_business_steps(chain: Chain) -> None:
    events, _ = get_all(chain.api)
    by_index: dict[int, list[str]] = {}
    for event in events:
        by_index.setdefault(event["spola:logIndex"], []).append(event["bizStep"])
    steps = {name: by_index[index] for name, index in chain.index.items()}
    assert steps == {
        "material": ["commissioning"],
        "weaving": ["commissioning"],
        "ship-fabric": ["shipping"],
        "receive-fabric": ["receiving"],
        "dyeing": ["commissioning"],
        "sell-to-brand": ["accepting"],
        "ship-scarf": ["shipping"],
        "receive-scarf": ["receiving"],
        "sale": ["retail_selling"],
        "take-back": ["collecting"],
        "repair": ["repairing"],
        "recycling": ["commissioning", "destroying"],
        "ship-lot": ["shipping"],
        "refuse-lot": ["receiving"],
    }
    (material,) = [e for e in events if e["spola:logIndex"] == chain.index["material"]]
    assert material["readPoint"] == {"id": f"https://id.gs1.org/414/{GLN_WORKS}"}


def test_filters_select_by_actor_item_lot_and_time(chain: Chain) -> None:
    i = chain.index
    dyer = chain.terminals["dyer"].actor
    by_actor, _ = get_all(chain.api, actor=dyer)
    assert indices(by_actor) == sorted(
        i[k] for k in ("receive-fabric", "dyeing", "sell-to-brand", "ship-scarf", "refuse-lot")
    )
    fabric = sorted(i[k] for k in ("weaving", "ship-fabric", "receive-fabric", "dyeing"))
    assert indices(get_all(chain.api, lot=FABRIC)[0]) == fabric
    assert indices(get_all(chain.api, lot="https://id.gs1.org" + FABRIC)[0]) == fabric
    scarf = ("dyeing", "sell-to-brand", "ship-scarf", "receive-scarf", "sale", "take-back")
    scarf += ("repair", "recycling")
    assert indices(get_all(chain.api, item=SCARF)[0]) == sorted(i[k] for k in scarf)
    assert indices(get_all(chain.api, lot=RECYCLED)[0]) == [i["recycling"]]
    window, _ = get_all(chain.api, since=chain.time["ship-fabric"], until=chain.time["sale"])
    shipped_to_received = ("ship-fabric", "receive-fabric", "dyeing", "sell-to-brand", "ship-scarf")
    assert indices(window) == sorted(i[k] for k in (*shipped_to_received, "receive-scarf"))
    both, _ = get_all(chain.api, actor=dyer, item=SCARF)
    assert indices(both) == sorted(i[k] for k in ("dyeing", "sell-to-brand", "ship-scarf"))


def test_pages_are_bounded_and_follow_the_log(chain: Chain) -> None:
    everything, _ = get_all(chain.api)
    response = chain.api.client.get("/v1/epcis/events", params={"limit": 1000})
    first = response.json()["epcisBody"]["eventList"]
    assert len(indices(first)) == MAX_PAGE  # the service's max_page bounds any limit
    paged, pages = get_all(chain.api, limit="2")
    assert pages == -(-len(chain.index) // 2)
    assert [e["eventID"] for e in paged] == [e["eventID"] for e in everything]
    last = chain.api.client.get("/v1/epcis/events", params={"cursor": chain.refused + 1})
    assert last.json()["epcisBody"]["eventList"] == [] and "link" not in last.headers


@pytest.mark.parametrize(
    ("params", "status", "kind", "detail"),
    [
        ({"since": "yesterday"}, 422, "format", "since"),
        (
            {"since": "2026-01-20T00:00:00Z", "until": "2026-01-10T00:00:00Z"},
            422,
            "format",
            "until",
        ),
        ({"lot": "/01/09506000134353/10/X"}, 422, "format", "check digit"),
        ({"lot": "urn:spola:lot:seteria:none"}, 404, "not-found", "urn:spola:lot:seteria:none"),
        ({"actor": "urn:spola:actor:nobody"}, 404, "not-found", "nobody"),
        ({"limit": "0"}, 400, "bad-request", "limit"),
    ],
)
def test_bad_filters_are_problem_details(
    chain: Chain, params: dict[str, str], status: int, kind: str, detail: str
) -> None:
    assert_problem(chain.api.client.get("/v1/epcis/events", params=params), status, kind, detail)


def test_a_later_profile_update_leaves_earlier_event_ids_alone(chain: Chain) -> None:
    before, _ = get_all(chain.api)
    mill = chain.terminals["mill"]
    update = {"type": "actor", "op": "update", "id": mill.actor, "name": "Seteria Lariana"}
    update |= {"roles": ["supplier"], "country": "IT", "facilities": [works("8012345000036")]}
    chain.api.accept(chain.api.operator.sign(update))
    chain.step(
        "material-2",
        "mill",
        25,
        {
            "type": "material",
            "lot": LOT + "B",
            "quantity": q("5"),
            "material": "silk-mulberry",
            "facility": "main",
        },
    )

    after, _ = get_all(chain.api)
    assert [e["eventID"] for e in after[: len(before)]] == [e["eventID"] for e in before]
    assert after[-1]["readPoint"] == {"id": "https://id.gs1.org/414/8012345000036"}


def spola(chain: Chain, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOLA_")}
    env.update(SPOLA_HOME=str(chain.home), SPOLA_DATABASE_URL=chain.database_url)
    return subprocess.run(
        [*COMMAND, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_cli_export_writes_the_same_valid_document(chain: Chain, tmp_path: Path) -> None:
    out = tmp_path / "export" / "chain.jsonld"
    out.parent.mkdir()
    done = spola(chain, "export", "epcis", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "read" in done.stderr and f"to {out}" in done.stdout
    document = json.loads(out.read_text(encoding="utf-8"))
    assert schema_errors(document) == []
    served, _ = get_all(chain.api)
    assert document["epcisBody"]["eventList"] == served
    assert [p.name for p in out.parent.iterdir()] == ["chain.jsonld"]  # no temporary left

    done = spola(
        chain,
        "export",
        "epcis",
        "--out",
        str(out),
        "--item",
        SCARF,
        "--until",
        chain.time["repair"],
    )
    assert done.returncode == 0, done.stderr
    filtered = json.loads(out.read_text(encoding="utf-8"))["epcisBody"]["eventList"]
    assert indices(filtered) == sorted(
        chain.index[k]
        for k in ("dyeing", "sell-to-brand", "ship-scarf", "receive-scarf", "sale", "take-back")
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "last week"), "spola: since:"),
        (("--lot", "urn:spola:lot:seteria:none"), "spola: no lot"),  # found while writing
    ],
)
def test_cli_export_error_is_one_line_and_leaves_no_file(
    chain: Chain, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    done = spola(chain, "export", "epcis", "--out", str(folder / "chain.jsonld"), *args)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(message), done.stderr
    assert list(folder.iterdir()) == []


def test_a_time_filter_that_skips_many_entries_still_pages_to_the_end(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    since = chain.time["sale"]
    expected = indices(get_all(chain.api, since=since)[0])
    monkeypatch.setattr("ledger.store.epcis.SCAN_BUDGET", 3)  # a page reads three entries
    documents = get_pages(chain.api, since=since)
    pages = [indices(d["epcisBody"]["eventList"]) for d in documents]
    assert [] in pages  # entries read, none in range: an empty page that links on
    assert sorted(i for page in pages for i in page) == expected
