"""POST /v1/orders: idempotent by (shop, order_id) and by Idempotency-Key, even when the
same order arrives concurrently."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from regulars.store.models import IdempotencyKey, Order, OrderLine

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
