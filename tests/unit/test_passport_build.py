"""A passport is built from its facts alone: composition, journey, tiers, versions."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from ledger.events import ActorEvent, Event, encode_event, parse_event
from ledger.passport import Fact, PassportFacts, VersionRef
from passports.build import RESTRICTED, build_passport
from tests.supply import handover, item, lifecycle, make, material, passport, process, q, take

MILL = "urn:spola:actor:seteria"
ATELIER = "urn:spola:actor:atelier"
BRAND = "urn:spola:actor:maison"
RAW = "urn:spola:lot:seteria:R1"
CLOTH = "urn:spola:lot:seteria:C1"
SCARF = "/01/08000000001016/21/ORCIXS3356CPAJNMKYAQ"
OTHER = "/01/08000000001016/21/BMO2ZTDZWCAXFY2VIAFQ"


def _event(actor: str, seq: int, fields: dict[str, Any]) -> Event:
    header = {"v": 1, "actor": actor, "seq": seq, "prev": None, "time": "2026-04-01T10:00:00Z"}
    return parse_event(encode_event(header | fields))


def _actor(actor: str, name: str, town: str, lat: str, lon: str, region: str) -> ActorEvent:
    event = _event(
        "urn:spola:actor:operator",
        0,
        {
            "type": "actor",
            "op": "register",
            "id": actor,
            "name": name,
            "roles": ["brand" if actor == BRAND else "supplier"],
            "country": "IT",
            "region": region,
            "facilities": [
                {"id": "main", "name": name, "town": town, "region": region, "country": "IT",
                 "lat": lat, "lon": lon}
            ],
        },
    )  # fmt: skip
    assert isinstance(event, ActorEvent)
    return event


ACTORS = {
    MILL: _actor(MILL, "Seteria", "Como", "45.8081", "9.0852", "Lombardia"),
    ATELIER: _actor(ATELIER, "Atelier", "Milano", "45.4719", "9.1881", "Lombardia"),
    BRAND: _actor(BRAND, "Maison", "Milano", "45.4520", "9.1760", "Lombardia"),
}


def _facts(*, with_repair: bool = False) -> PassportFacts:
    # 10 kg of raw silk (40 % recycled) woven into 8 kg of cloth; 0.5 kg of cloth and 0.1 kg of
    # untraced thread make two scarves of 0.25 kg each.
    steps: list[tuple[str, dict[str, Any]]] = [
        (MILL, material(RAW, "10", facility="main", feedstock={"recycled": "0.4"})),
        (MILL, process([take(RAW, "10")], [make(CLOTH, "8")], process="weaving")),
        (MILL, handover("DDT-1", ATELIER, [take(CLOTH, "0.5")], transport={"mode": "road"})),
        (ATELIER, {"type": "receipt", "handover": {"sender": MILL, "id": "DDT-1"},
                   "accepted": True}),
        (ATELIER, process([take(CLOTH, "0.5")], items=[item(SCARF, "0.25"), item(OTHER, "0.25")],
                          untraced=[{"material": "thread-silk", "quantity": q("0.1")}],
                          process="sewing")),
        (ATELIER, lifecycle("sale", SCARF, to=BRAND)),
        (BRAND, passport(SCARF)),
    ]  # fmt: skip
    if with_repair:
        steps.append((BRAND, lifecycle("repair", SCARF)))
    facts = tuple(Fact(i + 10, _event(actor, i, f)) for i, (actor, f) in enumerate(steps))
    versions = [VersionRef(1, 16, "passport")]
    if with_repair:
        versions.append(VersionRef(2, 17, "repaired"))
    return PassportFacts(SCARF, tuple(versions), facts, ACTORS)


def test_composition_follows_mass_through_every_process() -> None:
    doc = build_passport(_facts()).document
    materials = {m["material"]: m for m in doc["materials"]}
    # The scarf is 0.25 of the sewing's 0.5 kg output: it draws 0.25 kg of cloth and 0.05 kg of
    # thread. 0.25 kg of cloth is 0.25/8 of the weaving, i.e. 0.3125 kg of raw silk. Origin mass
    # 0.3625 kg: silk 0.3125/0.3625 = 0.8621, thread 0.05/0.3625 = 0.1379.
    assert materials["silk-mulberry"]["fraction"] == "0.8621"
    assert materials["thread-silk"]["fraction"] == "0.1379"
    assert materials["thread-silk"]["traced"] is False
    assert sum(Decimal(m["fraction"]) for m in doc["materials"]) == 1
    # recycled content: 0.4 of the silk share
    assert doc["circularity"]["recycled_content"] == "0.3448"


def test_journey_is_in_log_order_with_an_estimated_leg() -> None:
    doc = build_passport(_facts()).document
    kinds = [(s["index"], s["kind"]) for s in doc["journey"]]
    assert kinds == [(10, "origin"), (11, "process"), (12, "transport"), (14, "process"),
                     (15, "lifecycle")]  # fmt: skip
    leg = doc["journey"][2]
    assert leg["distance_estimated"] is True  # no distance declared: great circle x circuity
    assert 40 < float(leg["distance_km"]) < 60  # Como to Milan, 38 km as the crow flies
    assert {"code": "estimated-distance", "entries": [12]} in doc["data_quality"]


def test_public_view_has_no_restricted_member_anywhere() -> None:
    built = build_passport(_facts())
    assert RESTRICTED in json.dumps(built.document)
    public = json.dumps(built.public())
    assert RESTRICTED not in public
    assert "DDT-1" not in public and CLOTH not in public and RAW not in public


def test_same_facts_build_the_same_bytes() -> None:
    assert build_passport(_facts()).to_bytes() == build_passport(_facts()).to_bytes()


def test_a_repair_is_a_new_version_with_the_repair_in_its_life() -> None:
    first = build_passport(_facts()).document
    second = build_passport(_facts(with_repair=True)).document
    assert (first["version"], second["version"]) == (1, 2)
    assert second["circularity"]["repairs"] == 1 and first["circularity"]["repairs"] == 0
    assert second["journey"][-1]["what"] == "repair"
