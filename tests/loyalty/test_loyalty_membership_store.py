"""Paid memberships through HTTP on SQLite and PostgreSQL, at fixed moments (the
membership module's clock is set by each test)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import add_customer, add_order, make_program
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.program_store import membership
from regulars.loyalty.tables import LoyaltyEvent

CLUB: dict[str, Any] = {
    "code": "club",
    "name": "Club",
    "type": "membership",
    "config": {
        "code": "club",
        "plans": [
            {"code": "plus", "price": "9.99", "period": "month", "earn_multiplier": "2"},
            {"code": "premium", "price": "19.99", "period": "month", "earn_multiplier": "3"},
        ],
    },
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock()
    monkeypatch.setattr(membership, "utcnow", fixed)
    return fixed


@pytest.fixture
def client(store_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(store_engine)) as test_client:
        _row, key = create_api_key(store_engine, "pos", ["loyalty:read", "loyalty:write"])
        test_client.headers["Authorization"] = f"Bearer {key}"
        assert test_client.post("/v1/loyalty/programs", json=CLUB).status_code == 201
        with Session(store_engine) as session:
            for cid in ["ann", "bob", "carl"]:
                add_customer(session, cid)
            session.commit()
        yield test_client


def _subscribe(client: TestClient, customer_id: str) -> Any:
    return client.post(
        "/v1/loyalty/programs/club/memberships", json={"customer_id": customer_id, "plan": "plus"}
    )


def test_cancelled_mid_period_with_the_exact_prorated_refund(
    client: TestClient, clock: Clock, store_engine: Engine
) -> None:
    """ann subscribes on 10 March 12:00: the period is 10 March → 10 April, D = 31 days,
    charged 9.99. She cancels at once on 25 March: the 10th…25th are used (16 days), 15
    unused, refund = round_down_cent(9.99 × 15 / 31) = round_down_cent(4.8338…) = 4.83;
    she paid 9.99 − 4.83 = 5.16. While a member her orders earn × 2: 50.00 on 20 March → 100
    points; 50.00 on 26 March, after the cancellation → 50."""
    with Session(store_engine) as session:
        make_program(session, config={"pending_days": 0})
    clock.now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    created = _subscribe(client, "ann")
    assert created.status_code == 201
    body = created.json()
    assert (body["period_start"], body["period_end"]) == (
        "2026-03-10T12:00:00Z",
        "2026-04-10T12:00:00Z",
    )
    assert (body["charged"], body["active"]) == ("9.99", True)
    assert _subscribe(client, "ann").status_code == 200  # a retry: charged once
    with Session(store_engine) as session:
        during = add_order(session, "A1", "ann", "50.00", at=datetime(2026, 3, 20, tzinfo=UTC))
        assert [p.points for p in on_order_recorded(session, during)] == [100]
        session.commit()

    clock.now = datetime(2026, 3, 25, 9, tzinfo=UTC)
    url = "/v1/loyalty/programs/club/memberships/ann/cancel"
    cancelled = client.post(url, json={"immediate": True}).json()
    assert (cancelled["last_refund"], cancelled["refunded"], cancelled["charged"]) == (
        "4.83",
        "4.83",
        "9.99",
    )
    assert (cancelled["ended_at"], cancelled["active"]) == ("2026-03-25T09:00:00Z", False)
    again = client.post(url, json={"immediate": True}).json()
    assert (again["refunded"], again["last_refund"]) == ("4.83", None)  # refunded once
    with Session(store_engine) as session:
        after = add_order(session, "A2", "ann", "50.00", at=datetime(2026, 3, 26, tzinfo=UTC))
        assert [p.points for p in on_order_recorded(session, after)] == [50]
        session.commit()


def test_cancel_at_period_end_and_renewals(client: TestClient, clock: Clock) -> None:
    """bob subscribes 10 March and cancels at period end on 12 March: no refund, a member
    until 10 April; renewing on 11 April ends it without a charge. carl subscribes 31
    January: period 31 Jan → 28 Feb (the day clamped); renewing on 1 March charges the
    second period (9.99 + 9.99 = 19.98), 28 Feb → 28 March."""
    clock.now = datetime(2026, 3, 10, tzinfo=UTC)
    _subscribe(client, "bob")
    clock.now = datetime(2026, 3, 12, tzinfo=UTC)
    bob = client.post(
        "/v1/loyalty/programs/club/memberships/bob/cancel", json={"immediate": False}
    ).json()
    assert (bob["cancel_at_period_end"], bob["active"], bob["refunded"]) == (True, True, "0.00")
    clock.now = datetime(2026, 4, 11, tzinfo=UTC)
    ended = client.post("/v1/loyalty/programs/club/memberships/bob/renew").json()
    assert (ended["ended_at"], ended["charged"], ended["active"]) == (
        "2026-04-10T00:00:00Z",
        "9.99",
        False,
    )

    clock.now = datetime(2026, 1, 31, tzinfo=UTC)
    assert _subscribe(client, "carl").json()["period_end"] == "2026-02-28T00:00:00Z"
    clock.now = datetime(2026, 3, 1, tzinfo=UTC)
    carl = client.post("/v1/loyalty/programs/club/memberships/carl/renew").json()
    assert (carl["charged"], carl["period_start"], carl["period_end"]) == (
        "19.98",
        "2026-02-28T00:00:00Z",
        "2026-03-28T00:00:00Z",
    )
    assert (
        client.post("/v1/loyalty/programs/club/memberships/carl/renew").json()["charged"] == "19.98"
    )


def test_membership_errors_are_problems(client: TestClient, clock: Clock) -> None:
    missing = client.get("/v1/loyalty/programs/club/memberships/ann")
    assert (missing.status_code, missing.headers["content-type"]) == (
        404,
        "application/problem+json",
    )
    wrong_plan = client.post(
        "/v1/loyalty/programs/club/memberships", json={"customer_id": "ann", "plan": "gold"}
    )
    assert wrong_plan.status_code == 422
    assert "gold" in wrong_plan.json()["detail"]
    nobody = client.post(
        "/v1/loyalty/programs/club/memberships", json={"customer_id": "zed", "plan": "plus"}
    )
    assert nobody.status_code == 404


def test_plan_change_with_proration_webhooks_and_the_documented_409(
    client: TestClient, clock: Clock, store_engine: Engine
) -> None:
    """ann is on plus (9.99 a month) from 1 April (30 days). Subscribing to premium while a
    member is the documented 409. On 16 April she moves to premium (19.99): 16 days used,
    14 unused: credit round_down(9.99 × 14 / 30) = 4.66, cost round_down(19.99 × 14 / 30)
    = 9.32, she pays 4.66 more. Every payment is a webhook event, once."""
    clock.now = datetime(2026, 4, 1, tzinfo=UTC)
    assert _subscribe(client, "ann").status_code == 201
    premium = {"customer_id": "ann", "plan": "premium"}
    conflict = client.post("/v1/loyalty/programs/club/memberships", json=premium)
    assert (conflict.status_code, conflict.json()["type"]) == (
        409,
        "urn:regulars:problem:membership-conflict",
    )
    clock.now = datetime(2026, 4, 16, 12, tzinfo=UTC)
    change = "/v1/loyalty/programs/club/memberships/ann/change"
    moved = client.post(change, json={"plan": "premium"})
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["plan"], body["charged"], body["period_end"]) == (
        "premium",
        "14.65",
        "2026-05-01T00:00:00Z",
    )
    assert client.post(change, json={"plan": "premium"}).json()["charged"] == "14.65"
    client.post("/v1/loyalty/programs/club/memberships/ann/cancel", json={"immediate": True})
    ended = client.post(change, json={"plan": "plus"})
    assert ended.status_code == 409
    with Session(store_engine) as session:
        events = session.scalars(select(LoyaltyEvent).order_by(LoyaltyEvent.id)).all()
    paid = [(e.kind, e.payload["amount"]) for e in events]
    assert paid[:2] == [("membership_charged", "9.99"), ("membership_charged", "4.66")]
    assert paid[2][0] == "membership_refunded"
    assert len(paid) == 3
