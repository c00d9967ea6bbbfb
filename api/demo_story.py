"""The demo's story: ten fictional workshops in real towns and one 2026 season of their events.

Everything here is data, fixed once: event times, delivery notes, the fields of each event; the
workshops, lot ids and item serials are the cast's (``api.demo_cast``), the shape of each event
type's fields the builders' (``api.demo_events``). Signed with the terminals' keys in this
order, the story yields the same envelopes on every run, which is what makes ``spola demo``
idempotent and resumable (``api.demo`` does the signing).

The season, March to November 2026:
- silk: organic raw silk (GOTS, segregated) is thrown and woven into twill in Como, degummed and
  printed in Grandate, hemmed into three *Foulard Lario* scarves in Milan; on 2 April the mill
  tries to deliver 80 m of the twill to the atelier when it holds only 60 m — the double spend
  the ledger logs but does not apply (``balance.insufficient``);
- wool: RWS merino tops are spun, woven and finished into flannel in Biella and tailored into two
  *Giacca Cervo* jackets in Milan;
- leather: vegetable-tanned leather from the Ticino valley tanning district and palladium-plated
  brass buckles from Lecco (a first delivery refused by the atelier, re-plated, sent again)
  become two *Borsa Ticino* bags;
- passports: the brand issues a passport for each of the seven pieces before selling them;
- after sale: a jacket is repaired, a bag is bought back and resold by a second-hand shop, the
  other jacket comes back through the boutique's take-back, is recycled into wool fibre in Prato,
  and that fibre returns to Biella, spun with virgin merino into a new yarn and a new cloth;
- directory: late in November every workshop signs its directory profile (processes offered,
  materials, certificates, which figures are public), and a new recycler near Milan declares
  recycling it has not yet done;
- maturity: the brand signs a self-assessment in June and another in November, the wool mill
  one in mid-November citing its RWS certificate.
"""

from __future__ import annotations

from typing import Any, Final

from api.demo_cast import (
    ATELIER,
    BAG,
    BAGS,
    BLANKS,
    BLEND_YARN,
    BRAND,
    BRASS,
    BUCKLES,
    BUCKLES_REPLATED,
    CRUST,
    DEGUMMED,
    DEMO_ACTORS,
    DOUBLE_SPEND,
    FLANNEL,
    GREIGE,
    JACKET,
    JACKETS,
    LEATHER,
    LOCAL_RECYCLER,
    NEW_CLOTH,
    PRINTED,
    PRINTER,
    RAW_SILK,
    RECYCLED_WOOL,
    RECYCLER,
    REPAIRER,
    RESALE,
    SCARF,
    SCARVES,
    SILK_MILL,
    SILK_YARN,
    TANNERY,
    TOPS,
    TRIMS,
    TWILL,
    WOOL_MILL,
    WOOL_YARN,
)
from api.demo_events import (
    Step,
    assessment,
    certificate,
    handover,
    lifecycle,
    made,
    made_item,
    material,
    process,
    profile,
    quantity,
    receipt,
    take,
    workforce,
)

# Chain-of-custody claims and certificates the season's events carry.
GOTS_SEGREGATED: Final = {"model": "segregated", "scheme": "GOTS", "certified_fraction": "1"}
RWS_SEGREGATED: Final = {"model": "segregated", "scheme": "RWS", "certified_fraction": "1"}
RWS_MASS_BALANCE: Final = {"model": "mass_balance", "scheme": "RWS", "certified_fraction": "0.7"}
_GOTS = {
    SILK_MILL: certificate("GOTS", "GOTS-DEMO-SL-2026", "2026-01-15", "2027-01-14"),
    PRINTER: certificate("GOTS", "GOTS-DEMO-SG-2026", "2025-11-03", "2026-11-02"),
    ATELIER: certificate("GOTS", "GOTS-DEMO-AB-2026", "2026-02-01", "2027-01-31"),
}
_RWS = certificate("RWS", "RWS-DEMO-LV-2026", "2026-02-10", "2027-02-09")
_LWG = certificate("LWG", "LWG-DEMO-CT-0412", "2025-09-01", "2027-08-31")


