"""The Customer 360 sections: recent orders with lines, returns, events, and the section
registry agreeing with the response model."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from regulars.api.schemas import CustomerOut, CustomerSummary
from regulars.api.services.customer360 import RECENT_EVENTS, RECENT_ORDERS, SECTIONS

Auth = Callable[..., dict[str, str]]


def test_every_section_is_a_member_of_the_response() -> None:
    sections = set(CustomerOut.model_fields) - set(CustomerSummary.model_fields)
    assert set(SECTIONS) == sections


def test_recent_orders_returns_and_events(client: TestClient, auth: Auth) -> None:
    headers = auth("admin")
    for day in range(1, 13):
        order = {
            "order_id": f"o-{day}",
            "customer_id": "c-1",
            "ordered_at": f"2026-01-{day:02d}T10:00:00Z",
            "amount": "10.00",
            "lines": [
                {"sku": "TEA-1", "quantity": 1, "unit_price": "10.00", "line_amount": "10.00"}
            ],
        }
        assert client.post("/v1/orders", json=order, headers=headers).status_code == 201
    ret = {
        "return_id": "r-1",
        "order_id": "o-12",
        "returned_at": "2026-01-20T10:00:00Z",
        "amount": "4.00",
        "lines": [{"sku": "TEA-1", "quantity": 1, "line_amount": "4.00"}],
    }
    assert client.post("/v1/returns", json=ret, headers=headers).status_code == 201
    events = [
        {"customer_id": "c-1", "kind": "viewed", "occurred_at": f"2026-02-{day:02d}T10:00:00Z"}
        for day in range(1, 26)
    ]
    assert (
        client.post("/v1/bulk/events", json=events, headers=headers).json()["counts"]["created"]
        == 25
    )

    body = client.get("/v1/customers/c-1", headers=headers).json()
    orders = body["recent_orders"]
    assert len(orders) == RECENT_ORDERS
    assert [o["order_id"] for o in orders[:3]] == ["o-12", "o-11", "o-10"]
    assert orders[0]["lines"][0]["sku"] == "TEA-1"
    assert (orders[0]["refunded_amount"], orders[0]["status"]) == ("4.00", "partially_refunded")
    assert [(r["return_id"], r["amount"]) for r in body["returns"]] == [("r-1", "4.00")]
    assert len(body["recent_events"]) == RECENT_EVENTS
    assert body["recent_events"][0]["occurred_at"] == "2026-02-25T10:00:00Z"
    # 12 purchases, 10.00 each less the 4.00 returned; 11 days between first and last.
    purchases = body["purchases"]
    assert (purchases["orders_count"], purchases["revenue"]) == (12, "116.00")
    assert purchases["average_check"] == "9.67"  # 116 / 12 = 9.666…
    assert purchases["mean_days_between_purchases"] == 1.0
