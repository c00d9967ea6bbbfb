"""Refusals of the passport graph and the scoring functions that nothing else pinned.

Every test here was written against a copy of the module with one refusal taken out (its
``raise`` replaced by nothing), where it failed: the input was walked or scored as if it were
valid, or refused later by a twin check with a less precise message. Each asserts the exact
exception type and message, so the refusal can neither disappear nor be answered by a twin.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from ledger.assessment import model_document
from ledger.errors import FormatError, LimitError
from ledger.events import Event, encode_event, parse_event
from ledger.passport import Fact
from passports.graph import MAX_DEPTH, Graph
from scoring.errors import ScoringInputError
from scoring.maturity import MaturityModel
from scoring.product import product_mci
from scoring.product_inputs import category_averages, load_averages
from scoring.transport import Step, local_shares
from tests.supply import make, material, process, take

MILL = "urn:spola:actor:seteria"
LOT = "urn:spola:lot:seteria:L{}".format


def _facts(steps: list[dict[str, Any]]) -> tuple[Fact, ...]:
    def event(seq: int, fields: dict[str, Any]) -> Event:
        header = {"v": 1, "actor": MILL, "seq": seq, "prev": None, "time": "2026-04-01T10:00:00Z"}
        return parse_event(encode_event(header | fields))

    return tuple(Fact(i + 10, event(i, f)) for i, f in enumerate(steps))


def _chain(processes: int) -> Graph:
    # A 10 kg raw lot, then ``processes`` events each turning the last lot into the next one.
    steps = [material(LOT(0), "10", facility="main")]
    steps += [process([take(LOT(n), "10")], [make(LOT(n + 1), "10")]) for n in range(processes)]
    return Graph(_facts(steps))


# -- passports/graph.py: Graph.walk ------------------------------------------------------------


def test_a_making_chain_as_deep_as_the_bound_is_walked() -> None:
    # The counterpart of the refusal below: the raw lot lies MAX_DEPTH steps upstream.
    walk = _chain(MAX_DEPTH).walk(LOT(MAX_DEPTH), Decimal(10))

    assert walk.nodes[LOT(0)] == Decimal(10)
    assert len(walk.making) == MAX_DEPTH + 1


def test_a_making_chain_deeper_than_the_bound_is_refused_not_followed() -> None:
    # Without the bound every signed process event of a supplier was followed, however many.
    # It is an input over a bound (LimitError, an API's 413), not a failure of the service.
    graph = _chain(MAX_DEPTH + 1)

    with pytest.raises(LimitError) as caught:
        graph.walk(LOT(MAX_DEPTH + 1), Decimal(10))
    assert str(caught.value) == f"the making chain of {LOT(MAX_DEPTH + 1)} is deeper than 256"


def test_a_lot_made_again_from_what_it_made_is_refused_as_a_cycle() -> None:
    # L0 is made, L1 is made of it, then L0 is made again of L1: walking L0 reaches L0. The
    # ledger never admits such facts (a lot is made once); a bundle handed to the verifier may
    # hold them. Without the check the walk went round the loop until the depth bound refused
    # it, saying the chain was deep instead of naming the lot that feeds itself.
    graph = Graph(
        _facts(
            [
                material(LOT(0), "10", facility="main"),
                process([take(LOT(0), "10")], [make(LOT(1), "10")]),
                process([take(LOT(1), "10")], [make(LOT(0), "10")]),
            ]
        )
    )

    with pytest.raises(ValueError) as caught:
        graph.walk(LOT(0), Decimal(10))
    assert str(caught.value) == f"{LOT(0)} is an input of what it made"


# -- scoring/maturity.py: the packaged model's own checks --------------------------------------


def _model_refusal(edit: Callable[[dict[str, Any]], object]) -> str:
    document = copy.deepcopy(model_document())
    edit(document)
    with pytest.raises(ValidationError) as caught:
        MaturityModel.model_validate(document)
    (error,) = caught.value.errors()
    return str(error["msg"])


def test_the_packaged_model_passes_its_own_checks() -> None:
    # The counterpart of the refusals below: each starts from this document and breaks one rule.
    assert MaturityModel.model_validate(copy.deepcopy(model_document())).version


def _drop_band_five(d: dict[str, Any]) -> None:
    del d["bands"]["5"]


def _swap_levels(d: dict[str, Any]) -> None:
    d["levels"][0], d["levels"][1] = d["levels"][1], d["levels"][0]


@pytest.mark.parametrize("edit", [_drop_band_five, _swap_levels], ids=["band", "level-order"])
def test_bands_and_levels_other_than_one_to_five_in_order_are_refused(
    edit: Callable[[dict[str, Any]], None],
) -> None:
    # Without the check a model naming the levels out of order was taken as is (and one
    # missing a band failed with a bare KeyError, not a validation error).
    assert _model_refusal(edit) == (
        "Value error, bands and levels name exactly the levels 1 to 5, in order"
    )


def test_a_band_of_zero_is_refused() -> None:
    # A band of 0 would grant its level to a dimension with no credit at all.
    assert _model_refusal(lambda d: d["bands"].update({"3": "0"})) == (
        "Value error, every band is above 0"
    )


def test_a_question_id_given_twice_is_refused() -> None:
    # Answers are keyed by question id: a second tr-1 would be credited with the first's answer.
    def twice(d: dict[str, Any]) -> None:
        d["questions"].append(copy.deepcopy(d["questions"][0]))

    assert _model_refusal(twice) == "Value error, question ids are unique"


def test_a_dimension_describing_its_levels_out_of_order_is_refused() -> None:
    def swap(d: dict[str, Any]) -> None:
        levels = d["dimensions"][1]["levels"]
        levels[3], levels[4] = levels[4], levels[3]

    assert _model_refusal(swap) == (
        f"Value error, dimension {model_document()['dimensions'][1]['id']} describes the levels "
        "1 to 5, in order"
    )


def test_a_question_of_a_dimension_the_model_lacks_is_refused() -> None:
    # Its dimension has six questions: moving one away leaves five, above the minimum of four,
    # so only the unknown dimension is wrong. Without the check the question was never scored.
    def move(d: dict[str, Any]) -> None:
        next(q for q in d["questions"] if q["dimension"] == "environment")["dimension"] = "water"

    assert _model_refusal(move) == "Value error, questions name an unknown dimension water"


# -- scoring/product.py, scoring/product_inputs.py -----------------------------------------------


def _document(*fractions: str) -> dict[str, Any]:
    # A passport document as ``passports.build`` writes it, reduced to what the MCI reads.
    materials = [
        {"material": f"wool-{n}", "fraction": f, "recycled": "0", "reused": "0", "renewable": "0",
         "traced": True, "origins": [{"index": 5}]}
        for n, f in enumerate(fractions)
    ]  # fmt: skip
    return {
        "subject": "/01/08000000002020/21/TEST",
        "product": {"category": "jacket", "restricted": {"mass_kg": "2"}},
        "materials": materials,
        "certificates": [],
        "circularity": {"repairs": 0, "resales": 0, "rentals": 0, "taken_back": False,
                        "recycled": False},
        "entries": [5],
    }  # fmt: skip


def test_category_lifetimes_breaking_the_schema_are_refused_as_a_format_error() -> None:
    # Without the translation the schema error was dropped and load_averages failed with an
    # UnboundLocalError instead of saying what is wrong with the file.
    data = category_averages().model_dump(mode="json")
    data["categories"]["jacket"]["years"] = "0"

    with pytest.raises(FormatError) as caught:
        load_averages(json.dumps(data).encode())
    assert str(caught.value) == "category lifetimes: Input should be greater than 0"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_a_fraction_that_is_no_finite_number_is_refused_naming_its_field(value: str) -> None:
    # Without the check NaN reached a comparison and raised decimal.InvalidOperation, and an
    # infinite fraction was scored.
    with pytest.raises(ScoringInputError) as caught:
        product_mci(_document("0.5", value))
    assert str(caught.value) == "materials[1].fraction: is not a finite decimal number"


def test_a_passport_listing_no_material_with_a_share_is_refused_as_such() -> None:
    # Without the check the empty list reached the MCI, which refused it with its own words
    # ("needs at least one material"), about a list the document does not have.
    for document in (_document(), _document("0", "0")):
        with pytest.raises(ScoringInputError) as caught:
            product_mci(document)
        assert str(caught.value) == "materials: the passport lists no material with a share"


# -- scoring/transport.py: local_shares --------------------------------------------------------


@pytest.mark.parametrize("mass", [Decimal("NaN"), Decimal("Infinity"), 2.0, "2"])
def test_a_step_mass_that_is_no_finite_decimal_is_refused_naming_the_step(mass: Any) -> None:
    # Without the check NaN raised decimal.InvalidOperation, a float or a string a TypeError,
    # and an infinite mass gave shares of NaN.
    steps = [Step("Lombardia", "IT", Decimal(1)), Step(None, "PT", mass)]

    with pytest.raises(ScoringInputError) as caught:
        local_shares(steps)
    assert str(caught.value) == "steps[1].mass_kg: must be a decimal number"
