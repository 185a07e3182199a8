"""An online store with cashback and referrals, through HTTP on SQLite and PostgreSQL, at
fixed moments (the referral module's clock is set by the test)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import add_order, add_return, check_ledger, make_program
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.returns import on_return_recorded
from regulars.loyalty.program_store import referrals
from regulars.store.tables import Customer

FRIENDS: dict[str, Any] = {
    "code": "friends",
    "name": "Refer a friend",
    "type": "referral",
    "config": {"referrer_points": 500, "referee_points": 300, "return_window_days": 14},
}


class Clock:
    now = datetime(2026, 3, 1, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock()
    monkeypatch.setattr(referrals, "utcnow", fixed)
    return fixed


@pytest.fixture
def shop(store_engine: Engine) -> Iterator[TestClient]:
    """Cashback: 5 points per unit spent, worth 0.01 each (5 %), pending 14 days."""
    with Session(store_engine) as session:
        make_program(session, code="cashback", config={"earn_per_unit": "5"})
        for cid, email in [
            ("ann", "ann@example.com"),
            ("ben", "ben@example.com"),
            ("carl", "carl@example.com"),
            ("ann2", " ANN@Example.com "),
            ("dora", "dora@example.com"),
        ]:
            session.add(Customer(customer_id=cid, email=email, attributes={}))
        session.commit()
    with TestClient(create_app(store_engine)) as client:
        _row, key = create_api_key(store_engine, "shop", ["loyalty:read", "loyalty:write"])
        client.headers["Authorization"] = f"Bearer {key}"
        assert client.post("/v1/loyalty/programs", json=FRIENDS).status_code == 201
        yield client


def _refer(client: TestClient, referrer: str, referee: str) -> Any:
    return client.post(
        "/v1/loyalty/programs/friends/referrals",
        json={"referrer_id": referrer, "referee_id": referee},
    )


def _balance(client: TestClient, customer_id: str) -> int:
    body = client.get(f"/v1/loyalty/accounts/{customer_id}?program=cashback").json()
    return int(body["balance"])


def test_the_referral_pays_only_after_the_return_window(
    shop: TestClient, clock: Clock, store_engine: Engine
) -> None:
    """1 March: ann refers ben and carl. ben buys for 100.00 on 2 March 09:00: 100 × 5 = 500
    cashback points; the reward is due 14 days later, 16 March 09:00. On 10 March nothing is
    paid (window open); on 16 March 10:00 ann gets 500 and ben 300 (ben: 500 + 300 = 800).
    carl's first order (40.00, 3 March) is returned in full: once its window is over (17
    March) the referral is rejected, nobody rewarded; evaluating again pays nothing twice."""
    assert _refer(shop, "ann", "ben").status_code == 201
    assert _refer(shop, "ann", "ben").status_code == 200  # the same referral again
    assert _refer(shop, "dora", "ben").status_code == 409  # ben was referred by ann
    assert _refer(shop, "ann", "carl").status_code == 201
    with Session(store_engine) as session:
        first = add_order(session, "B1", "ben", "100.00", at=datetime(2026, 3, 2, 9, tzinfo=UTC))
        assert [p.points for p in on_order_recorded(session, first)] == [500]
        carls = add_order(session, "C1", "carl", "40.00", at=datetime(2026, 3, 3, tzinfo=UTC))
        on_order_recorded(session, carls)
        on_return_recorded(
            session, add_return(session, "R1", carls, "40.00", at=datetime(2026, 3, 5, tzinfo=UTC))
        )
        session.commit()

    evaluate = "/v1/loyalty/programs/friends/referrals/evaluate"
    clock.now = datetime(2026, 3, 10, tzinfo=UTC)
    assert shop.post(evaluate).json() == {"pending": 2, "rewarded": 0, "rejected": 0}
    ben = shop.get("/v1/loyalty/programs/friends/referrals/ben").json()
    assert (ben["state"], ben["reason"], ben["due_at"]) == (
        "pending",
        "return window open",
        "2026-03-16T09:00:00Z",
    )
    assert (_balance(shop, "ann"), _balance(shop, "ben")) == (0, 500)

    clock.now = datetime(2026, 3, 16, 10, tzinfo=UTC)
    assert shop.post(evaluate).json() == {"pending": 1, "rewarded": 1, "rejected": 0}
    assert (_balance(shop, "ann"), _balance(shop, "ben")) == (500, 800)
    clock.now = datetime(2026, 3, 17, 1, tzinfo=UTC)
    assert shop.post(evaluate).json() == {"pending": 0, "rewarded": 0, "rejected": 1}
    carl = shop.get("/v1/loyalty/programs/friends/referrals/carl").json()
    assert (carl["state"], carl["reason"]) == ("rejected", "first order returned")
    assert (_balance(shop, "ann"), _balance(shop, "ben")) == (500, 800)
    rewarded = shop.get("/v1/loyalty/programs/friends/referrals/ben").json()
    assert (rewarded["state"], rewarded["referrer_rewarded"]) == ("rewarded", True)
    with Session(store_engine) as session:
        check_ledger(session)


def test_self_referral_by_the_same_email_is_refused(shop: TestClient, clock: Clock) -> None:
    """ann2's email is ann's with spaces and capitals: the same person."""
    refused = _refer(shop, "ann", "ann2")
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"] == "self-referral: same email"
    assert _refer(shop, "ann", "ann").json()["detail"] == "self-referral: same customer"
    assert shop.get("/v1/loyalty/programs/friends/referrals/ann2").status_code == 404
    assert _refer(shop, "ann", "nobody").status_code == 404
