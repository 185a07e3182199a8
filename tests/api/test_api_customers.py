"""POST /v1/customers and the Customer 360 at GET /v1/customers/{id}."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from regulars.store.session import session_scope
from regulars.store.tables import CustomerScore

Auth = Callable[..., dict[str, str]]

ANNA = {
    "customer_id": "anna@example.com",
    "name": "Anna",
    "email": "anna@example.com",
    "birthday": "1990-05-17",
    "language": "de",
    "attributes": {"vip": True},
    "consents": [{"channel": "email", "topic": "marketing", "granted": True, "source": "web"}],
}


def _order(order_id: str, amount: str, when: str, **extra: object) -> dict[str, object]:
    return {
        "order_id": order_id,
        "customer_id": ANNA["customer_id"],
        "ordered_at": when,
        "amount": amount,
        **extra,
    }


def test_create_then_get(client: TestClient, auth: Auth) -> None:
    headers = auth("customers:write", "customers:read")
    created = client.post("/v1/customers", json=ANNA, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["customer_id"] == "anna@example.com"
    assert body["birthday"] == "1990-05-17"
    assert body["purchases"] == {
        "orders_count": 0,
        "first_order_at": None,
        "last_order_at": None,
        "revenue": "0.00",
        "average_check": None,
        "mean_days_between_purchases": None,
        "days_since_last_purchase": None,
    }
    assert body["consents"][0]["channel"] == "email"
    assert body["consents"][0]["granted"] is True
    assert body["scores"] is None

    fetched = client.get("/v1/customers/anna@example.com", headers=headers)
    assert fetched.status_code == 200
    assert fetched.json() == body


def test_duplicate_customer_is_409(client: TestClient, auth: Auth) -> None:
    headers = auth("customers:write")
    assert client.post("/v1/customers", json=ANNA, headers=headers).status_code == 201
    again = client.post("/v1/customers", json={**ANNA, "name": "Other"}, headers=headers)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["status"] == 409


def test_unknown_customer_is_404(client: TestClient, auth: Auth) -> None:
    response = client.get("/v1/customers/nobody", headers=auth("customers:read"))
    assert response.status_code == 404
    assert response.json()["type"].endswith("not-found")


def test_customer_360_counts_orders_and_shows_scores(
    client: TestClient, auth: Auth, store_engine: Engine
) -> None:
    headers = auth("admin")
    client.post("/v1/customers", json=ANNA, headers=headers)
    for order in (
        _order("o-1", "10.10", "2026-01-05T09:00:00Z"),
        _order("o-2", "20.20", "2026-02-05T09:00:00+02:00", refunded_amount="5.00"),
        _order("o-3", "0.10", "2026-03-05T09:00:00Z"),
        _order("o-4", "99.00", "2026-04-05T09:00:00Z", status="cancelled"),
        _order("r-1", "-2.00", "2026-04-06T09:00:00Z"),  # a standalone return
    ):
        assert client.post("/v1/orders", json=order, headers=headers).status_code == 201
    with session_scope(store_engine) as session:
        session.add(
            CustomerScore(
                customer_id=ANNA["customer_id"],
                segment="Champions",
                p_alive=0.9,
                churn_risk=0.1,
                clv_12m="123.45",
                computed_at=datetime(2026, 4, 1, tzinfo=UTC),
            )
        )
    body = client.get("/v1/customers/anna@example.com", headers=headers).json()
    # Purchases o-1, o-2, o-3 (o-4 is cancelled, r-1 a return): 5 Jan to 5 Mar is 31 + 28
    # = 59 days over two gaps, 29.5 days each. Revenue 10.10 + (20.20 - 5.00) + 0.10 - 2.00.
    since_last = (datetime.now(UTC) - datetime(2026, 3, 5, 9, tzinfo=UTC)).days
    assert body["purchases"] == {
        "orders_count": 3,
        "first_order_at": "2026-01-05T09:00:00Z",
        "last_order_at": "2026-03-05T09:00:00Z",
        "revenue": "23.40",
        "average_check": "7.80",
        "mean_days_between_purchases": 29.5,
        "days_since_last_purchase": since_last,
    }
    assert body["scores"]["segment"] == "Champions"
    assert body["scores"]["clv_12m"] == "123.45"
    assert body["scores"]["p_alive"] == 0.9


def test_list_only_the_customers_at_risk(
    client: TestClient, auth: Auth, store_engine: Engine
) -> None:
    """Base rate = mean risk (0.05 + 0.8 + 0.68 + 0.99) / 4 = 0.63; twice its odds gives a
    threshold of 2b / (1 + b) = 0.7730: c2 is at risk; c3 is riskier but has lapsed."""
    headers = auth("admin")
    scores = {"c1": (0.05, True), "c2": (0.8, True), "c4": (0.68, True), "c3": (0.99, False)}
    for customer_id in scores:
        answer = client.post("/v1/customers", json={"customer_id": customer_id}, headers=headers)
        assert answer.status_code == 201
    with session_scope(store_engine) as session:
        for customer_id, (risk, active) in scores.items():
            session.add(
                CustomerScore(
                    customer_id=customer_id, churn_risk=risk, active=active, clv_12m="10.00"
                )
            )
    page = client.get("/v1/customers", params={"at_risk": "true"}, headers=headers).json()
    assert [c["customer_id"] for c in page["items"]] == ["c2"]
    everyone = client.get("/v1/customers", headers=headers).json()
    assert len(everyone["items"]) == 4
