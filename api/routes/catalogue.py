"""The materials and processes catalogue: static per release, so answered with ETags.

Rows are rendered as the data file holds them, with their sources and schemes resolved. Every
answer carries a strong ETag over its exact bytes and ``Cache-Control: public, max-age=3600``;
``If-None-Match`` gets a 304. Unknown filter values are refused (400) rather than answered with
an empty list, so a typo never looks like "no such materials".
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.deps import given_once
from api.problems import BadRequest
from ledger.catalogue import (
    SCHEME_PATTERN,
    Catalogue,
    Category,
    Cycle,
    Material,
    ProcessType,
    Stage,
    catalogue,
)
from ledger.errors import NotFoundError

router = APIRouter(prefix="/v1", tags=["catalogue"], dependencies=[Depends(given_once)])

CACHE_CONTROL: Final = "public, max-age=3600"
RowId = Annotated[str, Path(max_length=64)]


def _references(cat: Catalogue, row: Material | ProcessType) -> list[dict[str, Any]]:
    return [{"id": s, **cat.sources[s].model_dump(mode="json")} for s in row.sources]


def material_json(cat: Catalogue, material: Material) -> dict[str, Any]:
    row = material.model_dump(mode="json")
    row["schemes"] = [{"id": s, **cat.schemes[s].model_dump(mode="json")} for s in material.schemes]
    row["sources"] = _references(cat, material)
    return row


def process_json(cat: Catalogue, process: ProcessType) -> dict[str, Any]:
    row = process.model_dump(mode="json")
    row["sources"] = _references(cat, process)
    return row


@dataclass(frozen=True)
class Rendered:
    """One answer's exact body bytes and its strong ETag."""

    content: bytes
    etag: str


def _render(body: dict[str, Any]) -> Rendered:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Rendered(content, f'"{hashlib.sha256(content).hexdigest()[:32]}"')


# The catalogue is immutable for the life of the process, so each answer is rendered once. The
# keys are bounded: filters are closed sets checked before these run, and an unknown id raises
# (functools.cache does not keep exceptions).
@functools.cache
def _materials(category: str | None, cycle: str | None, scheme: str | None) -> Rendered:
    cat = catalogue()
    rows = cat.select_materials(category=category, cycle=cycle, scheme=scheme)
    return _render({"version": cat.version, "materials": [material_json(cat, m) for m in rows]})


@functools.cache
def _material(material_id: str) -> Rendered:
    cat = catalogue()
    material = cat.material(material_id)
    if material is None:
        raise NotFoundError(f"no material {material_id!r} in the catalogue")
    return _render(material_json(cat, material))


@functools.cache
def _processes(stage: str | None) -> Rendered:
    cat = catalogue()
    rows = cat.select_processes(stage=stage)
    return _render({"version": cat.version, "processes": [process_json(cat, p) for p in rows]})


@functools.cache
def _process(process_id: str) -> Rendered:
    cat = catalogue()
    process = cat.process(process_id)
    if process is None:
        raise NotFoundError(f"no process type {process_id!r} in the catalogue")
    return _render(process_json(cat, process))


def _answer(request: Request, rendered: Rendered) -> Response:
    headers = {"ETag": rendered.etag, "Cache-Control": CACHE_CONTROL}
    # RFC 9110 §13.1.2: If-None-Match compares weakly, and "*" matches any current answer.
    header = request.headers.get("if-none-match", "")
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if rendered.etag in wanted or "*" in wanted:
        return Response(status_code=304, headers=headers)
    return Response(rendered.content, media_type="application/json", headers=headers)


@router.get(
    "/catalogue/materials",
    summary="Catalogue materials, optionally filtered by category, cycle and scheme",
    response_class=Response,
)
def list_materials(
    request: Request,
    category: Category | None = None,
    cycle: Cycle | None = None,
    scheme: Annotated[str | None, Query(pattern=SCHEME_PATTERN)] = None,
) -> Response:
    if scheme is not None and scheme not in catalogue().schemes:
        known = ", ".join(sorted(catalogue().schemes))
        raise BadRequest(f"scheme: unknown certification scheme {scheme!r} (known: {known})")
    return _answer(request, _materials(category, cycle, scheme))


@router.get(
    "/catalogue/materials/{material_id}", summary="One catalogue material", response_class=Response
)
def get_material(request: Request, material_id: RowId) -> Response:
    return _answer(request, _material(material_id))


@router.get(
    "/catalogue/processes",
    summary="Catalogue process types, optionally filtered by stage",
    response_class=Response,
)
def list_processes(request: Request, stage: Stage | None = None) -> Response:
    return _answer(request, _processes(stage))


@router.get(
    "/catalogue/processes/{process_id}",
    summary="One catalogue process type",
    response_class=Response,
)
def get_process(request: Request, process_id: RowId) -> Response:
    return _answer(request, _process(process_id))
