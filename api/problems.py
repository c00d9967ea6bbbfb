"""RFC 9457 problem details: the one place where errors become HTTP responses.

Every error the service reports leaves through here as ``application/problem+json`` with a
``type`` naming the kind of problem, the HTTP ``status``, a short ``title`` and a ``detail``
that says precisely what was wrong. The database not answering for the moment (a dropped
connection, a lock held too long, an exhausted pool) is a 503 with ``Retry-After``; other
unexpected exceptions become a 500 without internals. An address no route answers (404) and a
method it does not serve (405) are a page in the reader's language for a browser
(``api.limits.page_refusal``: the page's own look under the pages, ``api.refusal_page``
elsewhere); a client asking for JSON keeps the problem.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.directory_page import Unanswered
from api.limits import page_refusal
from api.refusal_page import methods_served
from ledger.errors import (
    EquivocationError,
    FeedError,
    FormatError,
    KeyOwnerError,
    LedgerError,
    LimitError,
    NotFoundError,
    ProofError,
    RefusedEnvelope,
    RevokedKeyError,
    SignatureError,
    UnknownKeyError,
)
from ledger.identifiers import other_primary_key
from ledger.store.engine import unavailable

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRY_UNAVAILABLE = 2  # seconds a client waits after a 503: a pool reconnects, a lock passes

# Most specific first: the first matching class decides.
_KINDS: list[tuple[type[LedgerError], int, str, str]] = [
    (EquivocationError, 409, "equivocation", "Equivocation"),
    (FeedError, 409, "feed", "Event does not continue its feed"),
    (UnknownKeyError, 403, "unknown-key", "Unknown signing key"),
    (RevokedKeyError, 403, "revoked-key", "Signing key not valid"),
    (KeyOwnerError, 403, "key-owner", "Signing key belongs to another actor"),
    (SignatureError, 403, "signature", "Signature refused"),
    (LimitError, 413, "too-large", "Input over the limit"),
    (ProofError, 400, "proof", "Proof request cannot be answered"),
    (NotFoundError, 404, "not-found", "Not found"),
    (FormatError, 422, "format", "Malformed input"),
]


class BadRequest(Exception):
    """A request the API refuses before any ledger code sees it (body not JSON, bad query)."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


def problem(status: int, kind: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"urn:spola:problem:{kind}", "title": title, "status": status}
    # A detail may quote the request, and a request may hold a lone surrogate ("\ud800"),
    # which no UTF-8 response can carry: it is shown as its escape instead of failing (500).
    body["detail"] = detail.encode("utf-8", "backslashreplace").decode("utf-8")
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def problem_kind(error: LedgerError) -> tuple[int, str, str] | None:
    """The status, kind (``urn:spola:problem:{kind}``) and title the API answers ``error``
    with; None for an error it does not expect (a 500)."""
    for kind, status, slug, title in _KINDS:
        if isinstance(error, kind):
            return status, slug, title
    return None


def problem_members(error: LedgerError) -> dict[str, Any]:
    """The RFC 9457 extension members the problem for ``error`` carries, besides a batch's
    ``position``: what a client acts on without reading the ``detail``."""
    if isinstance(error, EquivocationError):
        return {"key_id": error.key_id, "seq": error.seq, "logged_index": error.existing_index}
    if isinstance(error, KeyOwnerError):
        return {"key_id": error.key_id, "key_owner": error.owner, "claimed_actor": error.claimed}
    return {}


