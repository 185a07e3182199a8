"""One app, API and pages: ``create_app`` is :func:`regulars.api.app.create_app` (``/v1``,
``/docs``) plus the web app's pages under ``/`` and its assets under ``/static/web``.
``regulars serve`` runs it in every worker process (:data:`APP_FACTORY`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from regulars.api.app import create_app as create_api_app
from regulars.config import Settings
from regulars.privacy import server_secret
from regulars.web.deps import CsrfError, ForbiddenError, LoginRequiredError
from regulars.web.i18n import N_
from regulars.web.pages import (
    auth,
    customers,
    dashboard,
    loyalty,
    loyalty_program,
    segments,
    settings,
    settings_import,
    settings_webhooks,
)
from regulars.web.render import render
from regulars.web.security import LoginThrottle, Signer

APP_FACTORY = "regulars.web.app:create_app"
"""The import string of :func:`create_app`, for ``uvicorn.run(APP_FACTORY, factory=True)``."""
SESSION_MAX_AGE = 12 * 3600
"""Seconds a login lasts; then the next page asks to log in again."""
STATIC = Path(__file__).parent / "static"
PAGES = (
    auth,
    dashboard,
    segments,
    customers,
    loyalty,
    loyalty_program,
    settings,
    settings_webhooks,
    settings_import,
)
"""The modules of the pages, each with its ``router``."""


@dataclass
class WebState:
    signer: Signer
    config: Settings = field(default_factory=Settings)
    """The environment's settings; the store's shop settings take precedence over them."""
    throttle: LoginThrottle = field(default_factory=LoginThrottle)


def create_app(
    engine: Engine | None = None,
    *,
    secret: bytes | None = None,
    session_max_age: int = SESSION_MAX_AGE,
) -> FastAPI:
    """The API and the pages on the store behind ``engine`` (the settings' store without).

    Session cookies and CSRF tokens are signed with ``secret``, by default the store's
    server secret (:func:`regulars.privacy.server_secret`: ``REGULARS_SECRET_KEY`` or the
    SQLite file's own), so every worker process signs alike.
    """
    app = create_api_app(
        engine, larger_limits={"/settings/import": settings_import.UPLOAD_BODY_LIMIT}
    )
    config = Settings()
    key = secret if secret is not None else server_secret(app.state.engine.url, config)
    app.state.web = WebState(Signer(key, max_age=session_max_age), config=config)
    app.mount("/static/web", StaticFiles(directory=STATIC), name="web-static")
    for module in PAGES:
        app.include_router(module.router, include_in_schema=False)
    _install_handlers(app)
    _install_page_errors(app)
    return app


API_PREFIXES = ("/v1", "/docs", "/openapi.json", "/static")
"""Paths whose errors stay problem+json (the API's handlers); every other path is a page."""


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith(API_PREFIXES)


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    """The app's error page; a bare one when even that cannot be drawn (the store down)."""
    context = {"title": title, "message": message}
    try:
        return render(request, "error.html", context, user=None, status_code=status)
    except Exception:
        body = f"<!doctype html><title>{status}</title><h1>{status}</h1><p><a href='/'>regulars</a>"
        return HTMLResponse(body, status_code=status)


def _install_page_errors(app: FastAPI) -> None:
    """Pages answer errors with the app's error page, never the API's JSON: a bad value in
    the address (422), an unknown page (404), a bug (500, logged by the server). The API's
    paths keep its problem+json handlers, called as they are."""
    api_handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = dict(
        app.exception_handlers
    )

    async def on_validation(request: Request, exc: Exception) -> Response:
        if not _is_page(request):
            return await api_handlers[RequestValidationError](request, exc)
        assert isinstance(exc, RequestValidationError)
        fields = ", ".join(
            ".".join(str(p) for p in error.get("loc", ())[1:]) or "the form"
            for error in exc.errors()
        )
        message = (
            f"A value in the address or the form is not valid ({fields}). Go back and correct it."
        )
        return _error_page(request, 422, N_("Not a valid value"), message)

    async def on_http(request: Request, exc: Exception) -> Response:
        if not _is_page(request):
            return await api_handlers[StarletteHTTPException](request, exc)
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return _error_page(request, 404, N_("Page not found"), N_("There is no such page."))
        return _error_page(request, exc.status_code, N_("Something went wrong"), str(exc.detail))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        if not _is_page(request):
            return await api_handlers[Exception](request, exc)
        message = N_("An unexpected error; it was logged. Go back and try again.")
        return _error_page(request, 500, N_("Something went wrong"), message)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequiredError)
    async def _login(request: Request, exc: LoginRequiredError) -> RedirectResponse:
        return RedirectResponse(exc.next_url, status_code=303)

    @app.exception_handler(ForbiddenError)
    async def _forbidden(request: Request, exc: ForbiddenError) -> HTMLResponse:
        context = {
            "title": N_("Not allowed"),
            "message": f"Your role ({exc.user.role}) cannot "
            f"open this page or make this change ({exc.permission.value}).",
        }
        return render(request, "error.html", context, user=exc.user, status_code=403)

    @app.exception_handler(CsrfError)
    async def _csrf(request: Request, exc: CsrfError) -> HTMLResponse:
        context = {
            "title": N_("Form expired"),
            "message": N_(
                "The form was too old or not sent from this app. "
                "Go back, reload the page and send it again."
            ),
        }
        return render(request, "error.html", context, user=None, status_code=403)
