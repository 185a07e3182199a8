"""The loyalty engine reacts to the operational API: orders earn, returns reverse, in the
transaction that records them, exactly once (HTTP, bulk); ``regulars import`` never earns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import add_customer, check_ledger
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.data.importers import read_orders
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyEntry
from regulars.store.ingest import ingest

PROGRAM: dict[str, Any] = {
    "code": "stars",
    "name": "Stars",
    "starts_at": "2026-01-01T00:00:00Z",
    "config": {"earn_per_unit": "1", "point_value": "0.01", "pending_days": 0},
}


def _order(order_id: str, amount: str, customer: str = "ann") -> dict[str, Any]:
    return {
        "shop_id": "berlin",
        "order_id": order_id,
        "customer_id": customer,
        "ordered_at": "2026-03-01T10:00:00Z",
        "amount": amount,
    }


@pytest.fixture
def client(store_engine: Engine) -> Iterator[TestClient]:
    scopes = ["loyalty:read", "loyalty:write", "orders:read", "orders:write", "customers:read"]
    with TestClient(create_app(store_engine)) as test_client:
        _row, key = create_api_key(store_engine, "pos", scopes)
        test_client.headers["Authorization"] = f"Bearer {key}"
        assert test_client.post("/v1/loyalty/programs", json=PROGRAM).status_code == 201
        yield test_client


def _balance(client: TestClient, customer: str = "ann") -> int:
    response = client.get(f"/v1/loyalty/accounts/{customer}")
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


def _entries(engine: Engine) -> list[tuple[str, int]]:
    with Session(engine) as session:
        rows = session.execute(
            select(LoyaltyEntry.kind, LoyaltyEntry.points).order_by(LoyaltyEntry.id)
        )
        return [(kind, points) for kind, points in rows]


def test_order_twice_then_half_returned(client: TestClient, store_engine: Engine) -> None:
    """100.00 at 1 point per unit earns 100; the replay earns nothing; returning 50.00 of
    it leaves floor(100 × 50 / 100) = 50 points."""
    for _ in range(2):
        assert client.post("/v1/orders", json=_order("A-1", "100.00")).status_code in (200, 201)
    assert _balance(client) == 100
    ret = {
        "shop_id": "berlin",
        "return_id": "R-1",
        "order_id": "A-1",
        "returned_at": "2026-03-05T10:00:00Z",
        "amount": "50.00",
    }
    assert client.post("/v1/returns", json=ret).status_code == 201
    assert client.post("/v1/returns", json=ret).status_code == 200  # replay
    assert _balance(client) == 50
    assert _entries(store_engine) == [("earn", 100), ("reverse_earn", -50)]
    with Session(store_engine) as session:
        check_ledger(session)
    profile = client.get("/v1/customers/ann")
    assert profile.status_code == 200, profile.text
    assert profile.json()["loyalty"] == [
        {
            "program": "stars",
            "state": "active",
            "balance": 50,
            "available": 50,
            "pending": 0,
            "tier": None,
        }
    ]


def test_customer_360_without_an_account_has_no_loyalty(
    client: TestClient, store_engine: Engine
) -> None:
    with Session(store_engine) as session:
        add_customer(session, "zoe")
        session.commit()
    assert client.get("/v1/customers/zoe").json()["loyalty"] == []


def test_bulk_orders_earn_once_per_created_order(client: TestClient, store_engine: Engine) -> None:
    """33.99 earns floor(33.99) = 33, 12.50 earns 12; the repeat in the batch and the
    whole batch again earn nothing more."""
    items = [_order("B-1", "33.99"), _order("B-2", "12.50"), _order("B-1", "33.99")]
    for _ in range(2):
        response = client.post("/v1/bulk/orders", json=items)
        assert response.status_code == 200, response.text
    assert _balance(client) == 45
    assert _entries(store_engine) == [("earn", 33), ("earn", 12)]


def test_a_failing_order_earns_nothing(client: TestClient, store_engine: Engine) -> None:
    """A conflicting order (409) rolls back with its transaction: no points either."""
    assert client.post("/v1/orders", json=_order("C-1", "10.00")).status_code == 201
    assert client.post("/v1/orders", json=_order("C-1", "99.00")).status_code == 409
    assert _balance(client) == 10


def test_regulars_import_never_earns(
    client: TestClient, store_engine: Engine, tmp_path: Path
) -> None:
    """Bulk history goes in without the hooks: a running program earns nothing on it
    (historical balances are loaded with ``regulars loyalty import``)."""
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,order_id,ordered_at,amount\nann,I-1,2026-03-01,80.00\n"
        "bob,I-2,2026-03-02,20.00\n"
    )
    counts = ingest(store_engine, read_orders([path]))
    assert counts.orders_inserted == 2
    with Session(store_engine) as session:
        assert session.scalar(select(func.count()).select_from(LoyaltyEntry)) == 0
        assert session.scalar(select(func.count()).select_from(LoyaltyAccount)) == 0


def test_an_order_recorded_cancelled_gives_back_its_redemption(
    client: TestClient, store_engine: Engine
) -> None:
    """A-1 earns 100. The checkout redeems 40 for C-9, then records C-9 as cancelled
    (payment declined): the 40 come back in the order's transaction; C-9 earns nothing."""
    assert client.post("/v1/orders", json=_order("A-1", "100.00")).status_code == 201
    redeem = client.post(
        "/v1/loyalty/accounts/ann/redeem",
        json={"points": 40, "shop_id": "berlin", "order_id": "C-9"},
        headers={"Idempotency-Key": "checkout-C-9"},
    )
    assert redeem.status_code == 201
    assert _balance(client) == 60
    cancelled = {**_order("C-9", "80.00"), "status": "cancelled"}
    assert client.post("/v1/orders", json=cancelled).status_code == 201
    assert _balance(client) == 100
    assert client.post("/v1/orders", json=cancelled).status_code == 200  # a replay
    assert _entries(store_engine) == [("earn", 100), ("spend", -40), ("cancel_spend", 40)]
    # The API's cancel answers the cancellation the order made.
    again = client.post("/v1/loyalty/accounts/ann/redemptions/checkout-C-9/cancel")
    assert (again.status_code, again.json()["points"]) == (200, 40)
    with Session(store_engine) as session:
        check_ledger(session)


