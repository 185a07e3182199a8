"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine

from regulars import __version__
from regulars.api.problems import BodySizeLimit, install_problem_handlers
from regulars.api.routers import customers, loyalty, orders
from regulars.store.session import session_factory

MAX_BODY_SIZE = 1024 * 1024
"""Largest request body accepted, in bytes (413 beyond)."""


def create_app(engine: Engine, *, max_body_size: int = MAX_BODY_SIZE) -> FastAPI:
    """An app serving the store behind ``engine`` under ``/v1``.

    CORS is off (no CORS middleware: browsers on other origins cannot call it). Bodies over
    ``max_body_size`` bytes are refused with a 413 problem details response, by their
    ``Content-Length`` or, for a streamed body, as soon as it grows past the limit.
    """
    app = FastAPI(
        title="regulars API",
        version=__version__,
        description="Customers, orders and Customer 360. Authenticate with "
        "'Authorization: Bearer KEY'; errors are RFC 9457 problem details.",
    )
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimit, max_body_size=max_body_size)
    v1 = APIRouter(prefix="/v1")
    v1.include_router(customers.router)
    v1.include_router(orders.router)
    v1.include_router(loyalty.router)
    app.include_router(v1)
    return app
