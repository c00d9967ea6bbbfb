"""``api.deps.given_once``: a query parameter read as one value may not repeat; one read as a
list may. Through a small app of its own, as FastAPI routes it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.testclient import TestClient

from api.deps import given_once
from api.problems import install

router = APIRouter(dependencies=[Depends(given_once)])


@router.get("/things")
def things(
    kind: Annotated[str | None, Query()] = None,
    tag: Annotated[list[str] | None, Query()] = None,
    size: Annotated[list[int], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> dict[str, object]:
    return {"kind": kind, "tag": tag, "size": size}


def _client() -> TestClient:
    app = FastAPI()
    install(app)
    app.include_router(router)
    return TestClient(app)


def test_a_list_parameter_may_repeat_and_one_that_is_not_read_too() -> None:
    answer = _client().get("/things?tag=a&tag=b&size=1&size=2&other=1&other=2&kind=x")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"kind": "x", "tag": ["a", "b"], "size": [1, 2]}


def test_a_single_parameter_given_twice_is_refused_naming_it() -> None:
    answer = _client().get("/things?kind=x&tag=a&kind=y")
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "query.kind: given more than once; give it once"