def _silk() -> list[Step]:
    gots = [_GOTS[SILK_MILL]]
    printer_gots = [_GOTS[PRINTER]]
    return [
        material(SILK_MILL, "2026-03-03T08:30:00Z", RAW_SILK, "silk-mulberry-organic", "30",
                 feedstock={"renewable": "1"}, claim=GOTS_SEGREGATED, certificates=gots),
        process(SILK_MILL, "2026-03-10T14:00:00Z", "silk-throwing", [take(RAW_SILK, "30")],
                outputs=[made(SILK_YARN, "silk-mulberry-organic", "29.4",
                              claim=GOTS_SEGREGATED)],
                certificates=gots, energy_kwh="310", workforce=workforce(4, "64", 3)),
        process(SILK_MILL, "2026-03-24T16:00:00Z", "weaving", [take(SILK_YARN, "29.4")],
                outputs=[made(TWILL, "silk-mulberry-organic", "300", "MTR", "0.095",
                              claim=GOTS_SEGREGATED)],
                certificates=gots, energy_kwh="540", workforce=workforce(6, "96", 4)),
        handover(SILK_MILL, "2026-03-30T07:30:00Z", "DDT-SL-0412", PRINTER,
                 [take(TWILL, "240", "MTR")], km="6"),
        receipt(PRINTER, "2026-03-30T10:15:00Z", SILK_MILL, "DDT-SL-0412"),
        # 60 m of the twill are left in Como; the mill's order system sells 80 m again.
        handover(SILK_MILL, "2026-04-02T09:00:00Z", DOUBLE_SPEND, ATELIER,
                 [take(TWILL, "80", "MTR")], km="50", refused="balance.insufficient"),
        process(PRINTER, "2026-04-08T15:00:00Z", "pretreatment", [take(TWILL, "240", "MTR")],
                outputs=[made(DEGUMMED, "silk-mulberry-organic", "236", "MTR", "0.074",
                              claim=GOTS_SEGREGATED)],
                certificates=printer_gots, water_l="5200", energy_kwh="410",
                chemicals=[{"name": "Marseille soap (degumming)", "quantity": quantity("9"),
                            "zdhc_mrsl_compliant": True}]),
        process(PRINTER, "2026-04-17T15:00:00Z", "printing", [take(DEGUMMED, "236", "MTR")],
                outputs=[made(PRINTED, "silk-mulberry-organic", "232", "MTR", "0.075",
                              claim=GOTS_SEGREGATED)],
                certificates=printer_gots, water_l="3100", energy_kwh="380",
                chemicals=[{"name": "Reactive dyes, GOTS-approved", "quantity": quantity("2.4"),
                            "zdhc_mrsl_compliant": True}],
                workforce=workforce(5, "60", 3)),
        handover(PRINTER, "2026-04-22T08:00:00Z", "DDT-SG-0371", ATELIER,
                 [take(PRINTED, "120", "MTR")], km="42"),
        receipt(ATELIER, "2026-04-22T10:30:00Z", PRINTER, "DDT-SG-0371"),
    ]  # fmt: skip


def _wool() -> list[Step]:
    rws = [_RWS]
    return [
        material(WOOL_MILL, "2026-03-05T09:00:00Z", TOPS, "wool-merino", "400",
                 feedstock={"renewable": "1"}, claim=RWS_SEGREGATED, certificates=rws),
        process(WOOL_MILL, "2026-03-17T15:30:00Z", "spinning", [take(TOPS, "360")],
                outputs=[made(WOOL_YARN, "wool-merino", "345", claim=RWS_SEGREGATED)],
                certificates=rws, energy_kwh="2900", workforce=workforce(9, "216", 5)),
        process(WOOL_MILL, "2026-03-31T16:45:00Z", "weaving", [take(WOOL_YARN, "345")],
                outputs=[made(GREIGE, "wool-merino", "1100", "MTR", "0.3",
                              claim=RWS_SEGREGATED)],
                certificates=rws, energy_kwh="3600", workforce=workforce(7, "168", 3)),
        process(WOOL_MILL, "2026-04-09T14:00:00Z", "textile-finishing",
                [take(GREIGE, "1100", "MTR")],
                outputs=[made(FLANNEL, "wool-merino", "1080", "MTR", "0.295",
                              claim=RWS_SEGREGATED)],
                certificates=rws, water_l="21000", energy_kwh="2100"),
        handover(WOOL_MILL, "2026-04-14T07:00:00Z", "DDT-LV-1093", ATELIER,
                 [take(FLANNEL, "40", "MTR")], km="102"),
        receipt(ATELIER, "2026-04-14T10:30:00Z", WOOL_MILL, "DDT-LV-1093"),
    ]  # fmt: skip


