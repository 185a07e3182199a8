"""Replays answer with the first answer (docs/api.md): the same write sent again is a 200
whose body is the 201's, and it writes nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from regulars.api import create_app
from regulars.api.keys import create_api_key

POINTS = {"earn_per_unit": "1", "point_value": "0.01", "pending_days": 0}
ORDER = {
    "order_id": "A-1",
    "customer_id": "ann",
    "ordered_at": "2026-03-01T10:00:00Z",
    "amount": "120.00",
    "lines": [{"sku": "TEA", "quantity": 2, "unit_price": "60.00", "line_amount": "120.00"}],
}
# (path, body, Idempotency-Key or None): each is sent twice.
WRITES: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "order-by-id": ("/v1/orders", ORDER, None),
    "order-by-key": ("/v1/orders", {**ORDER, "order_id": "A-2"}, "checkout-A-2"),
    "return": (
        "/v1/returns",
        {
            "return_id": "R-1",
            "order_id": "A-1",
            "returned_at": "2026-03-02T10:00:00Z",
            "amount": "60.00",
            "lines": [{"sku": "TEA", "quantity": 1, "line_amount": "60.00"}],
        },
        None,
    ),
    "adjust": ("/v1/loyalty/accounts/ann/adjust", {"points": 50, "reason": "goodwill"}, "adj-1"),
    "redeem": ("/v1/loyalty/accounts/ann/redeem", {"points": 20}, "redeem-1"),
}


@pytest.fixture
def shop(store_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(store_engine)) as client:
        _row, key = create_api_key(store_engine, "shop", ["admin"])
        client.headers["Authorization"] = f"Bearer {key}"
        program = {"code": "pts", "name": "Points", "config": POINTS}
        assert client.post("/v1/loyalty/programs", json=program).status_code == 201
        yield client


def test_a_replay_answers_200_with_the_first_answer(shop: TestClient) -> None:
    for name, (path, body, key) in WRITES.items():  # in order: the return needs its order
        headers = {"Idempotency-Key": key} if key else {}
        first = shop.post(path, json=body, headers=headers)
        assert first.status_code == 201, (name, first.text)
        again = shop.post(path, json=body, headers=headers)
        assert again.status_code == 200, (name, again.text)
        assert again.json() == first.json(), name
    # Adjusted and redeemed once each (the orders predate the program: they earn nothing).
    assert shop.get("/v1/loyalty/accounts/ann").json()["balance"] == 50 - 20


def test_the_same_key_with_another_body_is_a_409(shop: TestClient) -> None:
    assert shop.post("/v1/orders", json=ORDER).status_code == 201
    headers = {"Idempotency-Key": "adj-2"}
    body = {"points": 5, "reason": "goodwill"}
    assert shop.post("/v1/loyalty/accounts/ann/adjust", json=body, headers=headers).is_success
    other = {**body, "points": 6}
    again = shop.post("/v1/loyalty/accounts/ann/adjust", json=other, headers=headers)
    assert again.status_code == 409
    assert again.json()["type"].endswith("idempotency-key-reused")
