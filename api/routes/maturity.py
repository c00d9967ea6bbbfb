"""A company's maturity: ``GET /v1/actors/{actor_id}/maturity`` (JSON) and its page.

The JSON answer holds the levels per dimension and overall, the ledger evidence (each metric
with the entries behind it), the latest assessment and its entry index, the roadmap, and the
history of assessments with the levels at each (evidence as it stood when each was logged).
With no assessment yet, levels come from the ledger evidence alone.

The page is a separate route, ``GET /companies/{slug}`` (``urn:spola:actor:{slug}``), rather
than content negotiation on the API path: it is the address a person shares, it takes
``?lang=it|en`` and it renders the same JSON document (``scoring.maturity_page``). Both are public
unless the company left ``maturity`` out of its profile's ``public_figures`` (the directory's
access tiers, docs/directory.md): then only its own brand token and the operator read them, and
anyone else gets 404, worded as for an unknown actor and the ledger's operator (``missing``).
Scoring is ``scoring.maturity``'s; queries are ``ledger.store.maturity``'s.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import ViewerDep
from api.deps import StoreDep
from api.directory_page import (
    Refused,
    given_twice,
    page_language,
    refusal_answer,
    render_company_missing,
    render_company_refused,
)
from api.problems import ledger_problem, problem
from ledger.errors import LimitError, NotFoundError
from ledger.quantities import format_decimal
from ledger.store.ledger import LedgerStore
from ledger.store.maturity import MAX_ENTRIES, Evidence, MaturityFacts, Metric
from ledger.store.tokens import Viewer
from passports.build import build_passport
from scoring.errors import ScoringInputError
from scoring.maturity import (
    NO_MCI_NOTE,
    NO_PASSPORT_NOTE,
    CertificateSpan,
    MaturityResult,
    Texts,
    assess,
    load_model,
)
from scoring.maturity_page import render_company
from scoring.product import product_mci
from scoring.product_inputs import recycled_output_kg

router = APIRouter(tags=["maturity"])

ActorPath = Annotated[str, Path(pattern=r"^urn:spola:actor:[a-z0-9][a-z0-9-]{0,62}$")]
# The company page's slug and ``lang``, checked by the page (FastAPI's refusal is JSON).
MAX_SLUG: Final = 63
MAX_LANG: Final = 8
_SLUG: Final = re.compile(r"[a-z0-9][a-z0-9-]*")
PLACES = Decimal("0.0001")
# What is served depends on the caller's token (a hidden maturity): no shared cache may keep it.
HEADERS = {"Vary": "Authorization", "Cache-Control": "private, no-cache"}
PAGE_HEADERS = {"Vary": "Accept-Language, Authorization", "Cache-Control": "private, no-cache"}


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else format_decimal(value.quantize(PLACES).normalize())


def _texts(value: Texts) -> dict[str, str]:
    return {"it": value.it, "en": value.en}


def _metric(m: Metric) -> dict[str, Any]:
    # Absolute masses are restricted figures (as in passports and circularity): a public
    # answer gives mass metrics as shares only; counts (handovers, events) are public anyway.
    counted = m.unit != "kg"
    return {
        "value": _decimal(m.value),
        "numerator": _decimal(m.numerator) if counted else None,
        "denominator": _decimal(m.denominator) if counted else None,
        "unit": m.unit,
        "entries": list(m.entries),
        "note": m.note,
    }


def _result(
    evidence: Evidence, facts_answers: Any, on: date | None, version: str | None
) -> MaturityResult:
    spans = [
        CertificateSpan(
            c.scheme, c.id, date.fromisoformat(c.valid_from), date.fromisoformat(c.valid_until)
        )
        for c in evidence.certificates
    ]
    metrics = {name: m.value for name, m in evidence.metrics.items()}
    return assess(
        load_model(), facts_answers, version=version, on=on, metrics=metrics, certificates=spans
    )


def _dimension(d: Any) -> dict[str, Any]:
    return {
        "id": d.dimension.id,
        "name": _texts(d.dimension.name),
        "level": d.level,
        "score": format_decimal(d.score),
        "levels": [
            {"level": t.level, "description": _texts(t.description)} for t in d.dimension.levels
        ],
        "questions": [
            {
                "id": r.question.id,
                "level": r.question.level,
                "weight": r.question.weight,
                "text": _texts(r.question.text),
                "answer": r.answer,
                "basis": r.basis,
                "credit": format_decimal(r.credit),
                "metric": None if r.question.metric is None else r.question.metric.name,
            }
            for r in d.questions
        ],
    }


def _roadmap(result: MaturityResult) -> list[dict[str, Any]]:
    return [
        {
            "dimension": d.dimension.id,
            "level": d.level,
            "next_level": d.level + 1,
            "items": [
                {
                    "question": i.question.id,
                    "level": i.question.level,
                    "weight": i.question.weight,
                    "gap": format_decimal(i.gap),
                    "priority": format_decimal(i.priority),
                    "answer": i.answer,
                    "basis": i.basis,
                    "action": _texts(i.question.action),
                    "target": _texts(i.question.target),
                    "metric": None
                    if i.question.metric is None
                    else {"name": i.question.metric.name, "at_least": i.question.metric.at_least},
                }
                for i in d.roadmap
            ],
        }
        for d in result.dimensions
        if d.level < 5
    ]


def with_product_mci(
    store: LedgerStore,
    evidence: Evidence,
    scored: dict[tuple[str, int], Decimal | None] | None = None,
) -> Evidence:
    """``evidence`` with ``mean_product_mci``: the mean MCI (2019 method, ``scoring.product``)
    of the passports the company issued, each at its version as of the evidence's index.

    ``scored`` remembers each (subject, version)'s MCI (None: none can be computed) across the
    evidences of one document: the history's evidences name mostly the same versions."""
    known = {} if scored is None else scored
    scores: list[Decimal] = []
    entries: list[int] = []
    for subject, version, index in evidence.passports:
        if (subject, version) not in known:
            known[subject, version] = _product_mci(store, subject, version)
        found = known[subject, version]
        if found is None:
            continue  # a passport no MCI can be computed for does not count
        scores.append(found)
        entries.append(index)
    total = sum(scores, Decimal(0))
    count = Decimal(len(scores))
    value = total / count if scores else None
    note = None if scores else NO_MCI_NOTE if evidence.passports else NO_PASSPORT_NOTE
    metric = Metric(
        "mean_product_mci", value, total, count, "products", tuple(entries[-MAX_ENTRIES:]), note
    )
    return replace(evidence, metrics={**evidence.metrics, metric.name: metric})