def _leather_and_trims() -> list[Step]:
    lwg = [_LWG]
    palladium = {"material": "palladium-plating", "quantity": quantity("0.004")}
    return [
        material(TRIMS, "2026-03-09T07:45:00Z", BRASS, "brass", "25"),
        material(TANNERY, "2026-03-12T08:15:00Z", CRUST, "leather-bovine-vegetable", "1200",
                 unit="FTK", per="0.13", feedstock={"renewable": "1"}, certificates=lwg),
        process(TRIMS, "2026-03-19T13:00:00Z", "hardware-casting", [take(BRASS, "25")],
                outputs=[made(BLANKS, "brass", "800", "H87", "0.028")], energy_kwh="95"),
        process(TANNERY, "2026-03-26T10:30:00Z", "leather-finishing",
                [take(CRUST, "1200", "FTK")],
                outputs=[made(LEATHER, "leather-bovine-vegetable", "1180", "FTK", "0.12")],
                certificates=lwg, water_l="1800", energy_kwh="260"),
        process(TRIMS, "2026-03-27T11:00:00Z", "hardware-plating", [take(BLANKS, "200", "H87")],
                outputs=[made(BUCKLES, "brass", "200", "H87", "0.028")], untraced=[palladium]),
        handover(TRIMS, "2026-04-03T08:00:00Z", "DDT-ML-0207", ATELIER,
                 [take(BUCKLES, "24", "H87")], km="55"),
        receipt(ATELIER, "2026-04-06T09:30:00Z", TRIMS, "DDT-ML-0207",
                reason="palladium finish too thin: 0.3 µm measured, 0.5 µm ordered"),
        handover(TANNERY, "2026-04-07T07:30:00Z", "DDT-CT-0988", ATELIER,
                 [take(LEATHER, "60", "FTK")], km="38"),
        receipt(ATELIER, "2026-04-07T11:00:00Z", TANNERY, "DDT-CT-0988"),
        process(TRIMS, "2026-04-10T10:00:00Z", "hardware-plating", [take(BUCKLES, "24", "H87")],
                outputs=[made(BUCKLES_REPLATED, "brass", "24", "H87", "0.028")],
                untraced=[{"material": "palladium-plating", "quantity": quantity("0.0006")}]),
        handover(TRIMS, "2026-04-13T08:00:00Z", "DDT-ML-0213", ATELIER,
                 [take(BUCKLES_REPLATED, "24", "H87")], km="55"),
        receipt(ATELIER, "2026-04-13T11:30:00Z", TRIMS, "DDT-ML-0213"),
    ]  # fmt: skip


