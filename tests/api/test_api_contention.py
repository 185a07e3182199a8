"""Contention is never a 500: concurrent writers queue (SQLite) or lock rows in one order
(PostgreSQL); when the database still cannot take a write, a 503 problem+json with
``Retry-After`` says to send it again."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from regulars.api import create_app
from regulars.store.tables import Customer, Order

Auth = Callable[..., dict[str, str]]
WRITERS = 32


def _order(i: int, customer: str) -> dict[str, Any]:
    return {
        "order_id": f"o-{i}",
        "customer_id": customer,
        "ordered_at": "2026-03-01T10:00:00Z",
        "amount": "10.00",
    }


def test_32_concurrent_writers_all_get_in(store_engine: Engine, auth: Auth) -> None:
    """Every one of 32 concurrent writers of new customers and orders succeeds."""
    headers = auth("orders:write", "customers:write")
    with TestClient(create_app(store_engine), raise_server_exceptions=False) as client:

        def write(i: int) -> int:
            batch = [_order(i * 10 + k, f"c-{(i + k) % 7}") for k in range(10)]
            return client.post("/v1/bulk/orders", json=batch, headers=headers).status_code

        with ThreadPoolExecutor(WRITERS) as pool:
            statuses = list(pool.map(write, range(WRITERS)))
    assert statuses == [200] * WRITERS
    with store_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Order)) == WRITERS * 10


def test_concurrent_bulk_requests_creating_the_same_customers(
    store_engine: Engine, auth: Auth
) -> None:
    """The same new customers in opposite orders from concurrent requests: no deadlock
    (rows are locked in one order), every customer created once."""
    headers = auth("customers:write")
    ids = [f"new-{n:03d}" for n in range(60)]
    with TestClient(create_app(store_engine), raise_server_exceptions=False) as client:

        def write(i: int) -> int:
            order = ids if i % 2 else list(reversed(ids))
            items = [{"customer_id": cid, "name": f"n{i}"} for cid in order]
            return client.post("/v1/bulk/customers", json=items, headers=headers).status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(write, range(16)))
    assert statuses == [200] * 16
    with store_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Customer)) == len(ids)


@pytest.mark.parametrize(
    "message", ["database is locked", "deadlock detected"], ids=["sqlite", "postgresql"]
)
def test_a_busy_database_is_a_503_with_retry_after(store_engine: Engine, message: str) -> None:
    app: FastAPI = create_app(store_engine)

    class BusyError(Exception):
        sqlstate = "40P01" if "deadlock" in message else None

        def __str__(self) -> str:
            return message

    @app.get("/v1/busy")
    def busy() -> None:
        raise OperationalError("INSERT …", {}, BusyError())

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v1/busy")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"] == "urn:regulars:problem:database-busy"
