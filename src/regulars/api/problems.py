"""RFC 9457 problem details: every error body is ``application/problem+json``."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:regulars:problem:"


class ApiProblemError(Exception):
    """Raised by services and dependencies; rendered as a problem details response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.headers = headers
        self.extra = extra


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    kind: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"{TYPE_BASE}{kind}" if kind else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        where, path = (loc[0], loc[1:]) if loc else ("body", [])
        errors.append(
            {
                "in": where,
                "field": ".".join(path) or where,
                "message": str(error.get("msg", "invalid")),
                "type": str(error.get("type", "value_error")),
            }
        )
    return errors


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error as problem details: HTTP and validation errors, :class:`ApiProblemError`,
    a busy database (503, :func:`busy_response`) and anything unexpected (500)."""

    async def on_problem(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblemError)
        return problem_response(
            exc.status, exc.detail, kind=exc.kind, headers=exc.headers, **exc.extra
        )

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(
            422,
            "the request is not valid; see errors",
            kind="validation-error",
            errors=_field_errors(exc),
        )

    async def on_database(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DBAPIError)
        if is_contention(exc):
            return busy_response()
        raise exc  # anything else is a bug: on_unexpected answers it

    async def on_unexpected(_request: Request, _exc: Exception) -> JSONResponse:
        # The traceback goes to the server log (Starlette re-raises it); the client gets
        # problem details without internals.
        return problem_response(500, "an unexpected error; it was logged", kind="server-error")

    app.add_exception_handler(ApiProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(DBAPIError, on_database)
    app.add_exception_handler(Exception, on_unexpected)


RETRY_AFTER_SECONDS = 1
"""The ``Retry-After`` of a 503 for a busy database."""

# PostgreSQL's deadlock_detected and serialization_failure: the transaction was rolled
# back whole, so the client may simply send the request again.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def is_contention(exc: DBAPIError) -> bool:
    """Whether ``exc`` says the database was too busy (a lock it could not get in time),
    not that the request was wrong: SQLite's "database is locked", a PostgreSQL deadlock."""
    if getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    message = str(exc.orig).lower()
    return "database is locked" in message or "database table is locked" in message


def busy_response() -> JSONResponse:
    """503 problem details with ``Retry-After``: nothing was written, send it again."""
    return problem_response(
        503,
        "the database is busy; nothing was written, retry the request",
        kind="database-busy",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class BodySizeLimit:
    """ASGI middleware: 413 problem details for a request body over ``max_body_size`` bytes.

    ``larger_limits`` maps path prefixes to their own limit. A declared ``Content-Length``
    over the limit is refused before anything is read; a
    streamed body is counted as it is received.
    """

    def __init__(
        self, app: ASGIApp, max_body_size: int, larger_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.larger_limits = dict(larger_limits or {})

    def _limit(self, path: str) -> int:
        """The limit for ``path``: the one of its path prefix in ``larger_limits``, if any."""
        prefixed = (n for prefix, n in self.larger_limits.items() if path.startswith(prefix))
        return next(prefixed, self.max_body_size)

    @staticmethod
    def _too_large(limit: int) -> str:
        return f"the request body is larger than {limit} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope.get("path", ""))
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                response = problem_response(413, self._too_large(limit), kind="request-too-large")
                await response(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise StarletteHTTPException(413, self._too_large(limit))
            return message

        await self.app(scope, limited, send)
