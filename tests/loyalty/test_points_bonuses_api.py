"""Bonus events through the operational API: reviews (``POST /v1/events``, bulk), profile
completion (``POST``/``PATCH /v1/customers``, bulk), the quote's breakdown; ``regulars
import`` earns no bonus (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import api_client
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.data.importers import read_orders
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyEntry
from regulars.store.ingest import ingest

PROGRAM: dict[str, Any] = {
    "code": "stars",
    "name": "Stars",
    "starts_at": "2026-01-01T00:00:00Z",
    "config": {
        "earn_per_unit": "1",
        "point_value": "0.01",
        "pending_days": 14,
        "bonuses": [
            {"kind": "first_purchase", "code": "welcome", "points": 100},
            {"kind": "period", "code": "double-march", "multiplier": "2",
             "starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-04-01T00:00:00Z"},
            {"kind": "review_written", "code": "review", "points": 20},
            {"kind": "profile_completed", "code": "profile", "points": 50,
             "required_fields": ["name", "email", "birthday"]},
        ],
    },
}  # fmt: skip
SCOPES = [
    "loyalty:read",
    "loyalty:write",
    "events:write",
    "customers:read",
    "customers:write",
    "orders:write",
]
FULL = {"name": "Ann", "email": "ann@example.com", "birthday": "1990-05-01"}


@pytest.fixture
def client(store_engine: Engine) -> Iterator[TestClient]:
    with api_client(store_engine, SCOPES, PROGRAM) as test_client:
        yield test_client


def _balance(client: TestClient, customer: str) -> int:
    response = client.get(f"/v1/loyalty/accounts/{customer}")
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


def _review(customer: str, at: str, sku: str | None = None, **payload: Any) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "kind": "review_written",
        "sku": sku,
        "occurred_at": at,
        "payload": payload,
    }


def test_a_review_event_earns_once_per_subject(client: TestClient) -> None:
    """20 for the first review of SKU-1; its replay and a second review of SKU-1 earn
    nothing; a review of order O-1 earns 20; a review naming nothing earns nothing; bulk:
    two new products, 40."""
    first = client.post("/v1/events", json=_review("ann", "2026-02-01T10:00:00Z", "SKU-1"))
    assert first.status_code == 201, first.text
    assert _balance(client, "ann") == 20
    replay = client.post("/v1/events", json=_review("ann", "2026-02-01T10:00:00Z", "SKU-1"))
    assert replay.status_code == 200
    client.post("/v1/events", json=_review("ann", "2026-02-03T10:00:00Z", "SKU-1", stars=2))
    assert _balance(client, "ann") == 20
    client.post("/v1/events", json=_review("ann", "2026-02-04T10:00:00Z", order_id="O-1"))
    client.post("/v1/events", json=_review("ann", "2026-02-05T10:00:00Z", stars=5))
    assert _balance(client, "ann") == 40
    bulk = [
        _review("ann", "2026-02-06T10:00:00Z", product_id="P-7"),
        _review("ann", "2026-02-06T10:00:00Z", "SKU-2"),
        {**_review("ann", "2026-02-06T10:00:00Z", "SKU-3"), "kind": "viewed"},
    ]
    assert client.post("/v1/bulk/events", json=bulk).status_code == 200
    assert _balance(client, "ann") == 80
    entries = client.get("/v1/loyalty/accounts/ann/entries").json()["items"]
    assert {e["reason"] for e in entries} == {"bonus review"}
    assert all(e["kind"] == "earn" and e["order_id"] is None for e in entries)


def test_a_review_before_the_program_starts_earns_nothing(client: TestClient) -> None:
    client.post("/v1/events", json=_review("bob", "2025-12-01T10:00:00Z", "SKU-1"))
    assert client.get("/v1/loyalty/accounts/bob").json()["state"] == "not_enrolled"


def test_completing_a_profile_earns_once(client: TestClient) -> None:
    """Required here: name, email, birthday. Created complete: 50; a later change earns
    nothing. Created without a birthday: nothing until the PATCH that adds it."""
    assert client.post("/v1/customers", json={"customer_id": "ann", **FULL}).status_code == 201
    assert _balance(client, "ann") == 50
    assert client.patch("/v1/customers/ann", json={"name": "Anna"}).status_code == 200
    assert _balance(client, "ann") == 50
    partial = {"customer_id": "bob", **FULL, "birthday": None}
    client.post("/v1/customers", json=partial)
    assert client.get("/v1/loyalty/accounts/bob").json()["balance"] == 0
    client.patch("/v1/customers/bob", json={"phone": "+49 170"})
    assert client.get("/v1/loyalty/accounts/bob").json()["balance"] == 0
    client.patch("/v1/customers/bob", json={"birthday": "1985-01-02"})
    assert _balance(client, "bob") == 50
    client.patch("/v1/customers/bob", json={"birthday": None})
    client.patch("/v1/customers/bob", json={"birthday": "1985-01-02"})
    assert _balance(client, "bob") == 50  # once per customer


def test_bulk_customers_earn_the_profile_bonus_for_completed_profiles(client: TestClient) -> None:
    client.post("/v1/customers", json={"customer_id": "cat", "name": "Cat"})
    items = [
        {"customer_id": "dan", **FULL},  # created complete
        {"customer_id": "cat", "email": "cat@example.com", "birthday": "2000-01-01"},  # completed
        {"customer_id": "eve", "name": "Eve"},  # incomplete
    ]
    assert client.post("/v1/bulk/customers", json=items).status_code == 200
    assert client.post("/v1/bulk/customers", json=items).status_code == 200  # replayed
    assert (_balance(client, "dan"), _balance(client, "cat")) == (50, 50)
    assert client.get("/v1/loyalty/accounts/eve").json()["state"] == "not_enrolled"


def test_the_quote_shows_the_bonuses_the_cart_earns(client: TestClient) -> None:
    """The quote is made now (after March 2026: no double points); a new customer's cart of
    40.00: base 40 + welcome 100 = 140. After an order the welcome is gone."""
    body = {"customer_id": "fay", "amount": "40.00"}
    quote = client.post("/v1/loyalty/quote", json=body).json()
    assert quote["points_earned"] == 140
    assert quote["earned_from"] == [
        {"kind": "base", "code": None, "points": 40},
        {"kind": "first_purchase", "code": "welcome", "points": 100},
    ]
    order = {
        "order_id": "F-1",
        "customer_id": "fay",
        "ordered_at": "2026-03-10T10:00:00Z",
        "amount": "40.00",
    }
    assert client.post("/v1/orders", json=order).status_code == 201
    assert _balance(client, "fay") == 40 + 40 + 100  # double-march: +40; welcome +100
    again = client.post("/v1/loyalty/quote", json=body).json()
    assert again["earned_from"] == [{"kind": "base", "code": None, "points": 40}]


def test_regulars_import_earns_no_bonus(
    client: TestClient, store_engine: Engine, tmp_path: Path
) -> None:
    """Complete profiles and first orders loaded by ``regulars import`` earn nothing."""
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,order_id,ordered_at,amount,name,email,birthday\n"
        "gus,I-1,2026-03-01,80.00,Gus,gus@example.com,1970-01-01\n"
    )
    counts = ingest(store_engine, read_orders([path]))
    assert (counts.orders_inserted, counts.customers_inserted) == (1, 1)
    with Session(store_engine) as session:
        assert session.scalar(select(func.count()).select_from(LoyaltyEntry)) == 0
        assert session.scalar(select(func.count()).select_from(LoyaltyAccount)) == 0