def ledger_problem(exc: LedgerError) -> JSONResponse:
    extra: dict[str, Any] = {}
    cause = exc
    if isinstance(exc, RefusedEnvelope):
        cause, extra["position"] = exc.cause, exc.position
    extra.update(problem_members(cause))
    if (sorted_as := problem_kind(cause)) is not None:
        status, slug, title = sorted_as
        return problem(status, slug, title, str(exc), **extra)
    log.error("unmapped ledger error %s: %s", type(exc).__name__, exc)
    return problem(500, "internal", "Internal error", "the ledger could not handle this request")


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "example": "urn:spola:problem:bad-request"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        # RFC 9457 extension members, each sent only with the problems named.
        "position": {
            "type": "integer",
            "minimum": 0,
            "description": "A batch refused for one envelope: its place in the batch",
        },
        "key_id": {
            "type": "string",
            "description": "equivocation, key-owner: the signing key's ID",
        },
        "seq": {"type": "integer", "description": "equivocation: the seq used twice"},
        "logged_index": {
            "type": "integer",
            "description": "equivocation: the log index of the event logged at that seq",
        },
        "key_owner": {
            "type": "string",
            "description": "key-owner: the actor the signing key is registered to",
        },
        "claimed_actor": {
            "type": "string",
            "description": "key-owner: the actor the refused event claims to speak for",
        },
    },
}
_REFUSED = {
    "description": "Refused: an RFC 9457 problem naming what was wrong",
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare in an OpenAPI document the errors this module answers with.

    FastAPI declares a 422 ``HTTPValidationError`` for every operation with parameters; the
    service never sends one (invalid parameters are a 400 problem, see ``install``). Each
    operation instead declares ``4XX``: an ``application/problem+json`` Problem.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for fastapi_default in ("HTTPValidationError", "ValidationError"):
        components.pop(fastapi_default, None)
    components["Problem"] = PROBLEM_SCHEMA
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            declared = responses.get("422", {}).get("content", {}).get("application/json", {})
            if declared.get("schema") == {"$ref": "#/components/schemas/HTTPValidationError"}:
                del responses["422"]
            responses.setdefault("4XX", _REFUSED)
    return schema


def allowed_methods(request: Request) -> list[str]:
    """The methods some route serves at the request's path, for a 405's Allow header.

    RFC 9110 §15.5.6 has a 405 name the methods the resource accepts. Starlette names those
    of the first route that matched the path only, so a path served by two routers would be
    answered with half of them: each method is tried against every route instead. Wherever
    GET is served, so is HEAD (``api.head``).
    """
    return methods_served(request.scope)


# The framework's refusals a page's address words as a page for a browser.
_UNANSWERED: dict[int, Unanswered] = {404: "no_page", 405: "method"}


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point

    @app.exception_handler(LedgerError)
    async def _ledger(_: Request, exc: LedgerError) -> JSONResponse:
        return ledger_problem(exc)

    @app.exception_handler(BadRequest)
    async def _bad(_: Request, exc: BadRequest) -> JSONResponse:
        title = "Request body too large" if exc.status == 413 else "Bad request"
        kind = "too-large" if exc.status == 413 else "bad-request"
        return problem(exc.status, kind, title, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return problem(400, "bad-request", "Bad request", f"{where}: {first.get('msg')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http")
        detail = str(exc.detail)
        if exc.status_code == 404 and (key := other_primary_key(request.url.path)):
            detail = (
                f"{key} is not served here: this resolver serves passports at GS1 Digital Link "
                "URIs of GTINs, /01/{gtin}, /01/{gtin}/10/{lot} and /01/{gtin}/21/{serial}"
            )
        answer: Response = problem(exc.status_code, slug, str(exc.detail), detail)
        # Under a page's address a browser is told so in a page (api.limits.page_refusal).
        reason = _UNANSWERED.get(exc.status_code)
        if reason and (refusal := page_refusal(request.scope, reason)) is not None:
            html, headers = refusal
            if html is not None:
                answer = HTMLResponse(html, exc.status_code)
            answer.headers.update(headers)
        answer.headers.update(exc.headers or {})
        if exc.status_code == 405:
            answer.headers["Allow"] = ", ".join(allowed_methods(request))
        return answer

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        if unavailable(exc):
            log.error("database unavailable: %s", type(exc).__name__, exc_info=exc)
            answer = problem(
                503,
                "unavailable",
                "Service unavailable",
                "the ledger's database did not answer; try again in a moment (an envelope sent "
                "again is answered with its receipt if it was logged)",
            )
            answer.headers["Retry-After"] = str(RETRY_UNAVAILABLE)
            return answer
        log.exception("unexpected error", exc_info=exc)
        return problem(500, "internal", "Internal error", "the service failed to answer")
