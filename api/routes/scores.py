"""Circularity read from the ledger: a product's MCI and a company's MCI and CTI.

- ``GET /v1/items/{id}/circularity``: the MCI of the item's latest passport
  (``scoring.product``), every input with its origin, flags and data quality.
- ``GET /v1/actors/{id}/circularity``: the company MCI over the passports the actor issued
  (mass weighting) and the WBCSD CTI over its inflows and outflows (``scoring.company``).
  Percentages are public; the flows behind them (lot ids, absolute masses) sit under
  ``restricted`` and are shown only to the actor's own brand token or the operator's.

Item ids are Digital Link paths written without their leading slash, as in
``/v1/items/{id}``; this router must be included before ``api.routes.domain``, whose
``/v1/items/{id:path}`` would otherwise swallow ``…/circularity``. Numbers are decimal strings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.auth import ViewerDep
from api.deps import StoreDep, given_once
from api.routes.domain import _ident
from ledger.errors import LimitError
from ledger.quantities import format_decimal
from ledger.store.circularity import InflowRecord, OutflowRecord
from ledger.store.ledger import LedgerStore
from passports.build import build_passport
from passports.tiers import RESTRICTED, redact
from scoring.company import Flow, company_mci, cti
from scoring.errors import ScoringInputError
from scoring.mci import quantized
from scoring.product import ProductCircularity, product_mci
from scoring.product_inputs import recycled_output_kg

router = APIRouter(prefix="/v1", tags=["circularity"], dependencies=[Depends(given_once)])

IdPath = Annotated[str, Path(min_length=1, max_length=130)]
MethodQuery = Annotated[Literal["2015", "2019"], Query()]
MAX_FLOWS: Final = 5000  # rows per kind of flow an answer reads
MAX_PRODUCTS: Final = 500  # passports a company MCI builds
PLACES: Final = Decimal("0.000001")


def _text(value: Decimal) -> str:
    return format_decimal(quantized(value, PLACES))


def _product(store: LedgerStore, subject: str, method: Literal["2015", "2019"]) -> Any:
    facts = store.passport_facts(subject)
    document = build_passport(facts).document
    found = product_mci(document, method=method, recycled_output_kg=recycled_output_kg(facts))
    return found, facts.versions[-1].number


@router.get("/items/{item_id:path}/circularity", summary="The MCI of an item, from its passport")
def get_item_circularity(
    store: StoreDep, item_id: IdPath, method: MethodQuery = "2019"
) -> dict[str, Any]:
    subject = _ident(item_id)
    found, version = _product(store, subject, method)
    return {"subject": subject, "passport_version": version, **found.to_json()}


def _inflow(record: InflowRecord) -> Flow:
    entries = (record.index,)
    if record.kind == "untraced":
        return Flow(record.mass_kg, what=record.subject, entries=entries,
                    note="untraced addition: counted as virgin")  # fmt: skip
    if record.second_life:
        return Flow(record.mass_kg, reused=Decimal(1), what=record.subject, entries=entries,
                    note=f"second life ({record.kind}): a used item")  # fmt: skip
    return Flow.inflow(
        record.mass_kg,
        recycled=record.recycled,
        reused=record.reused,
        renewable=record.renewable,
        scheme=record.claim_scheme,
        certified=record.claim_fraction,
        what=record.subject,
        entries=entries,
    )


def _outflow(record: OutflowRecord) -> Flow:
    return Flow(record.mass_kg, recovered=min(Decimal(1), record.recovered),
                what=record.subject, entries=record.entries, note=record.fate)  # fmt: skip


def _flow_json(flow: Flow, kind: str, *, inflow: bool) -> dict[str, Any]:
    figures = (
        {"recycled": _text(flow.recycled), "reused": _text(flow.reused),
         "renewable_certified": _text(flow.renewable_certified),
         "circular_kg": _text(flow.circular_in())}
        if inflow
        else {"recovered": _text(flow.recovered), "recoverable": _text(flow.recoverable),
              "circular_kg": _text(flow.circular_out())}
    )  # fmt: skip
    return {"kind": kind, "subject": flow.what, "mass_kg": _text(flow.mass_kg), **figures,
            "note": flow.note, "entries": list(flow.entries)}  # fmt: skip


def _products(
    store: LedgerStore, subjects: list[str], method: Literal["2015", "2019"]
) -> tuple[list[tuple[ProductCircularity, Decimal]], list[str], list[str]]:
    """The products weighted by mass, those without a mass, and those whose passport cannot be
    built (a making chain over the walk's limit, which any supplier upstream could sign): left
    out and named, so that one product does not take the company's figures down."""
    weighted: list[tuple[ProductCircularity, Decimal]] = []
    unweighed: list[str] = []
    unbuilt: list[str] = []
    for subject in subjects[:MAX_PRODUCTS]:
        try:
            found, _ = _product(store, subject, method)
        except LimitError:
            unbuilt.append(subject)
            continue
        if found.mass_kg is None or found.mass_kg <= 0:
            unweighed.append(subject)
        else:
            weighted.append((found, found.mass_kg))
    return weighted, unweighed, unbuilt


@router.get("/actors/{actor_id}/circularity", summary="A company's MCI and CTI from its events")
def get_actor_circularity(
    store: StoreDep,
    viewer: ViewerDep,
    actor_id: Annotated[str, Path(max_length=80)],
    method: MethodQuery = "2019",
    weighting: Annotated[str, Query(max_length=16)] = "mass",
) -> dict[str, Any]:
    if weighting == "revenue":
        raise ScoringInputError(
            "weighting", "revenue weighting needs each product's revenue (field 'revenue'), "
            "which the ledger does not record; use weighting=mass",
        )  # fmt: skip
    if weighting != "mass":
        raise ScoringInputError("weighting", f"is mass or revenue, not {weighting!r}")
    flows = store.actor_flows(actor_id, limit=MAX_FLOWS)
    weighted, unweighed, unbuilt = _products(store, flows.passports, method)
    company = company_mci(weighted, "mass")
    inflows = [_inflow(r) for r in flows.inflows]
    outflows = [_outflow(r) for r in flows.outflows]
    result = cti(inflows, outflows).to_json()
    kg = {k: result.pop(k) for k in list(result) if k.endswith("_kg")}
    mci_json = company.to_json()
    weights = {p["subject"]: p.pop("weight") for p in mci_json["products"]}
    restricted_mci = {"total_weight": mci_json.pop("total_weight"), "weights": weights}
    pairs_in = zip(inflows, flows.inflows, strict=True)
    pairs_out = zip(outflows, flows.outflows, strict=True)
    answer = {
        "actor": actor_id,
        "method": method,
        "company_mci": mci_json
        | {"unweighed": unweighed, "unbuilt": unbuilt, RESTRICTED: restricted_mci},
        "cti": result | {RESTRICTED: kg},
        "truncated": flows.truncated or len(flows.passports) > MAX_PRODUCTS,
        RESTRICTED: {
            "inflows": [_flow_json(f, r.kind, inflow=True) for f, r in pairs_in],
            "outflows": [_flow_json(f, r.kind, inflow=False) for f, r in pairs_out],
        },
    }
    return answer if viewer.may_see_restricted(actor_id) else redact(answer)
