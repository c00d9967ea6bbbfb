"""A company's material flows (``ledger.store.circularity``) as its CTI reads them: each item
that enters the company counts once, however its ownership and custody reached it."""

from __future__ import annotations

from decimal import Decimal

from ledger.store.ledger import LedgerStore
from tests.supply import (
    enrol_actor,
    handover,
    item,
    lifecycle,
    make,
    material,
    passport,
    process,
    q,
    receipt,
    take,
)
from tests.terminal import Terminal

LOT = "urn:spola:lot:maker:L-1"
BAG = "urn:spola:item:maker:B-1"


def _ok(store: LedgerStore, terminal: Terminal, fields: dict[str, object]) -> int:
    (receipt_,) = store.append([terminal.sign(fields)])
    assert store.verdict(receipt_.index).applied, fields
    return receipt_.index


def test_an_item_resold_between_companies_enters_the_buyer_once(
    store: LedgerStore, operator: Terminal
) -> None:
    # A used bag bought from a private person by one shop, sold on to a second shop, and
    # delivered by a handover. The resale passes only the ownership (the first shop keeps the
    # bag until the handover), so the second shop counted the bag twice: bought used at the
    # resale and received at the handover, 2 kg of second-life inflow for a 1 kg bag.
    maker = enrol_actor(store, operator, "maker", roles=("brand",))
    first = enrol_actor(store, operator, "first-shop", roles=("retailer",))
    second = enrol_actor(store, operator, "second-shop", roles=("retailer",))
    _ok(store, maker, material(LOT, "10"))
    _ok(store, maker, process([take(LOT, "1")], items=[item(BAG, "1")], process="sewing"))
    _ok(store, maker, lifecycle("sale", BAG))  # to a private person
    bought = _ok(store, first, lifecycle("resale", BAG, to=first.actor))
    _ok(store, first, lifecycle("resale", BAG, to=second.actor))
    _ok(store, first, handover("H-1", second.actor, [{"item": BAG}]))
    delivered = _ok(store, second, receipt(first.actor, "H-1"))

    inflows = store.actor_flows(second.actor, limit=100).inflows
    assert [(f.kind, f.subject, f.mass_kg, f.second_life) for f in inflows] == [
        ("received", BAG, Decimal(1), True)
    ]
    assert inflows[0].index == delivered
    # The first shop took the bag from the person's hands at once: bought used, at the resale.
    first_flows = store.actor_flows(first.actor, limit=100)
    assert [(f.kind, f.index, f.second_life) for f in first_flows.inflows] == [
        ("bought-used", bought, True)
    ]
    # Sold on for a second life: recovered, whatever the second shop does with it later.
    assert [(f.kind, f.subject, f.recovered, f.fate) for f in first_flows.outflows] == [
        ("resold", BAG, Decimal(1), "resold for a second life")
    ]


def test_each_sale_has_the_fate_that_follows_it(store: LedgerStore, operator: Terminal) -> None:
    # Sold, taken back, sold again: the first sale ended in the take-back, the second in use.
    brand = enrol_actor(store, operator, "maker", roles=("brand",))
    _ok(store, brand, material(LOT, "10"))
    _ok(store, brand, process([take(LOT, "1")], items=[item(COAT, "1")], process="sewing"))
    first = _ok(store, brand, lifecycle("sale", COAT))
    taken = _ok(store, brand, lifecycle("take-back", COAT))
    second = _ok(store, brand, lifecycle("sale", COAT))

    outflows = store.actor_flows(brand.actor, limit=100).outflows
    assert [(f.kind, f.recovered, f.fate, f.entries) for f in outflows] == [
        (
            "sold",
            Decimal(0),
            "taken back; what became of it is not in the ledger yet",
            (first, taken),
        ),
        ("sold", Decimal(0), "in use or gone: no recovery in the ledger", (second,)),
    ]


def test_each_read_stops_at_the_limit_and_says_so(store: LedgerStore, operator: Terminal) -> None:
    maker = enrol_actor(store, operator, "maker", roles=("brand",))
    for n in range(3):
        _ok(store, maker, material(f"urn:spola:lot:maker:L-{n}", "10"))
    whole = store.actor_flows(maker.actor, limit=3)
    assert [f.subject for f in whole.inflows] == [f"urn:spola:lot:maker:L-{n}" for n in range(3)]
    assert not whole.truncated
    cut = store.actor_flows(maker.actor, limit=2)
    assert [f.subject for f in cut.inflows] == [f"urn:spola:lot:maker:L-{n}" for n in range(2)]
    assert cut.truncated


WOOL = "urn:spola:lot:mill:W-1"
SCRAP = "urn:spola:lot:shop:R-1"
COAT = "/01/08000000001016/21/COAT1"


