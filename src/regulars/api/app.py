"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine

from regulars import __version__
from regulars.api.openapi import install_openapi
from regulars.api.problems import BodySizeLimit, install_problem_handlers
from regulars.api.routers import (
    audit,
    bulk,
    customers,
    events,
    loyalty,
    loyalty_live,
    orders,
    privacy,
    products,
)
from regulars.store.session import session_factory

MAX_BODY_SIZE = 1024 * 1024
"""Largest request body accepted, in bytes (413 beyond)."""
MAX_BULK_BODY_SIZE = 16 * 1024 * 1024
"""Largest body of a ``/v1/bulk/…`` request (1,000 orders with their lines fit)."""


def create_app(
    engine: Engine,
    *,
    max_body_size: int = MAX_BODY_SIZE,
    max_bulk_body_size: int = MAX_BULK_BODY_SIZE,
) -> FastAPI:
    """An app serving the store behind ``engine`` under ``/v1``.

    CORS is off (no CORS middleware: browsers on other origins cannot call it). Bodies over
    ``max_body_size`` bytes (``max_bulk_body_size`` under ``/v1/bulk/``) are refused with a
    413 problem details response, by their ``Content-Length`` or, for a streamed body, as
    soon as it grows past the limit.
    """
    app = FastAPI(
        title="regulars API",
        version=__version__,
        description="Customers, orders, returns, products, events and Customer 360. "
        "Authenticate with "
        "'Authorization: Bearer KEY'; errors are RFC 9457 problem details.",
    )
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    install_problem_handlers(app)
    install_openapi(app)
    app.add_middleware(
        BodySizeLimit,
        max_body_size=max_body_size,
        larger_limits={"/v1/bulk/": max_bulk_body_size},
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
    v1.include_router(loyalty_live.router)
    app.include_router(v1)
    return app