def _product_mci(store: LedgerStore, subject: str, version: int) -> Decimal | None:
    try:
        facts = store.passport_facts(subject, version)
        found = product_mci(
            build_passport(facts).document, recycled_output_kg=recycled_output_kg(facts)
        )
    except (ScoringInputError, LimitError):  # no materials; a provenance over the bounds
        return None
    return found.result.mci


def missing(actor_id: str) -> str:
    """The detail of the 404 for a company without a maturity ``viewer`` may read: the same
    whether no such company is registered, it is the ledger's operator or it keeps its maturity
    from the reader. Each is learnt elsewhere (``/v1/actors``, the directory's profile and its
    ``public_figures``), but the maturity routes answer one question: is there a public
    document."""
    return f"no company {actor_id} makes its maturity public"


def _shown(viewer: Viewer, actor_id: str, public: tuple[str, ...]) -> bool:
    """Whether ``viewer`` sees the maturity of a company making ``public`` figures public."""
    return "maturity" in public or viewer.may_see_restricted(actor_id)


def maturity_document(
    store: LedgerStore, actor_id: str, viewer: Viewer | None = None
) -> dict[str, Any]:
    """Read, complete with product MCIs, score: the document both routes answer with.

    With a ``viewer``, NotFoundError (``missing``) when there is no such company, when it is
    the ledger's operator or when the company hides its maturity from them, told from the same
    read as the facts, before its evidence is read; without one, the caller decides what to
    show (the directory's profile)."""
    if viewer is None:
        facts = store.maturity(actor_id)
    else:
        try:
            facts = store.maturity(actor_id, partial(_shown, viewer, actor_id))
        except NotFoundError:
            # One wording for an unknown actor, the ledger's operator and a hidden maturity,
            # as the company page's: the reader is told there is nothing public to read.
            raise NotFoundError(missing(actor_id)) from None
    scored: dict[tuple[str, int], Decimal | None] = {}
    records = tuple(
        replace(r, evidence=with_product_mci(store, r.evidence, scored)) for r in facts.assessments
    )
    now = with_product_mci(store, facts.evidence, scored)
    return maturity_json(replace(facts, evidence=now, assessments=records))