def _atelier() -> list[Step]:
    gots = [_GOTS[ATELIER]]
    thread = {"material": "thread-polyester", "quantity": quantity("0.012")}
    buttons = {
        "material": "button-corozo",
        "quantity": quantity("10", "H87"),
        "mass_per_unit": quantity("0.003"),
    }
    pieces = [*SCARVES, *JACKETS, *BAGS]
    return [
        process(ATELIER, "2026-05-04T15:00:00Z", "sewing", [take(PRINTED, "3", "MTR")],
                items=[made_item(i, SCARF, "0.068", claim=GOTS_SEGREGATED) for i in SCARVES],
                untraced=[{"material": "thread-silk", "quantity": quantity("0.002")}],
                certificates=gots, workforce=workforce(2, "9", 2)),
        process(ATELIER, "2026-05-06T15:00:00Z", "sewing", [take(FLANNEL, "3.6", "MTR")],
                items=[made_item(i, JACKET, "0.74") for i in JACKETS],
                untraced=[{"material": "cupro", "quantity": quantity("0.42")}, buttons, thread],
                workforce=workforce(3, "38", 2)),
        process(ATELIER, "2026-05-08T15:00:00Z", "leather-goods-assembly",
                [take(LEATHER, "22", "FTK"), take(BUCKLES_REPLATED, "4", "H87")],
                items=[made_item(i, BAG, "1.15") for i in BAGS],
                untraced=[{"material": "thread-polyester", "quantity": quantity("0.008")}],
                workforce=workforce(2, "30", 1)),
        # The atelier sells the finished pieces to the brand, then delivers them.
        *(lifecycle(ATELIER, f"2026-05-11T09:0{n}:00Z", "sale", item,
                    to=f"urn:spola:actor:{BRAND}") for n, item in enumerate(pieces)),
        handover(ATELIER, "2026-05-12T08:00:00Z", "DDT-AB-0562", BRAND,
                 [{"item": item} for item in pieces], km="4", mode="courier"),
        receipt(BRAND, "2026-05-12T09:30:00Z", ATELIER, "DDT-AB-0562"),
    ]  # fmt: skip


def _after_sale() -> list[Step]:
    scarf1, scarf2, _ = SCARVES
    jacket1, jacket2 = JACKETS
    bag1, bag2 = BAGS
    shop = f"urn:spola:actor:{RESALE}"
    return [
        lifecycle(BRAND, "2026-05-23T16:20:00Z", "sale", scarf1, "boutique"),
        lifecycle(BRAND, "2026-05-30T11:05:00Z", "sale", jacket1, "boutique"),
        lifecycle(BRAND, "2026-06-06T17:40:00Z", "sale", jacket2, "boutique"),
        lifecycle(BRAND, "2026-06-14T12:10:00Z", "sale", scarf2, "boutique"),
        lifecycle(BRAND, "2026-06-20T15:30:00Z", "sale", bag1, "boutique"),
        lifecycle(BRAND, "2026-07-11T10:45:00Z", "sale", bag2, "boutique"),
        lifecycle(RESALE, "2026-09-02T14:00:00Z", "resale", bag1, to=shop,
                  description="bought from its first owner, authenticated"),
        lifecycle(REPAIRER, "2026-09-15T16:00:00Z", "repair", jacket1,
                  description="moth hole on the left sleeve rewoven; lining re-stitched"),
        lifecycle(RESALE, "2026-10-03T11:30:00Z", "resale", bag1,
                  description="sold to its second owner"),
        lifecycle(BRAND, "2026-10-10T17:00:00Z", "take-back", jacket2, "boutique",
                  description="returned through the boutique's take-back: worn through"),
        lifecycle(BRAND, "2026-10-14T09:00:00Z", "sale", jacket2,
                  to=f"urn:spola:actor:{RECYCLER}", description="sent for recycling"),
        handover(BRAND, "2026-10-14T09:05:00Z", "DDT-MN-0977", RECYCLER,
                 [{"item": jacket2}], km="295"),
        receipt(RECYCLER, "2026-10-16T08:30:00Z", BRAND, "DDT-MN-0977"),
        lifecycle(RECYCLER, "2026-10-23T14:00:00Z", "recycling", jacket2,
                  description="lining and buttons removed; flannel garnetted into fibre",
                  outputs=[made(RECYCLED_WOOL, "wool-recycled", "0.52")]),
        handover(RECYCLER, "2026-11-03T07:30:00Z", "DDT-RT-1186", WOOL_MILL,
                 [take(RECYCLED_WOOL, "0.52")], km="390"),
        receipt(WOOL_MILL, "2026-11-04T10:00:00Z", RECYCLER, "DDT-RT-1186"),
        process(WOOL_MILL, "2026-11-12T15:00:00Z", "spinning",
                [take(RECYCLED_WOOL, "0.52"), take(TOPS, "1.2")],
                outputs=[made(BLEND_YARN, "wool-merino", "1.62", claim=RWS_MASS_BALANCE)],
                certificates=[_RWS]),
        process(WOOL_MILL, "2026-11-20T15:00:00Z", "weaving", [take(BLEND_YARN, "1.62")],
                outputs=[made(NEW_CLOTH, "wool-merino", "5", "MTR", "0.3",
                              claim=RWS_MASS_BALANCE)],
                certificates=[_RWS]),
    ]  # fmt: skip


