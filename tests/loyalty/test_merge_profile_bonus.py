"""A customer merge and the once-per-customer action bonuses (SQLite file and
PostgreSQL): a merge that completes the survivor's profile earns the profile bonus like
any save, unless the survivor or a customer merged into them earned it already; a review
bonus is once per subject across merged customers too.

The program of every test: ``profile`` 50 points when name, email and birthday are all
set; ``review`` 20 points per reviewed subject; no pending period for orders."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import api_client
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from regulars.loyalty.tables import LoyaltyAccount, LoyaltyEntry

PROGRAM: dict[str, Any] = {
    "code": "stars",
    "name": "Stars",
    "starts_at": "2026-01-01T00:00:00Z",
    "config": {
        "earn_per_unit": "1",
        "point_value": "0.01",
        "pending_days": 0,
        "bonuses": [
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


@pytest.fixture
def client(store_engine: Engine) -> Iterator[TestClient]:
    with api_client(store_engine, SCOPES, PROGRAM) as test_client:
        yield test_client


def _customer(client: TestClient, customer_id: str, **profile: Any) -> None:
    response = client.post("/v1/customers", json={"customer_id": customer_id, **profile})
    assert response.status_code == 201, response.text


def _merge(client: TestClient, survivor: str, duplicate: str) -> None:
    response = client.post(f"/v1/customers/{survivor}/merge", json={"duplicate_id": duplicate})
    assert response.status_code == 200, response.text


def _balance(client: TestClient, customer: str) -> int:
    response = client.get(f"/v1/loyalty/accounts/{customer}")
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


def _bonus_keys(engine: Engine, customer: str) -> list[str]:
    """Idempotency keys of the bonus entries in the customer's account."""
    with Session(engine) as session:
        keys = session.scalars(
            select(LoyaltyEntry.idempotency_key)
            .join(LoyaltyAccount, LoyaltyAccount.id == LoyaltyEntry.account_id)
            .where(
                LoyaltyAccount.customer_id == customer,
                LoyaltyEntry.idempotency_key.startswith("bonus:"),
            )
        )
        return sorted(keys)


def _review(client: TestClient, customer: str, sku: str, at: str) -> None:
    event = {"customer_id": customer, "kind": "review_written", "sku": sku, "occurred_at": at}
    response = client.post("/v1/events", json=event)
    assert response.status_code == 201, response.text


def test_a_merge_that_completes_the_profile_earns_the_bonus(
    client: TestClient, store_engine: Engine
) -> None:
    """ann has name and email, bob a birthday: neither complete, nothing earned. Merging
    bob into ann fills ann's birthday → complete → 50 under ann's key. Merging again is a
    replay: still 50."""
    _customer(client, "ann", name="Ann", email="ann@example.com")
    _customer(client, "bob", birthday="1990-05-01")
    _merge(client, "ann", "bob")
    assert _balance(client, "ann") == 50
    assert _bonus_keys(store_engine, "ann") == ["bonus:profile:ann"]
    _merge(client, "ann", "bob")
    assert _balance(client, "ann") == 50


def test_a_bonus_the_duplicate_earned_is_not_earned_again(
    client: TestClient, store_engine: Engine
) -> None:
    """ann (name only) ordered 10.00: 10 points. bob, complete, earned 50. Merging bob
    into ann moves bob's lot into ann's account (60) and completes ann's profile, but the
    account holds the bonus bob earned, so ann earns nothing more: 60. Emptying ann's
    birthday and setting it again earns nothing either (once per customer, bob included)."""
    _customer(client, "ann", name="Ann")
    order = {"order_id": "A-1", "customer_id": "ann", "ordered_at": "2026-02-01T10:00:00Z"}
    assert client.post("/v1/orders", json={**order, "amount": "10.00"}).status_code == 201
    _customer(client, "bob", name="Bob", email="bob@example.com", birthday="1990-05-01")
    assert (_balance(client, "ann"), _balance(client, "bob")) == (10, 50)
    _merge(client, "ann", "bob")
    assert _balance(client, "ann") == 60
    assert _bonus_keys(store_engine, "ann") == ["bonus:profile:bob"]
    client.patch("/v1/customers/ann", json={"birthday": None})
    client.patch("/v1/customers/ann", json={"birthday": "1985-01-02"})
    assert _balance(client, "ann") == 60


def test_a_lone_duplicate_account_rekeyed_to_the_survivor_keeps_it_once(
    client: TestClient, store_engine: Engine
) -> None:
    """ann (name only) has no account; bob, complete, earned 50. The merge re-keys bob's
    account to ann; the profile the merge completes earns nothing more: 50."""
    _customer(client, "ann", name="Ann")
    _customer(client, "bob", name="Bob", email="bob@example.com", birthday="1990-05-01")
    _merge(client, "ann", "bob")
    assert _balance(client, "ann") == 50
    assert _bonus_keys(store_engine, "ann") == ["bonus:profile:bob"]


def test_both_had_earned_it_before_the_merge_both_lots_stay(
    client: TestClient, store_engine: Engine
) -> None:
    """ann and bob both complete, 50 each. The merge moves bob's 50 into ann's account
    (100): it moves points and never takes any back, and ann's profile was complete before,
    so nothing is earned."""
    _customer(client, "ann", name="Ann", email="ann@example.com", birthday="1980-01-01")
    _customer(client, "bob", name="Bob", email="bob@example.com", birthday="1990-05-01")
    _merge(client, "ann", "bob")
    assert _balance(client, "ann") == 100
    assert _bonus_keys(store_engine, "ann") == ["bonus:profile:ann", "bonus:profile:bob"]


def test_chained_merges_count_every_merged_customer(
    client: TestClient, store_engine: Engine
) -> None:
    """cy, complete, earned 50; merged into bob (birthday only), whose profile becomes
    complete: cy's bonus is there, nothing more. bob merged into ann (name only): ann is
    complete, and cy is merged into ann through bob: nothing more. 50 in all."""
    _customer(client, "cy", name="Cy", email="cy@example.com", birthday="1970-01-01")
    _customer(client, "bob", birthday="1990-05-01")
    _merge(client, "bob", "cy")
    assert _balance(client, "bob") == 50
    _customer(client, "ann", name="Ann")
    _merge(client, "ann", "bob")
    assert _balance(client, "ann") == 50
    assert _bonus_keys(store_engine, "ann") == ["bonus:profile:cy"]


def test_a_subject_the_duplicate_reviewed_earns_the_survivor_nothing(
    client: TestClient, store_engine: Engine
) -> None:
    """bob reviewed SKU-1 (20). After bob is merged into ann, ann's review of SKU-1 earns
    nothing (the same customer reviewed it), SKU-2 earns 20: 40 in all."""
    _customer(client, "ann", name="Ann")
    _customer(client, "bob", name="Bob")
    _review(client, "bob", "SKU-1", "2026-02-01T10:00:00Z")
    _merge(client, "ann", "bob")
    _review(client, "ann", "SKU-1", "2026-02-02T10:00:00Z")
    _review(client, "ann", "SKU-2", "2026-02-03T10:00:00Z")
    assert _balance(client, "ann") == 40
    assert _bonus_keys(store_engine, "ann") == ["bonus:review:ann:SKU-2", "bonus:review:bob:SKU-1"]
