"""A company's MCI (weighted product MCIs) and its WBCSD CTI, against hand-computed values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from scoring.company import Flow, company_mci, cti
from scoring.errors import ScoringInputError
from scoring.product import product_mci
from tests.unit.test_scoring_product import close, passport


def test_company_mci_is_the_weighted_mean_of_product_mcis() -> None:
    linear_end = product_mci(passport())  # MCI 59/110
    recycled = product_mci(
        passport(taken_back=True, recycled=True), recycled_output_kg=Decimal("1.5")
    )  # MCI 19/22 = 95/110
    company = company_mci([(linear_end, Decimal(1)), (recycled, Decimal(3))], "mass")
    # (59 + 3 · 95) / (4 · 110) = 344/440 = 43/55
    assert company.mci is not None and close(company.mci, Decimal(43) / Decimal(55))
    assert [p.share for p in company.products] == [Decimal("0.25"), Decimal("0.75")]
    assert company.total_weight == 4
    assert company.data_quality == "mostly estimated"  # the weakest product's


def test_company_without_products_has_no_mci() -> None:
    company = company_mci([], "mass")
    assert company.mci is None and company.data_quality is None
    assert company.to_json()["mci"] is None


@pytest.mark.parametrize("weight", [Decimal(0), Decimal(-1), Decimal("NaN")])
def test_product_weight_must_be_over_zero(weight: Decimal) -> None:
    with pytest.raises(ScoringInputError, match=r"^products\[0\]\.weight:"):
        company_mci([(product_mci(passport()), weight)], "mass")


def test_unknown_weighting_is_refused() -> None:
    with pytest.raises(ScoringInputError, match=r"^weighting:"):
        company_mci([], "units")  # type: ignore[arg-type]


def test_cti_inflow_outflow_and_circularity() -> None:
    inflows = [
        Flow(Decimal(100)),  # virgin
        Flow(Decimal(50), recycled=Decimal(1)),
        Flow(Decimal(50), renewable_certified=Decimal("0.5")),
    ]
    outflows = [
        Flow(Decimal(80), recovered=Decimal("0.5")),
        Flow(Decimal(20), recovered=Decimal(1), recoverable=Decimal("0.5")),
    ]
    result = cti(inflows, outflows)
    # in: (50 + 25) / 200 = 0.375; out: (40 + 10) / 100 = 0.5; all: 125 / 300 = 5/12
    assert result.circular_inflow == Decimal("0.375")
    assert result.circular_outflow == Decimal("0.5")
    assert result.circularity is not None
    assert close(result.circularity, Decimal(5) / Decimal(12))
    assert (result.recycled_kg, result.renewable_kg) == (Decimal(50), Decimal(25))
    assert result.to_json()["circularity"] == "0.416667"


def test_cti_without_flows_has_no_percentages() -> None:
    result = cti([], [])
    assert (result.circular_inflow, result.circular_outflow, result.circularity) == (
        None,
        None,
        None,
    )


def test_cti_refuses_fractions_over_one_naming_the_flow() -> None:
    with pytest.raises(ScoringInputError, match=r"^inflows\[0\]\.recycled:"):
        cti([Flow(Decimal(1), recycled=Decimal("0.6"), reused=Decimal("0.6"))], [])
    with pytest.raises(ScoringInputError, match=r"^outflows\[0\]\.recovered:"):
        cti([], [Flow(Decimal(1), recovered=Decimal(2))])
    with pytest.raises(ScoringInputError, match=r"^inflows\[0\]\.mass_kg:"):
        cti([Flow(Decimal(-1))], [])


def _inflow(renewable: str, scheme: str | None, certified: str | None, recycled: str = "0") -> Flow:
    return Flow.inflow(
        Decimal(10),
        recycled=Decimal(recycled),
        reused=Decimal(0),
        renewable=Decimal(renewable),
        scheme=scheme,
        certified=None if certified is None else Decimal(certified),
        what="lot",
        entries=(1,),
    )


def test_renewable_inflow_counts_only_under_a_sourcing_claim() -> None:
    assert _inflow("1", "RWS", "0.7").renewable_certified == Decimal("0.7")
    unclaimed = _inflow("1", None, None)
    assert unclaimed.renewable_certified == 0 and unclaimed.note is not None
    assert _inflow("1", "OEKO-TEX-100", "1").renewable_certified == 0


def test_recycled_inflow_is_not_counted_twice_as_renewable() -> None:
    flow = _inflow("0.99", "RWS", "1", recycled="1")
    assert (flow.recycled, flow.renewable_certified) == (Decimal(1), Decimal(0))
    assert flow.circular_in() == 10


def test_cti_of_huge_flows_is_presented_not_refused() -> None:
    # 10^25 kg rounded to 6 places needs 32 digits: the default 28 refused it.
    flows = [Flow(Decimal(10) ** 25, recycled=Decimal("0.5"))]
    answer = cti(flows, flows).to_json()
    assert answer["inflow_kg"] == "1" + "0" * 25 and answer["circular_inflow"] == "0.5"
    weighted = company_mci([(product_mci(passport()), Decimal(10) ** 25)], "mass").to_json()
    assert weighted["total_weight"] == "1" + "0" * 25
