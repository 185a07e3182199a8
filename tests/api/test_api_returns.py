"""POST /v1/returns: idempotent, refunds the order exactly, never more than is left;
GET /v1/orders/{id} and GET /v1/orders; the hook point for created orders and returns."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.api.schemas import OrderOut, ReturnOut
from regulars.api.services import hooks
from regulars.store.tables import OrderReturn

Auth = Callable[..., dict[str, str]]

ORDER: dict[str, Any] = {
    "shop_id": "berlin",
    "order_id": "A-1",
    "customer_id": "c-1",
    "ordered_at": "2026-03-01T10:00:00Z",
    "amount": "59.80",
    "lines": [{"sku": "TEA-1", "quantity": 2, "unit_price": "29.90", "line_amount": "59.80"}],
}
RETURN: dict[str, Any] = {
    "shop_id": "berlin",
    "return_id": "R-1",
    "order_id": "A-1",
    "returned_at": "2026-03-05T10:00:00+01:00",
    "amount": "29.90",
    "reason": "too bitter",
    "lines": [{"sku": "TEA-1", "quantity": 1, "line_amount": "29.90"}],
}


@pytest.fixture
def headers(client: TestClient, auth: Auth) -> dict[str, str]:
    headers = auth("orders:write", "orders:read")
    assert client.post("/v1/orders", json=ORDER, headers=headers).status_code == 201
    return headers


def _order(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/v1/orders/A-1", params={"shop_id": "berlin"}, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_returns_refund_the_order_step_by_step(client: TestClient, headers: dict[str, str]) -> None:
    first = client.post("/v1/returns", json=RETURN, headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["customer_id"] == "c-1"
    assert body["returned_at"] == "2026-03-05T09:00:00Z"
    assert body["lines"] == [{"sku": "TEA-1", "quantity": 1, "line_amount": "29.90"}]
    order = _order(client, headers)
    assert (order["refunded_amount"], order["status"]) == ("29.90", "partially_refunded")

    # 59.80 - 29.90 = 29.90 left: 29.91 is too much, 29.90 refunds the rest.
    too_much = client.post(
        "/v1/returns", json={**RETURN, "return_id": "R-2", "amount": "29.91"}, headers=headers
    )
    assert too_much.status_code == 422
    assert too_much.json()["errors"][0]["field"] == "amount"
    assert "29.90 left to refund" in too_much.json()["detail"]
    rest = client.post("/v1/returns", json={**RETURN, "return_id": "R-2"}, headers=headers)
    assert rest.status_code == 201
    order = _order(client, headers)
    assert (order["refunded_amount"], order["status"]) == ("59.80", "refunded")
    nothing_left = client.post(
        "/v1/returns", json={**RETURN, "return_id": "R-3", "amount": "0.01"}, headers=headers
    )
    assert nothing_left.status_code == 422


def test_a_return_is_recorded_once(
    client: TestClient, headers: dict[str, str], store_engine: Engine
) -> None:
    assert client.post("/v1/returns", json=RETURN, headers=headers).status_code == 201
    replay = client.post("/v1/returns", json=RETURN, headers=headers)
    assert replay.status_code == 200
    assert _order(client, headers)["refunded_amount"] == "29.90"  # not refunded twice
    changed = client.post("/v1/returns", json={**RETURN, "amount": "1.00"}, headers=headers)
    assert changed.status_code == 409
    with store_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(OrderReturn)) == 1


def test_the_original_order_is_still_a_replay_after_a_return(
    client: TestClient, headers: dict[str, str]
) -> None:
    assert client.post("/v1/returns", json=RETURN, headers=headers).status_code == 201
    retry = client.post("/v1/orders", json=ORDER, headers=headers)
    assert retry.status_code == 200
    assert (retry.json()["refunded_amount"], retry.json()["status"]) == (
        "29.90",
        "partially_refunded",
    )
    changed = client.post("/v1/orders", json={**ORDER, "amount": "60.00"}, headers=headers)
    assert changed.status_code == 409


def test_idempotency_key_on_returns(client: TestClient, headers: dict[str, str]) -> None:
    keyed = {**headers, "Idempotency-Key": "ret-1"}
    assert client.post("/v1/returns", json=RETURN, headers=keyed).status_code == 201
    assert client.post("/v1/returns", json=RETURN, headers=keyed).status_code == 200
    other = client.post("/v1/returns", json={**RETURN, "return_id": "R-9"}, headers=keyed)
    assert other.status_code == 409
    assert other.json()["type"].endswith("idempotency-key-reused")
    # The same key on an order is another request body, never mistaken for the return.
    order = client.post("/v1/orders", json={**ORDER, "order_id": "A-2"}, headers=keyed)
    assert order.status_code == 409


def test_return_errors(client: TestClient, headers: dict[str, str]) -> None:
    unknown = client.post("/v1/returns", json={**RETURN, "order_id": "nope"}, headers=headers)
    assert unknown.status_code == 404
    cancelled = {**ORDER, "order_id": "A-9", "status": "cancelled"}
    assert client.post("/v1/orders", json=cancelled, headers=headers).status_code == 201
    refused = client.post("/v1/returns", json={**RETURN, "order_id": "A-9"}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "order_id"
    bad_line = client.post(
        "/v1/returns",
        json={**RETURN, "lines": [{"sku": "TEA-1", "quantity": 0, "line_amount": "1.00"}]},
        headers=headers,
    )
    assert bad_line.status_code == 422
    assert bad_line.json()["errors"][0]["field"] == "lines.0.quantity"


def test_concurrent_returns_never_refund_more_than_the_order(
    client: TestClient, headers: dict[str, str]
) -> None:
    barrier = threading.Barrier(8)

    def post(i: int) -> int:
        barrier.wait()
        body = {**RETURN, "return_id": f"R-{i}", "amount": "20.00", "lines": []}
        return client.post("/v1/returns", json=body, headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(post, range(8)))
    assert statuses == [201, 201] + [422] * 6  # 2 x 20.00 fit in 59.80, a third does not
    assert _order(client, headers)["refunded_amount"] == "40.00"


@pytest.fixture
def recorded() -> Iterator[list[str]]:
    seen: list[str] = []

    def on_order(_session: Session, order: OrderOut) -> None:
        seen.append(f"order {order.order_id}")

    def on_return(_session: Session, ret: ReturnOut) -> None:
        seen.append(f"return {ret.return_id} {ret.amount}")

    hooks.ORDER_RECORDED.append(on_order)
    hooks.RETURN_RECORDED.append(on_return)
    yield seen
    hooks.ORDER_RECORDED.remove(on_order)
    hooks.RETURN_RECORDED.remove(on_return)


def test_hooks_see_each_created_order_and_return_once(
    client: TestClient, auth: Auth, recorded: list[str]
) -> None:
    headers = auth("orders:write")
    for _ in range(2):
        client.post("/v1/orders", json=ORDER, headers=headers)
        client.post("/v1/returns", json=RETURN, headers=headers)
    client.post("/v1/bulk/orders", json=[ORDER, {**ORDER, "order_id": "A-2"}], headers=headers)
    assert recorded == ["order A-1", "return R-1 29.90", "order A-2"]


def test_get_and_list_orders(client: TestClient, headers: dict[str, str]) -> None:
    for i, when in enumerate(["2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"], start=2):
        order = {**ORDER, "order_id": f"A-{i}", "ordered_at": when, "customer_id": f"c-{i % 2}"}
        assert client.post("/v1/orders", json=order, headers=headers).status_code == 201
    other_shop = {**ORDER, "shop_id": "paris"}
    assert client.post("/v1/orders", json=other_shop, headers=headers).status_code == 201
    assert _order(client, headers)["lines"][0]["sku"] == "TEA-1"
    assert client.get("/v1/orders/A-1", headers=headers).status_code == 404  # shop "default"
    assert (
        client.get("/v1/orders/A-1", params={"shop_id": "paris"}, headers=headers).status_code
        == 200
    )

    def ids(**params: Any) -> list[str]:
        response = client.get("/v1/orders", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [f"{o['shop_id']}/{o['order_id']}" for o in response.json()["items"]]

    assert ids() == ["berlin/A-1", "berlin/A-2", "berlin/A-3", "paris/A-1"]
    assert ids(shop_id="berlin", customer_id="c-1") == ["berlin/A-1", "berlin/A-3"]
    assert ids(ordered_since="2026-03-02T00:00:00Z", ordered_until="2026-03-03T00:00:00Z") == [
        "berlin/A-2"
    ]
    page = client.get("/v1/orders", params={"limit": 2}, headers=headers).json()
    rest = client.get(
        "/v1/orders", params={"limit": 2, "cursor": page["next_cursor"]}, headers=headers
    ).json()
    assert [o["order_id"] for o in page["items"] + rest["items"]] == ["A-1", "A-2", "A-3", "A-1"]
    assert rest["next_cursor"] is None