def maturity_json(facts: MaturityFacts) -> dict[str, Any]:
    """The maturity document of one company (docs/api.md, Maturity)."""
    model = load_model()
    history = []
    for record in facts.assessments:
        on = date.fromisoformat(record.event.date)
        past = _result(record.evidence, record.event.answers, on, record.event.model)
        history.append(
            {
                "index": record.index,
                "date": record.event.date,
                "model": record.event.model,
                "overall": past.overall,
                "levels": {d.dimension.id: d.level for d in past.dimensions},
                "scores": {d.dimension.id: format_decimal(d.score) for d in past.dimensions},
            }
        )
    latest = facts.assessments[-1] if facts.assessments else None
    today = None if latest is None else date.fromisoformat(latest.event.date)
    answers, version = ((), None) if latest is None else (latest.event.answers, latest.event.model)
    result = _result(facts.evidence, answers, today, version)
    return {
        "actor": facts.actor.id,
        "name": facts.actor.name,
        "model": {"version": model.version, "title": _texts(model.title), "bands": model.bands},
        "as_of_index": facts.evidence.upto,
        "assessment": None
        if latest is None
        else {"index": latest.index, "date": latest.event.date, "time": latest.event.time},
        "overall": result.overall,
        "dimensions": [_dimension(d) for d in result.dimensions],
        "evidence": {name: _metric(m) for name, m in facts.evidence.metrics.items()},
        "roadmap": _roadmap(result),
        "history": history,
    }


@router.get(
    "/v1/actors/{actor_id}/maturity",
    summary="A company's maturity: levels, ledger evidence, roadmap and assessment history",
)
async def get_maturity(store: StoreDep, viewer: ViewerDep, actor_id: ActorPath) -> JSONResponse:
    document = await run_in_threadpool(maturity_document, store, actor_id, viewer)
    return JSONResponse(document, headers=HEADERS)


def _page_refusal(request: Request, slug: str, lang_too_long: bool) -> tuple[Refused, str] | None:
    # What the company page refuses of its address, with the API's English detail.
    if len(slug) > MAX_SLUG:
        return Refused("slug", "too_long", limit=str(MAX_SLUG)), f"at most {MAX_SLUG} characters"
    if not _SLUG.fullmatch(slug):
        return Refused("slug", "not_a_slug", slug), (
            f"{slug!r} is not a slug: lower-case letters, digits and hyphens, starting with a "
            "letter or digit"
        )
    if (twice := given_twice(request)) is not None:
        return Refused(twice, "twice"), "given more than once; give it once"
    if lang_too_long:
        return Refused("lang", "too_long", limit=str(MAX_LANG)), f"at most {MAX_LANG} characters"
    return None


@router.get("/companies/{slug}", response_class=HTMLResponse, include_in_schema=False)
async def company_page(
    request: Request, store: StoreDep, viewer: ViewerDep, slug: str, lang: str | None = None
) -> Response:
    # A refused slug or ``lang`` is a 400 page, a company without a public maturity page a 404
    # page (one wording whatever the reason), in the reader's language; a client asking for
    # JSON gets the API's problem instead (``refusal_answer``).
    language, lang_too_long = page_language(request, lang, MAX_LANG)
    refused = _page_refusal(request, slug, lang_too_long)
    if refused is not None:
        detail = f"{refused[0].name}: {refused[1]}"
        page = partial(render_company_refused, slug, refused[0], language)
        return refusal_answer(
            request, 400, page, problem(400, "bad-request", "Bad request", detail)
        )
    try:
        doc = await run_in_threadpool(maturity_document, store, f"urn:spola:actor:{slug}", viewer)
    except NotFoundError as exc:
        missing = partial(render_company_missing, slug, language)
        return refusal_answer(request, 404, missing, ledger_problem(exc))
    html = render_company(doc, lang=language)
    return HTMLResponse(html, headers=PAGE_HEADERS)