def test_every_flow_of_a_small_chain_is_read_from_its_own_rows(
    store: LedgerStore, operator: Terminal
) -> None:
    # One of each flow, and beside each a row that must not count: a refused handover, a
    # refused process, a lot made by a process (not an inflow), another actor's process.
    mill = enrol_actor(store, operator, "mill")
    brand = enrol_actor(store, operator, "brand", roles=("brand",))
    shop = enrol_actor(store, operator, "shop", roles=("retailer",))
    made = _ok(store, mill, material(WOOL, "100"))
    spun = [make("urn:spola:lot:mill:Y-1", "5")]
    extra = {"material": "silk-mulberry", "quantity": q("0.25")}
    _ok(store, mill, process([take(WOOL, "5")], spun, untraced=[extra | {"quantity": q("1")}]))
    _ok(store, mill, handover("H-1", brand.actor, [take(WOOL, "30")]))
    delivered = _ok(store, brand, receipt(mill.actor, "H-1"))
    _ok(store, mill, handover("H-2", brand.actor, [take(WOOL, "10")]))
    _ok(store, brand, receipt(mill.actor, "H-2", accepted=False))
    sewn = _ok(
        store,
        brand,
        process(
            [take(WOOL, "2")],
            [make("urn:spola:lot:brand:OFFCUT", "0.5")],
            items=[item(COAT, "1.5")],
            untraced=[extra],
            process="sewing",
        ),
    )
    (refused,) = store.append(
        [brand.sign(process([take(WOOL, "999")], [make(f"{WOOL}-X", "1")], untraced=[extra]))]
    )
    assert not store.verdict(refused.index).applied
    _ok(store, brand, passport(COAT))
    sold = _ok(store, brand, lifecycle("sale", COAT))
    resold = _ok(store, shop, lifecycle("resale", COAT, to=shop.actor))
    recycled = _ok(store, shop, lifecycle("recycling", COAT, outputs=[make(SCRAP, "0.75")]))

    mill_flows = store.actor_flows(mill.actor, limit=100)
    assert [(f.kind, f.subject, f.mass_kg, f.index) for f in mill_flows.inflows] == [
        ("material", WOOL, Decimal(100), made),
        ("untraced", "silk-mulberry", Decimal(1), made + 1),
    ]
    assert [(f.kind, f.subject, f.mass_kg, f.entries) for f in mill_flows.outflows] == [
        ("lot", WOOL, Decimal(30), (delivered,))
    ]
    assert mill_flows.passports == []

    brand_flows = store.actor_flows(brand.actor, limit=100)
    assert [(f.kind, f.subject, f.mass_kg, f.index) for f in brand_flows.inflows] == [
        ("received", WOOL, Decimal(30), delivered),
        ("untraced", "silk-mulberry", Decimal("0.25"), sewn),
    ]
    (coat,) = brand_flows.outflows
    assert (coat.kind, coat.subject, coat.mass_kg) == ("sold", COAT, Decimal("1.5"))
    assert (coat.recovered, coat.entries) == (Decimal("0.5"), (sold, recycled))
    assert coat.fate == "recycled into 0.75 kg of new lots"
    assert brand_flows.passports == [COAT]
    assert not brand_flows.truncated

    shop_flows = store.actor_flows(shop.actor, limit=100)
    assert [(f.kind, f.subject, f.index, f.second_life) for f in shop_flows.inflows] == [
        ("bought-used", COAT, resold, True)
    ]
    assert shop_flows.outflows == [] and shop_flows.passports == []


def test_a_new_item_bought_from_a_company_is_no_second_life(
    store: LedgerStore, operator: Terminal
) -> None:
    # Sold by the brand to a shop, delivered, then sold by the shop to a private person: at
    # its delivery it had never been with a person, so it enters the shop as a first life.
    brand = enrol_actor(store, operator, "maker", roles=("brand",))
    shop = enrol_actor(store, operator, "shop", roles=("retailer",))
    _ok(store, brand, material(LOT, "10"))
    _ok(store, brand, process([take(LOT, "1")], items=[item(COAT, "1")], process="sewing"))
    _ok(store, brand, passport(COAT))
    _ok(store, brand, lifecycle("sale", COAT, to=shop.actor))
    _ok(store, brand, handover("H-1", shop.actor, [{"item": COAT}]))
    delivered = _ok(store, shop, receipt(brand.actor, "H-1"))
    _ok(store, shop, lifecycle("sale", COAT))  # to a private person, after the delivery

    inflows = store.actor_flows(shop.actor, limit=100).inflows
    assert [(f.kind, f.index, f.second_life) for f in inflows] == [("received", delivered, False)]


def test_the_limit_counts_process_events_only_for_untraced_additions(
    store: LedgerStore, operator: Terminal
) -> None:
    maker = enrol_actor(store, operator, "maker", roles=("brand",))
    extra = {"material": "silk-mulberry", "quantity": q("0.25")}
    _ok(store, maker, material(LOT, "10"))
    for n in range(2):
        made = [make(f"{LOT}-{n}", "1")]
        _ok(store, maker, process([take(LOT, "1")], made, untraced=[extra]))
    flows = store.actor_flows(maker.actor, limit=2)
    assert [f.kind for f in flows.inflows] == ["material", "untraced", "untraced"]
    assert not flows.truncated