_CARE: Final = {
    "scarf": [
        "Dry clean, or hand wash cold with a silk detergent",
        "Iron on the reverse, low heat",
    ],
    "jacket": ["Dry clean only", "Brush after wearing; rest it on a shaped hanger"],
    "bag": ["Wipe with a dry cloth", "Nourish the leather twice a year with a neutral cream"],
}
_PRODUCTS: Final = (
    (SCARVES, SCARF, "scarf", "15"),
    (JACKETS, JACKET, "jacket", "10"),
    (BAGS, BAG, "bag", "20"),
)


def _passport(item: str, name: str, category: str, years: str, time: str) -> Step:
    fields = {
        "type": "passport",
        "subject": item,
        "product": {"name": name, "category": category, "country": "IT",
                    "region": "Lombardia", "lifetime_years": years, "lang": "en"},
        "instructions": {
            "care": _CARE[category],
            "repair": "Free repairs for two years, then at cost, by Sartoria Riparo in Milan.",
            "repair_service": f"urn:spola:actor:{REPAIRER}",
            "take_back": "Bring it back to the boutique in via Monte Napoleone: it will be "
                         "resold, repaired or recycled, never landfilled.",
            "take_back_service": f"urn:spola:actor:{BRAND}",
        },
    }  # fmt: skip
    return Step(BRAND, time, fields)


def _passports() -> list[Step]:
    """The brand issues a passport for every piece it received, before selling any."""
    return [
        _passport(item, name, category, years, f"2026-05-13T09:{n:02d}:00Z")
        for n, (item, name, category, years) in enumerate(
            (item, name, category, years)
            for items, name, category, years in _PRODUCTS
            for item in items
        )
    ]


def _assessments() -> list[Step]:
    """The brand assesses itself twice, half a season apart; the wool mill once, citing RWS."""
    june = {
        "tr-1": "yes", "tr-2": "yes", "tr-5": "partial", "ma-1": "yes", "ma-2": "partial",
        "ci-1": "yes", "ci-2": "partial", "en-2": "no", "so-1": "yes", "so-3": "no",
        "di-1": "yes", "di-3": "yes",
    }  # fmt: skip
    november = june | {
        "tr-5": "yes", "ci-2": "yes", "ci-4": "yes", "ma-4": "partial", "en-2": "partial",
        "so-3": "partial", "di-4": "partial", "di-5": "partial",
    }  # fmt: skip
    mill = {
        "tr-1": "yes", "ma-1": "yes", "ma-4": "yes", "en-2": "yes", "so-1": "yes",
        "so-3": "partial", "di-1": "yes", "di-3": "no",
    }  # fmt: skip
    return [
        assessment(BRAND, "2026-06-01T10:00:00Z", june),
        assessment(BRAND, "2026-11-15T10:00:00Z", november),
        assessment(WOOL_MILL, "2026-11-18T10:00:00Z", mill, **{"ma-4": _RWS["id"]}),
    ]


_GRS = certificate("GRS", "GRS-DEMO-RT-2026", "2026-03-01", "2027-02-28")


def _profile(actor: str, minute: int, *declared: Any, **more: Any) -> Step:
    """``actor``'s directory profile (``api.demo_events.profile``), signed ``minute`` past nine
    on 25 November."""
    return profile(actor, f"2026-11-25T09:{minute:02d}:00Z", *declared, **more)