def test_a_stamp_card_alone_collects_from_api_orders(store_engine: Engine) -> None:
    """A café runs only a stamp card (no points program): five coffees posted through
    ``POST /v1/orders`` complete the card (5 stamps → one free-coffee voucher); a replay of
    the fifth order adds nothing."""
    stamps = {
        "code": "coffee",
        "name": "6th coffee free",
        "type": "stamp_card",
        "starts_at": "2026-01-01T00:00:00Z",
        "config": {"code": "coffee", "skus": ["coffee"], "stamps_required": 5},
    }
    scopes = ["loyalty:read", "loyalty:write", "orders:write"]
    with TestClient(create_app(store_engine)) as client:
        _row, key = create_api_key(store_engine, "pos", scopes)
        client.headers["Authorization"] = f"Bearer {key}"
        assert client.post("/v1/loyalty/programs", json=stamps).status_code == 201
        for i in range(6):
            order = _order(f"C-{min(i, 4)}", "3.00") | {
                "lines": [
                    {"sku": "coffee", "quantity": 1, "unit_price": "3.00", "line_amount": "3.00"}
                ]
            }
            assert client.post("/v1/orders", json=order).status_code in (200, 201)
        rewards = client.get("/v1/loyalty/accounts/ann/rewards")
        assert rewards.status_code == 200, rewards.text
        assert [(r["kind"], r["sku"]) for r in rewards.json()] == [("free_item", "coffee")]


def test_the_return_answer_says_what_to_deduct_from_the_refund(
    store_engine: Engine, client: TestClient
) -> None:
    """A program with the shortfall policy deduct_from_refund: 100.00 earns 100 points, 80
    of them are spent; returning the whole order reverses 100, only 20 are left: the 80
    spent (× 0.01 = 0.80) come off the refund, in the answer and its replay."""
    program = {**PROGRAM, "code": "refundable", "shortfall_policy": "deduct_from_refund"}
    assert client.post("/v1/loyalty/programs", json=program).status_code == 201
    assert client.post("/v1/orders", json=_order("A-9", "100.00", "bea")).status_code == 201
    spend = {"program": "refundable", "points": 80}
    paid = client.post(
        "/v1/loyalty/accounts/bea/redeem", json=spend, headers={"Idempotency-Key": "bea-1"}
    )
    assert paid.status_code == 201, paid.text
    ret = {
        "shop_id": "berlin",
        "return_id": "R-9",
        "order_id": "A-9",
        "returned_at": "2026-03-05T10:00:00Z",
        "amount": "100.00",
    }
    first = client.post("/v1/returns", json=ret)
    assert (first.status_code, first.json()["deduct_from_refund"]) == (201, "0.80")
    again = client.post("/v1/returns", json=ret)
    assert (again.status_code, again.json()["deduct_from_refund"]) == (200, "0.80")
    plain = client.post("/v1/orders", json=_order("A-10", "10.00", "bea"))
    assert plain.status_code == 201
    other = {**ret, "return_id": "R-10", "order_id": "A-10", "amount": "10.00"}
    assert client.post("/v1/returns", json=other).json()["deduct_from_refund"] == "0.00"
