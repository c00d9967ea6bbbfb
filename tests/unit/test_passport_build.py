"""A passport is built from its facts alone: composition, journey, tiers, versions."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from ledger.epcis_mapping import location, party
from ledger.errors import FormatError
from ledger.events import ActorEvent, Event, encode_event, parse_event
from ledger.passport import Fact, PassportFacts, VersionRef
from passports.build import build_passport
from passports.graph import Graph
from passports.jsonld import to_jsonld
from passports.tiers import RESTRICTED
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


def _lattice(layers: int) -> PassportFacts:
    # Each layer splits a 100 kg lot in two halves and merges them again: 2 events a layer,
    # but 2 ** layers paths from the scarf back to the raw silk.
    lot = "urn:spola:lot:seteria:L{}".format
    steps: list[dict[str, Any]] = [material(lot(0), "100", facility="main")]
    for n in range(layers):
        halves = [lot(f"{n}a"), lot(f"{n}b")]
        steps.append(process([take(lot(n), "100")], [make(h, "50") for h in halves]))
        steps.append(process([take(h, "50") for h in halves], [make(lot(n + 1), "100")]))
    steps.append(process([take(lot(layers), "100")], items=[item(SCARF, "100")]))
    steps.append(passport(SCARF))
    facts = tuple(Fact(i + 10, _event(MILL, i, f)) for i, f in enumerate(steps))
    return PassportFacts(SCARF, (VersionRef(1, facts[-1].index, "passport"),), facts, ACTORS)


def test_a_lattice_of_splits_and_merges_is_walked_once_per_lot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A supplier's 32 signed events once cost 2 ** 16 walks of the same lots: every passport
    # downstream of them, and its brand's company page, never answered.
    calls = 0
    lot_kg = Graph.lot_kg

    def counted(self: Graph, lot_id: str, quantity: Any) -> Decimal:
        nonlocal calls
        calls += 1
        return lot_kg(self, lot_id, quantity)

    monkeypatch.setattr(Graph, "lot_kg", counted)
    doc = build_passport(_lattice(16)).document
    assert calls < 500
    (silk,) = doc["materials"]
    assert silk["fraction"] == "1" and silk[RESTRICTED]["mass_kg"] == "100"
    assert len([s for s in doc["journey"] if s["kind"] == "process"]) == 33


def test_the_largest_signed_figures_still_build_a_passport() -> None:
    # A signed amount has up to 15 digits before its point. A leg of 10^15 kg over 10^15 km is
    # 10^27 t·km: more than the default decimal context's 28 digits once rounded to its places,
    # and every page of every product drawing on that leg failed (InvalidOperation).
    huge = "9" * 15
    steps: list[tuple[str, dict[str, Any]]] = [
        (MILL, material(RAW, huge, facility="main")),
        (MILL, handover("DDT-1", ATELIER, [take(RAW, huge)],
                        transport={"mode": "road", "distance_km": huge})),
        (ATELIER, {"type": "receipt", "handover": {"sender": MILL, "id": "DDT-1"},
                   "accepted": True}),
        (ATELIER, process([take(RAW, huge)], items=[item(SCARF, huge)], process="sewing")),
        (ATELIER, lifecycle("sale", SCARF, to=BRAND)),
        (BRAND, passport(SCARF, product={"name": "Foulard", "category": "scarf",
                                         "country": "IT", "lifetime_years": huge})),
    ]  # fmt: skip
    facts = tuple(Fact(i + 10, _event(actor, i, f)) for i, (actor, f) in enumerate(steps))
    built = build_passport(PassportFacts(SCARF, (VersionRef(1, 15, "passport"),), facts, ACTORS))
    doc = built.document
    assert doc["product"][RESTRICTED]["mass_kg"] == huge
    assert doc["journey"][1]["kind"] == "transport" and doc["journey"][1]["distance_km"] == huge
    assert doc["short_chain"][RESTRICTED]["tkm"] == "999999999999998" + "0" * 12  # 28 digits
    assert Decimal(doc["short_chain"]["co2e_kg"]) > 10**26
    assert doc["circularity"]["mci"]["lifetime"]["declared_years"] == huge


def test_a_leg_to_an_actor_without_a_facility_has_no_distance_and_says_so() -> None:
    # A shop registered without a facility has no coordinates; a delivery to it declaring no
    # distance made the builder raise, and every passport of what it received answered 400
    # ("Not a valid GS1 Digital Link") to the consumer's scan.
    shop = "urn:spola:actor:negozio"
    profile = ACTORS[BRAND].model_copy(update={"id": shop, "name": "Negozio", "facilities": []})
    steps: list[tuple[str, dict[str, Any]]] = [
        (MILL, material(RAW, "10", facility="main")),
        (MILL, process([take(RAW, "1")], items=[item(SCARF, "0.25")], process="sewing")),
        (MILL, lifecycle("sale", SCARF, to=shop)),
        (MILL, handover("DDT-1", shop, [{"item": SCARF}])),
        (shop, {"type": "receipt", "handover": {"sender": MILL, "id": "DDT-1"},
                "accepted": True}),
        (shop, passport(SCARF)),
    ]  # fmt: skip
    facts = tuple(Fact(i + 10, _event(actor, i, f)) for i, (actor, f) in enumerate(steps))
    actors = ACTORS | {shop: profile}
    doc = build_passport(
        PassportFacts(SCARF, (VersionRef(1, 15, "passport"),), facts, actors)
    ).document
    (leg,) = [s for s in doc["journey"] if s["kind"] == "transport"]
    assert leg["index"] == 13 and leg["distance_km"] is None
    assert leg["distance_estimated"] is False and leg["to"]["name"] == "Negozio"
    assert doc["short_chain"]["transport_km"] == "0" and doc["short_chain"]["legs"] == 1
    assert {"code": "unknown-distance", "entries": [13]} in doc["data_quality"]


def test_espr_facilities_are_identifiers_as_the_epcis_export_names_them() -> None:
    # ESPR asks for the facilities' unique identifiers: the facility's GLN (AI 414) when its
    # profile declares one, else its URN, as in the EPCIS export; not "actor#facility name",
    # which changes with a renamed facility and names no facility of the same name apart.
    gln = "8012345000012"
    mill = ACTORS[MILL].facilities[0].model_copy(update={"gln": gln, "name": "Seteria Como"})
    actors = ACTORS | {MILL: ACTORS[MILL].model_copy(update={"facilities": [mill]})}
    facts = _facts()
    doc = build_passport(PassportFacts(facts.subject, facts.versions, facts.facts, actors)).document
    espr = to_jsonld(doc, uri="https://id.example" + SCARF, api_url="https://id.example/v1/x")
    assert espr["spola:espr"]["facilities"] == [
        f"https://id.gs1.org/414/{gln}",
        "urn:spola:facility:atelier:main",
        "urn:spola:facility:maison:main",
    ]
    assert {location({}, a, "main") for a in (ATELIER, BRAND)} <= set(
        espr["spola:espr"]["facilities"]
    )
    assert location({MILL: {"facilities": [{"id": "main", "gln": gln}]}}, MILL, "main") == (
        f"https://id.gs1.org/414/{gln}"
    )


@pytest.mark.parametrize("tag", ["it", "en-GB", "sr-Latn", "zh-Hant-TW", "es-419"])
def test_a_passport_may_declare_the_language_of_its_texts(tag: str) -> None:
    fields = passport(SCARF) | {"product": passport(SCARF)["product"] | {"lang": tag}}
    event = _event(BRAND, 0, fields)
    assert build_passport(PassportFacts(SCARF, (VersionRef(1, 16, "passport"),),
                                        (*_facts().facts[:-1], Fact(16, event)), ACTORS)
                          ).document["product"]["lang"] == tag  # fmt: skip


@pytest.mark.parametrize("tag", ["", "EN", "english", "en_GB", 'en" onclick="x', "en-", "e"])
def test_a_language_that_is_no_bcp47_tag_is_refused(tag: str) -> None:
    fields = passport(SCARF) | {"product": passport(SCARF)["product"] | {"lang": tag}}
    with pytest.raises(FormatError, match="lang"):
        _event(BRAND, 0, fields)


def test_espr_operator_is_the_issuers_gln_as_the_epcis_export_names_it() -> None:
    # ESPR's unique operator identifier: the brand's GLN (AI 417) when its registration gives
    # one, else its URN, as the EPCIS export names parties.
    gln = "8012345000029"
    actors = ACTORS | {BRAND: ACTORS[BRAND].model_copy(update={"gln": gln})}
    facts = _facts()
    doc = build_passport(PassportFacts(facts.subject, facts.versions, facts.facts, actors)).document
    espr = to_jsonld(doc, uri="https://id.example" + SCARF, api_url="https://id.example/v1/x")
    assert espr["spola:espr"]["operatorIdentifier"] == f"https://id.gs1.org/417/{gln}"
    assert doc["issued_by"]["party"] == party({BRAND: {"gln": gln}}, BRAND)
    plain = to_jsonld(build_passport(facts).document, uri="u", api_url="https://id.example/v1/x")
    assert plain["spola:espr"]["operatorIdentifier"] == BRAND
