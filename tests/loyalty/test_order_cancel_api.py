"""``POST /v1/orders/{order_id}/cancel``: a recorded order cancelled later, with what it
earned and spent reversed (SQLite and PostgreSQL), against hand-computed balances."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import check_ledger
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.store.tables import AuditEntry, Order, OrderReturn

PROGRAM: dict[str, Any] = {
    "code": "stars",
    "name": "Stars",
    "config": {"earn_per_unit": "1", "point_value": "0.01", "pending_days": 0},
    "starts_at": "2020-01-01T00:00:00Z",
}
PLACED = datetime.now(UTC) - timedelta(hours=2)


@pytest.fixture
def client(store_engine: Engine) -> Iterator[TestClient]:
    """A program 'stars' (1 point per 1.00, no pending period) and a key for orders and
    loyalty."""
    with TestClient(create_app(store_engine)) as test_client:
        scopes = ["orders:read", "orders:write", "loyalty:read", "loyalty:write"]
        _row, key = create_api_key(store_engine, "shop", scopes)
        test_client.headers["Authorization"] = f"Bearer {key}"
        assert test_client.post("/v1/loyalty/programs", json=PROGRAM).status_code == 201
        yield test_client


def _order(client: TestClient, order_id: str, amount: str) -> dict[str, Any]:
    body = {
        "order_id": order_id,
        "customer_id": "ann",
        "ordered_at": PLACED.isoformat(),
        "amount": amount,
    }
    answer = client.post("/v1/orders", json=body)
    assert answer.status_code == 201, answer.text
    return body


def _balance(client: TestClient) -> int:
    balance: int = client.get("/v1/loyalty/accounts/ann").json()["balance"]
    return balance


def _cancel(client: TestClient, order_id: str, **body: Any) -> Any:
    return client.post(f"/v1/orders/{order_id}/cancel", json=body)


def test_cancelling_reverses_what_the_order_earned_and_spent(
    client: TestClient, store_engine: Engine
) -> None:
    """A1 (100.00) earns 100; 30 of them are redeemed against A1: 70. Cancelling A1 takes
    back the 100 it earned and gives back the 30 it spent: 70 − 100 + 30 = 0."""
    body = _order(client, "A1", "100.00")
    assert _balance(client) == 100
    spend = client.post(
        "/v1/loyalty/accounts/ann/redeem",
        json={"points": 30, "order_id": "A1"},
        headers={"Idempotency-Key": "pay-A1"},
    )
    assert spend.status_code == 201, spend.text
    assert _balance(client) == 70

    done = _cancel(client, "A1", reason="out of stock")
    assert done.status_code == 201, done.text
    answer = done.json()
    assert (answer["order"]["status"], answer["order"]["refunded_amount"]) == (
        "cancelled",
        "100.00",
    )
    reversal = answer["reversal"]
    assert (reversal["return_id"], reversal["amount"], reversal["reason"]) == (
        "cancel:A1",
        "100.00",
        "order cancelled: out of stock",
    )
    assert _balance(client) == 0

    again = _cancel(client, "A1")
    assert (again.status_code, again.json()) == (200, answer)
    assert _balance(client) == 0
    # The shop's retry of the original order is still the same order, now cancelled.
    retry = client.post("/v1/orders", json=body)
    assert (retry.status_code, retry.json()["status"]) == (200, "cancelled")
    refund = {"return_id": "R1", "order_id": "A1", "returned_at": PLACED.isoformat()}
    late = client.post("/v1/returns", json={**refund, "amount": "1.00"})
    assert late.status_code == 422
    with Session(store_engine) as session:
        check_ledger(session)
        [audit] = session.scalars(select(AuditEntry).where(AuditEntry.action == "order.cancel"))
        assert (audit.target_id, audit.details["shop_id"]) == ("A1", "default")
        assert audit.details["reversed"] == "100.00"


def test_a_partly_returned_order_reverses_only_what_is_left(client: TestClient) -> None:
    """A1 (100.00) earns 100; a return of 40.00 takes back 40: 60. Cancelling reverses
    the 60.00 left: 0."""
    _order(client, "A1", "100.00")
    refund = {"return_id": "R1", "order_id": "A1", "returned_at": PLACED.isoformat()}
    assert client.post("/v1/returns", json={**refund, "amount": "40.00"}).status_code == 201
    assert _balance(client) == 60
    done = _cancel(client, "A1")
    assert done.status_code == 201
    assert done.json()["reversal"]["amount"] == "60.00"
    assert _balance(client) == 0


def test_a_fully_refunded_order_is_cancelled_without_a_reversal(client: TestClient) -> None:
    _order(client, "A1", "100.00")
    refund = {"return_id": "R1", "order_id": "A1", "returned_at": PLACED.isoformat()}
    assert client.post("/v1/returns", json={**refund, "amount": "100.00"}).status_code == 201
    done = _cancel(client, "A1")
    assert (done.status_code, done.json()["reversal"]) == (201, None)
    assert done.json()["order"]["status"] == "cancelled"
    assert _balance(client) == 0


def test_errors_name_the_problem(client: TestClient, store_engine: Engine) -> None:
    _order(client, "A1", "100.00")
    assert _cancel(client, "nope").status_code == 404
    assert client.post("/v1/orders/A1/cancel?shop_id=other", json={}).status_code == 404
    early = _cancel(client, "A1", cancelled_at=(PLACED - timedelta(days=1)).isoformat())
    assert early.status_code == 422
    assert early.json()["errors"][0]["field"] == "cancelled_at"
    assert _cancel(client, "A1", reason="x" * 201).status_code == 422
    with Session(store_engine) as session:
        order = session.scalars(select(Order)).one()
        assert (order.status, session.scalars(select(OrderReturn)).all()) == ("completed", [])
    assert _balance(client) == 100


def test_ids_at_their_longest_earn_return_and_cancel(client: TestClient) -> None:
    """Order and return ids of 255 characters: the ledger's keys built from them stay
    within its 255 (PostgreSQL refused the earning with a server error before)."""
    long_id = "L" * 255
    _order(client, long_id, "10.00")
    assert _balance(client) == 10
    refund = {"return_id": "R" * 255, "order_id": long_id, "returned_at": PLACED.isoformat()}
    assert client.post("/v1/returns", json={**refund, "amount": "4.00"}).status_code == 201
    assert _balance(client) == 6
    done = _cancel(client, long_id)
    assert done.status_code == 201
    reversal_id = done.json()["reversal"]["return_id"]
    assert reversal_id.startswith("cancel:#")
    assert len(reversal_id) <= 255
    assert _balance(client) == 0


def test_concurrent_cancellations_reverse_once(client: TestClient, store_engine: Engine) -> None:
    """Four clients cancel the same order at once: one 201, the others 200 with the same
    answer; one reversal, the 100 earned taken back once."""
    if store_engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them)")
    _order(client, "A1", "100.00")
    answers: list[Any] = []

    def cancel() -> None:
        answers.append(_cancel(client, "A1"))

    threads = [threading.Thread(target=cancel) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert len({str(a.json()) for a in answers}) == 1
    assert _balance(client) == 0
    with Session(store_engine) as session:
        assert len(session.scalars(select(OrderReturn)).all()) == 1
        check_ledger(session)
