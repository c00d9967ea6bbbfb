"""Who is asking: ``ViewerDep`` turns an ``Authorization: Bearer`` header into a ``Viewer``.

No header: the public viewer, which never sees restricted fields. A header that is present but
is not a live spola token — another scheme, a malformed token, an unknown id, a wrong secret, a
revoked token, a token past its last day — is refused with a 401 problem (RFC 9457) and
``WWW-Authenticate: Bearer`` (RFC 6750 §3), never silently downgraded to public: a client whose
token stopped working should learn it. Unknown, wrong, revoked and expired tokens get the same
answer, so the response does not tell which ids exist. Tokens themselves are checked by
``ledger.store.tokens``; nothing here logs them.

``install(app)`` registers the 401 handler; without it the refusal still leaves as a 401 problem
(through ``api.problems``' HTTP handler), only without the ``WWW-Authenticate`` header.
"""

from __future__ import annotations

import logging
from typing import Annotated, Final

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import StoreDep
from api.problems import problem
from ledger.store.tokens import PUBLIC, Viewer

log = logging.getLogger(__name__)

CHALLENGE: Final = 'Bearer realm="spola", error="invalid_token"'

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="spola token",
    description="`spola token create` (docs/operations.md): brand or operator access to "
    "restricted fields. Without it, the public view.",
)


class InvalidToken(StarletteHTTPException):
    """An ``Authorization`` header that does not carry a live spola token."""

    def __init__(self, detail: str) -> None:
        super().__init__(401, detail, headers={"WWW-Authenticate": CHALLENGE})


def _viewer(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    # A plain function: FastAPI runs it in the thread pool, off the event loop, as it reads
    # the database.
    if "authorization" not in request.headers:
        return PUBLIC
    if credentials is None:
        log.info("refused a non-bearer Authorization header on %s", request.url.path)
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    viewer = store.resolve_token(credentials.credentials)
    if viewer is None:
        log.info("refused a bearer token on %s", request.url.path)
        raise InvalidToken("the bearer token is malformed, unknown, revoked or expired")
    return viewer


ViewerDep = Annotated[Viewer, Depends(_viewer)]


def install(app: FastAPI) -> None:
    """Answer ``InvalidToken`` as a 401 problem that carries the ``WWW-Authenticate`` challenge."""

    @app.exception_handler(InvalidToken)
    async def _invalid_token(_: Request, exc: InvalidToken) -> JSONResponse:
        response = problem(401, "unauthorized", "Invalid token", exc.detail)
        response.headers["WWW-Authenticate"] = CHALLENGE
        return response


__all__ = ["CHALLENGE", "InvalidToken", "ViewerDep", "install"]
