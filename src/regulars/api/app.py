"""The FastAPI application factory: ``create_app(engine)``, or ``create_app()`` on the store
of the settings, which is how ``regulars serve`` builds the app in every worker process::

    uvicorn.run(APP_FACTORY, factory=True, workers=2)   # APP_FACTORY = this module:create_app
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from weakref import WeakKeyDictionary

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine

from regulars import __version__
from regulars.api.openapi import install_docs, install_openapi
from regulars.api.problems import BodySizeLimit, install_problem_handlers
from regulars.api.routers import (
    audit,
    bulk,
    customers,
    events,
    loyalty,
    loyalty_programs,
    orders,
    privacy,
    products,
)
from regulars.config import Settings
from regulars.store.session import make_engine, session_factory

MAX_BODY_SIZE = 1024 * 1024
"""Largest request body accepted, in bytes (413 beyond)."""
MAX_BULK_BODY_SIZE = 16 * 1024 * 1024
"""Largest body of a ``/v1/bulk/…`` request (1,000 orders with their lines fit)."""


APP_FACTORY = "regulars.api.app:create_app"
"""The import string of :func:`create_app`, for ``uvicorn.run(APP_FACTORY, factory=True)``."""


def settings_engine() -> Engine:
    """An engine on the store of the settings, its pool sized for a server process.

    No overflow: more concurrent requests than ``database_pool_size`` wait for a free
    connection (bounded database concurrency) instead of opening and closing connections
    under load.
    """
    settings = Settings()
    return make_engine(settings.database_url, pool_size=settings.database_pool_size, max_overflow=0)


@asynccontextmanager
async def _dispose_engine_at_shutdown(app: FastAPI) -> AsyncIterator[None]:
    yield
    app.state.engine.dispose()


def create_app(
    engine: Engine | None = None,
    *,
    max_body_size: int = MAX_BODY_SIZE,
    max_bulk_body_size: int = MAX_BULK_BODY_SIZE,
    larger_limits: Mapping[str, int] | None = None,
) -> FastAPI:
    """An app serving the store behind ``engine`` under ``/v1``.

    Without ``engine`` the app opens the store of the settings (``REGULARS_DATABASE_URL``,
    ``regulars.toml``: :class:`~regulars.config.Settings`) with a pool of
    ``database_pool_size`` connections, and closes it when the server shuts down. That is
    how every worker process of ``regulars serve`` builds its app: the settings travel to
    the workers in the environment.

    CORS is off (no CORS middleware: browsers on other origins cannot call it). Bodies over
    ``max_body_size`` bytes (``max_bulk_body_size`` under ``/v1/bulk/``) are refused with a
    413 problem details response, by their ``Content-Length`` or, for a streamed body, as
    soon as it grows past the limit.
    """
    app = FastAPI(
        lifespan=None if engine is not None else _dispose_engine_at_shutdown,
        docs_url=None,  # install_docs serves /docs from the package, not a CDN
        redoc_url=None,
        title="regulars API",
        version=__version__,
        description="Customers, orders, returns, products, events and Customer 360. "
        "Authenticate with "
        "'Authorization: Bearer KEY'; errors are RFC 9457 problem details.",
    )
    app.state.engine = engine if engine is not None else settings_engine()
    app.state.sessions = session_factory(app.state.engine)
    app.state.slots = WeakKeyDictionary()  # transaction slots per event loop (api.deps)
    install_problem_handlers(app)
    install_openapi(app)
    install_docs(app)
    app.add_middleware(
        BodySizeLimit,
        max_body_size=max_body_size,
        # ``larger_limits``: other paths' own limits (the web app's file upload).
        larger_limits={"/v1/bulk/": max_bulk_body_size, **(larger_limits or {})},
    )
    v1 = APIRouter(prefix="/v1")
    v1.include_router(customers.router)
    v1.include_router(orders.router)
    v1.include_router(orders.returns_router)
    v1.include_router(products.router)
    v1.include_router(events.router)
    v1.include_router(bulk.router)
    v1.include_router(privacy.router)
    v1.include_router(audit.router)
    v1.include_router(loyalty.router)
    v1.include_router(loyalty_programs.router)
    app.include_router(v1)
    return app
