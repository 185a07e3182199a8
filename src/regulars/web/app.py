"""One app, API and pages: ``create_app`` is :func:`regulars.api.app.create_app` (``/v1``,
``/docs``) plus the web app's pages under ``/`` and its assets under ``/static/web``.
``regulars serve`` runs it in every worker process (:data:`APP_FACTORY`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

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
    return app


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
