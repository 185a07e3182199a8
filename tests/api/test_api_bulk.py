"""POST /v1/bulk/{orders,customers,events}: per-item results, bad items never lose the
good ones, idempotent like the single endpoints, and a fixed number of statements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select

from regulars.api import create_app
from regulars.store.tables import Consent, Customer, Event, Order, OrderLine

Auth = Callable[..., dict[str, str]]


def _order(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "order_id": f"o-{i}",
        "customer_id": f"c-{i % 3}",
        "ordered_at": "2026-03-01T10:00:00Z",
        "amount": "10.00",
        "lines": [{"sku": "TEA-1", "quantity": 1, "unit_price": "10.00", "line_amount": "10.00"}],
        **extra,
    }


def _count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(model)) or 0)


def _statuses(body: dict[str, Any]) -> list[str]:
    return [r["status"] for r in body["results"]]


def test_bad_items_are_rejected_alone(client: TestClient, auth: Auth, store_engine: Engine) -> None:
    headers = auth("orders:write")
    items = [_order(0), {"order_id": "o-bad", "amount": "lots"}, "not an object", _order(1)]
    response = client.post("/v1/bulk/orders", json=items, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["counts"] == {"created": 2, "replayed": 0, "updated": 0, "rejected": 2}
    assert _statuses(body) == ["created", "rejected", "rejected", "created"]
    bad = body["results"][1]
    assert (bad["index"], bad["key"]) == (1, "o-bad")
    assert {e["in"] for e in bad["errors"]} == {"body"}
    assert {"amount", "customer_id", "ordered_at"} <= {e["field"] for e in bad["errors"]}
    assert body["results"][2]["errors"][0]["field"] == "item"
    assert _count(store_engine, Order) == 2
    assert _count(store_engine, OrderLine) == 2


def test_bulk_orders_are_idempotent(client: TestClient, auth: Auth, store_engine: Engine) -> None:
    headers = auth("orders:write")
    assert client.post("/v1/orders", json=_order(0), headers=headers).status_code == 201
    items = [
        _order(0),
        _order(1),
        _order(1),
        _order(0, amount="11.00"),
        _order(2),
        _order(2, amount="9.00"),
    ]
    body = client.post("/v1/bulk/orders", json=items, headers=headers).json()
    assert _statuses(body) == ["replayed", "created", "replayed", "rejected", "created", "rejected"]
    assert body["results"][3]["errors"][0]["type"] == "conflict"
    assert "item 4" in body["results"][5]["errors"][0]["message"]
    again = client.post("/v1/bulk/orders", json=items, headers=headers).json()
    assert again["counts"] == {"created": 0, "replayed": 4, "updated": 0, "rejected": 2}
    assert _count(store_engine, Order) == 3
    assert _count(store_engine, OrderLine) == 3
    assert _count(store_engine, Customer) == 3


@pytest.fixture
def statements(store_engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(store_engine, "before_cursor_execute", count)
    yield seen
    event.remove(store_engine, "before_cursor_execute", count)


def test_bulk_orders_take_a_fixed_number_of_statements(
    client: TestClient, auth: Auth, statements: list[str]
) -> None:
    headers = auth("orders:write")

    def statements_for(n: int, start: int) -> int:
        statements.clear()
        items = [_order(i) for i in range(start, start + n)]
        assert (
            client.post("/v1/bulk/orders", json=items, headers=headers).json()["counts"]["created"]
            == n
        )
        return sum(
            1
            for s in statements
            if not s.lstrip().upper().startswith(("SELECT api_keys", "PRAGMA"))
        )

    assert statements_for(300, 1000) == statements_for(3, 0)


def test_too_many_items_is_422(client: TestClient, auth: Auth) -> None:
    response = client.post("/v1/bulk/events", json=[{}] * 1001, headers=auth("events:write"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "too_long"
    not_a_list = client.post("/v1/bulk/events", json={"a": 1}, headers=auth("events:write"))
    assert not_a_list.status_code == 422


def test_bulk_customers_create_update_replay(
    client: TestClient, auth: Auth, store_engine: Engine
) -> None:
    headers = auth("customers:write", "customers:read")
    client.post(
        "/v1/customers",
        json={"customer_id": "a", "name": "Anna", "email": "a@x.de"},
        headers=headers,
    )
    client.post("/v1/customers", json={"customer_id": "b", "name": "Bernd"}, headers=headers)
    items = [
        {"customer_id": "a", "phone": "+49 1"},  # updated: only the phone changes
        {"customer_id": "b", "name": "Bernd"},  # nothing changes
        {"customer_id": "c", "name": "Carla", "consents": [{"channel": "email", "granted": True}]},
        {"customer_id": "c", "name": "Carla again"},  # repeated within the batch
        {"customer_id": "d", "birthday": "no"},
        {"customer_id": "b", "consents": [{"channel": "sms", "granted": False}]},
    ]
    body = client.post("/v1/bulk/customers", json=items, headers=headers).json()
    assert _statuses(body) == ["updated", "replayed", "created", "rejected", "rejected", "rejected"]
    anna = client.get("/v1/customers/a", headers=headers).json()
    assert (anna["name"], anna["email"], anna["phone"]) == ("Anna", "a@x.de", "+49 1")
    carla = client.get("/v1/customers/c", headers=headers).json()
    assert carla["consents"][0]["channel"] == "email"
    consent = client.post(
        "/v1/bulk/customers",
        json=[{"customer_id": "b", "consents": [{"channel": "sms", "granted": False}]}],
        headers=headers,
    ).json()
    assert _statuses(consent) == ["updated"]
    assert _count(store_engine, Consent) == 2
    again = client.post("/v1/bulk/customers", json=items[:3], headers=headers).json()
    assert _statuses(again) == ["replayed", "replayed", "replayed"]


def test_bulk_events(client: TestClient, auth: Auth, store_engine: Engine) -> None:
    headers = auth("events:write")
    view = {"customer_id": "c-1", "kind": "viewed", "occurred_at": "2026-03-01T10:00:00Z"}
    cart = {**view, "kind": "added_to_cart", "sku": "TEA-1"}
    body = client.post(
        "/v1/bulk/events", json=[view, cart, view, {"kind": "viewed"}], headers=headers
    ).json()
    assert _statuses(body) == ["created", "created", "replayed", "rejected"]
    assert body["results"][0]["key"] == body["results"][2]["key"]
    again = client.post("/v1/bulk/events", json=[view, cart], headers=headers).json()
    assert _statuses(again) == ["replayed", "replayed"]
    assert _count(store_engine, Event) == 2


def test_bulk_bodies_have_their_own_size_limit(store_engine: Engine, auth: Auth) -> None:
    headers = auth("orders:write")
    items = [_order(i) for i in range(3)]  # about 700 bytes
    with TestClient(create_app(store_engine, max_body_size=100, max_bulk_body_size=2_000)) as small:
        assert small.post("/v1/bulk/orders", json=items, headers=headers).status_code == 200
        assert small.post("/v1/orders", json=_order(9), headers=headers).status_code == 413
        too_big = small.post("/v1/bulk/orders", json=items * 4, headers=headers)
    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == "application/problem+json"
