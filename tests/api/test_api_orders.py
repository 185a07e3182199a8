"""POST /v1/orders: idempotent by (shop, order_id) and by Idempotency-Key, even when the
same order arrives concurrently."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.pool import QueuePool

from regulars.api import create_app
from regulars.api.deps import transaction_slots
from regulars.store.session import make_engine
from regulars.store.tables import IdempotencyKey, Order, OrderLine

Auth = Callable[..., dict[str, str]]

ORDER: dict[str, Any] = {
    "shop_id": "berlin",
    "order_id": "A-1001",
    "customer_id": "c-42",
    "ordered_at": "2026-03-01T10:00:00+01:00",
    "amount": "59.80",
    "currency": "EUR",
    "channel": "web",
    "lines": [
        {"sku": "TEA-1", "quantity": 2, "unit_price": "19.90", "line_amount": "39.80"},
        {"sku": "MUG-2", "quantity": 1, "unit_price": 20, "line_amount": "20"},
    ],
}


def _count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(model)) or 0)


def test_create_returns_201_with_decimal_strings(client: TestClient, auth: Auth) -> None:
    response = client.post("/v1/orders", json=ORDER, headers=auth("orders:write"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["amount"] == "59.80"
    assert body["refunded_amount"] == "0.00"
    assert body["ordered_at"] == "2026-03-01T09:00:00Z"
    assert [line["line_amount"] for line in body["lines"]] == ["39.80", "20.00"]
    assert body["lines"][1]["unit_price"] == "20.00"


def test_retry_is_a_200_replay_and_creates_nothing(
    client: TestClient, auth: Auth, store_engine: Engine
) -> None:
    headers = auth("orders:write")
    first = client.post("/v1/orders", json=ORDER, headers=headers)
    second = client.post("/v1/orders", json=ORDER, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert _count(store_engine, Order) == 1
    assert _count(store_engine, OrderLine) == 2


def test_same_order_id_different_body_is_409(
    client: TestClient, auth: Auth, store_engine: Engine
) -> None:
    headers = auth("orders:write")
    assert client.post("/v1/orders", json=ORDER, headers=headers).status_code == 201
    changed = client.post("/v1/orders", json={**ORDER, "amount": "60.00"}, headers=headers)
    assert changed.status_code == 409
    assert changed.headers["content-type"] == "application/problem+json"
    other_shop = client.post("/v1/orders", json={**ORDER, "shop_id": "paris"}, headers=headers)
    assert other_shop.status_code == 201
    assert _count(store_engine, Order) == 2


def test_idempotency_key_replays_and_refuses_another_body(
    client: TestClient, auth: Auth, store_engine: Engine
) -> None:
    headers = {**auth("orders:write"), "Idempotency-Key": "retry-7"}
    first = client.post("/v1/orders", json=ORDER, headers=headers)
    again = client.post("/v1/orders", json=ORDER, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert _count(store_engine, Order) == 1
    assert _count(store_engine, IdempotencyKey) == 1

    other = client.post("/v1/orders", json={**ORDER, "order_id": "A-1002"}, headers=headers)
    assert other.status_code == 409
    assert other.json()["type"].endswith("idempotency-key-reused")
    assert _count(store_engine, Order) == 1


@pytest.mark.parametrize("idempotency_key", [None, "concurrent-1"])
def test_sixteen_concurrent_duplicates_make_one_order(
    client: TestClient, auth: Auth, store_engine: Engine, idempotency_key: str | None
) -> None:
    headers = auth("orders:write")
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    barrier = threading.Barrier(16)

    def post(_: int) -> int:
        barrier.wait()
        return client.post("/v1/orders", json=ORDER, headers=headers).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(post, range(16)))
    assert sorted(statuses) == [200] * 15 + [201]
    assert _count(store_engine, Order) == 1
    assert _count(store_engine, OrderLine) == 2
    assert _count(store_engine, IdempotencyKey) == (1 if idempotency_key else 0)


def _lock_timeout(engine: Engine, milliseconds: int) -> None:
    """New PostgreSQL connections of ``engine`` give up a lock wait after ``milliseconds``."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {milliseconds}")
        dbapi_connection.commit()

    engine.dispose()
    event.listen(engine, "connect", on_connect)


def test_requests_waiting_on_a_lock_never_starve_its_holder(
    store_engine: Engine, auth: Auth
) -> None:
    """Eight concurrent orders of one new customer, with two threads for sync work. The
    requests waiting for the customer row's lock must not occupy the threads that the
    request holding it needs to build its response and commit: the transaction slots
    (``api.deps``) let only one transaction run per thread, less one. Here PostgreSQL gives
    up a lock wait after 10 s (SQLite after its 5 s busy timeout), so a starved holder
    shows up as failed requests instead of a hang."""
    if store_engine.dialect.name == "postgresql":
        _lock_timeout(store_engine, 10_000)
    headers = auth("orders:write")
    barrier = threading.Barrier(8)
    with TestClient(create_app(store_engine)) as client:
        assert client.portal is not None
        client.portal.call(_limit_threads, 2)

        def post(i: int) -> int:
            body = {**ORDER, "order_id": f"L-{i}", "customer_id": "brand-new"}
            barrier.wait()
            return client.post("/v1/orders", json=body, headers=headers).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(post, range(8)))
    assert statuses == [201] * 8
    assert _count(store_engine, Order) == 8


def _limit_threads(tokens: int) -> None:
    anyio.to_thread.current_default_thread_limiter().total_tokens = tokens


def test_transaction_slots_leave_a_thread_and_a_connection_to_spare(
    store_engine: Engine,
) -> None:
    """``max(1, min(pool size, threads) − 1)``: a pool of 16 connections and FastAPI's 40
    threads → min(16, 40) − 1 = 15; 16 connections and 2 threads → min(16, 2) − 1 = 1;
    one connection → max(1, 0) = 1."""
    pool = make_engine("sqlite://", poolclass=QueuePool, pool_size=16)
    assert transaction_slots(pool, 40) == 15
    assert transaction_slots(pool, 2) == 1
    single = make_engine("sqlite://", poolclass=QueuePool, pool_size=1)
    assert transaction_slots(single, 40) == 1
    pool.dispose()
    single.dispose()