def _profiles() -> list[Step]:
    """Directory profiles: declarations the ledger checks against each actor's own history.

    The printer's GOTS certificate is renewed (the one its events carried ran out on 2 November);
    the silk mill makes its volumes public; the Brianza recycler declares processes it has not
    performed yet, so the directory shows them as declared, not yet evidenced.
    """
    renewed = certificate("GOTS", "GOTS-DEMO-SG-2027", "2026-11-03", "2027-11-02")
    everything = [
        "volumes",
        "partners",
        "acceptance",
        "certified",
        "distance",
        "services",
        "maturity",
    ]
    recycling = ["sorting-disassembly", "mechanical-recycling"]
    return [
        _profile(SILK_MILL, 0, (["silk-throwing", "weaving"], ["silk-mulberry-organic"]),
                 [_GOTS[SILK_MILL]], "Ufficio commerciale, Como", public_figures=everything),
        _profile(PRINTER, 1, (["pretreatment", "printing", "dyeing"],
                              ["silk-mulberry-organic", "silk-mulberry"]),
                 [renewed], "Stampa e tintura su seta, Grandate (CO)"),
        _profile(WOOL_MILL, 2, (["spinning", "weaving", "textile-finishing"],
                                ["wool-merino", "wool-recycled"]), [_RWS], "Lanificio, Biella"),
        _profile(TANNERY, 3, (["tanning-vegetable", "leather-finishing"],
                              ["leather-bovine-vegetable"]), [_LWG], "Conceria, valle del Ticino"),
        _profile(TRIMS, 4, (["hardware-casting", "hardware-plating"], ["brass"]), [],
                 "Minuterie metalliche, Lecco"),
        _profile(ATELIER, 5, (["cutting", "sewing", "leather-goods-assembly"],
                              ["silk-mulberry-organic", "wool-merino", "leather-bovine-vegetable"]),
                 [_GOTS[ATELIER]], "Atelier, Brera, Milano"),
        _profile(REPAIRER, 6, (["repair"], []), [], "Riparazioni sartoriali, Milano"),
        _profile(RECYCLER, 7, (recycling, ["wool-recycled"]), [_GRS],
                 "Rigenerazione di lana, Prato"),
        _profile(LOCAL_RECYCLER, 8, (recycling, ["wool-recycled", "cotton-recycled"]),
                 [certificate("GRS", "GRS-DEMO-FB-2026", "2026-09-01", "2027-08-31")],
                 "Riciclo meccanico di lana e cotone, Seregno (MB)"),
    ]  # fmt: skip


def story() -> tuple[Step, ...]:
    """Every event of the season in the order of its time: the order it is signed and logged."""
    steps = [
        *_silk(), *_wool(), *_leather_and_trims(), *_atelier(), *_passports(), *_after_sale(),
        *_assessments(), *_profiles(),
    ]  # fmt: skip
    return tuple(sorted(steps, key=lambda step: step.time))


# The cast moved to ``api.demo_cast``; its names are still importable from here.
__all__ = [
    "ATELIER", "BAG", "BAGS", "BLANKS", "BLEND_YARN", "BRAND", "BRASS", "BUCKLES",
    "BUCKLES_REPLATED", "CRUST", "DEGUMMED", "DEMO_ACTORS", "DOUBLE_SPEND", "FLANNEL",
    "GOTS_SEGREGATED", "GREIGE", "JACKET", "JACKETS", "LEATHER", "LOCAL_RECYCLER", "NEW_CLOTH",
    "PRINTED", "PRINTER", "RAW_SILK", "RECYCLED_WOOL", "RECYCLER", "REPAIRER", "RESALE",
    "RWS_MASS_BALANCE", "RWS_SEGREGATED", "SCARF", "SCARVES", "SILK_MILL", "SILK_YARN", "TANNERY",
    "TOPS", "TRIMS", "TWILL", "WOOL_MILL", "WOOL_YARN", "Step", "story",
]  # fmt: skip
