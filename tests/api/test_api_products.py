"""PUT/GET /v1/products, price history, stock levels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

Auth = Callable[..., dict[str, str]]


def _put(client: TestClient, sku: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.put(f"/v1/products/{sku}", json=body, headers=headers)


def test_price_changes_are_kept_in_the_history(client: TestClient, auth: Auth) -> None:
    headers = auth("products:write", "products:read")
    tea = {
        "name": "Green tea",
        "category": "tea",
        "price": "4.50",
        "price_valid_from": "2026-01-01T00:00:00+01:00",
    }
    created = _put(client, "TEA-1", tea, headers)
    assert created.status_code == 201, created.text
    assert created.json()["price_history"] == [
        {"price": "4.50", "valid_from": "2025-12-31T23:00:00Z"}
    ]
    same = _put(client, "TEA-1", tea, headers)
    assert same.status_code == 200
    assert len(same.json()["price_history"]) == 1  # same price: no new row
    renamed = _put(client, "TEA-1", {**tea, "name": "Sencha"}, headers)
    assert renamed.json()["name"] == "Sencha"
    assert len(renamed.json()["price_history"]) == 1
    dearer = _put(
        client,
        "TEA-1",
        {**tea, "price": "4.90", "price_valid_from": "2026-03-01T00:00:00Z"},
        headers,
    )
    body = dearer.json()
    assert body["price"] == "4.90"
    assert [(p["price"], p["valid_from"]) for p in body["price_history"]] == [
        ("4.50", "2025-12-31T23:00:00Z"),
        ("4.90", "2026-03-01T00:00:00Z"),
    ]
    now = _put(client, "TEA-1", {"name": "Sencha", "category": "tea", "price": "5.00"}, headers)
    assert len(now.json()["price_history"]) == 3  # valid from now
    assert client.get("/v1/products/TEA-1", headers=headers).json() == now.json()


def test_stock_levels_are_idempotent(client: TestClient, auth: Auth) -> None:
    headers = auth("products:write", "products:read")
    _put(client, "MUG-2", {"name": "Mug"}, headers)
    level = {"quantity": 12, "recorded_at": "2026-03-01T08:00:00Z"}
    first = client.post("/v1/products/MUG-2/stock", json=level, headers=headers)
    assert first.status_code == 201
    assert first.json() == {"sku": "MUG-2", "quantity": 12, "recorded_at": "2026-03-01T08:00:00Z"}
    assert client.post("/v1/products/MUG-2/stock", json=level, headers=headers).status_code == 200
    other = client.post("/v1/products/MUG-2/stock", json={**level, "quantity": 11}, headers=headers)
    assert other.status_code == 409
    later = {"quantity": 7, "recorded_at": "2026-03-02T08:00:00Z"}
    assert client.post("/v1/products/MUG-2/stock", json=later, headers=headers).status_code == 201
    assert client.get("/v1/products/MUG-2", headers=headers).json()["stock"]["quantity"] == 7
    unknown = client.post("/v1/products/NOPE/stock", json=level, headers=headers)
    assert unknown.status_code == 404


def test_list_products(client: TestClient, auth: Auth) -> None:
    headers = auth("products:write", "products:read")
    _put(client, "TEA-1", {"name": "Green tea", "category": "tea"}, headers)
    _put(client, "TEA-2", {"name": "Black tea", "category": "tea"}, headers)
    _put(client, "MUG-1", {"name": "Big mug", "category": "kitchen"}, headers)

    def skus(**params: Any) -> list[str]:
        response = client.get("/v1/products", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [p["sku"] for p in response.json()["items"]]

    assert skus() == ["TEA-1", "TEA-2", "MUG-1"]
    assert skus(category="tea") == ["TEA-1", "TEA-2"]
    assert skus(q="BLACK") == ["TEA-2"]
    assert skus(q="mug") == ["MUG-1"]  # the SKU matches too
    page = client.get("/v1/products", params={"limit": 2}, headers=headers).json()
    assert page["next_cursor"] is not None


def test_product_errors(client: TestClient, auth: Auth) -> None:
    headers = auth("products:write", "products:read")
    assert client.get("/v1/products/NOPE", headers=headers).status_code == 404
    bad = _put(client, "X", {"price": "-1.00", "colour": "red"}, headers)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"price", "colour"}
    assert _put(client, "X", {}, auth("products:read")).status_code == 403
