"""The live ``badges`` program's ``reviews`` metric fed by ``review_written`` events
(``POST /v1/events``, ``POST /v1/bulk/events``), never by ``regulars import`` (SQLite file
and PostgreSQL).

The program of every test, from 1 Jan 2026: ``critic`` "First review" (distinct reviewed
subjects ≥ 1), ``critic-2`` "Two reviews" (≥ 2) and ``regular`` "First order" (≥ 1 paid
order). A subject is ``live.history.review_subject``'s: the event's SKU, else the payload's
``sku`` / ``product_id``, else ``order:<order_id>``."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import api_client
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.data.importers import read_orders
from regulars.loyalty.program_store.tables import LoyaltyBadge
from regulars.loyalty.tables import LoyaltyEvent
from regulars.store.ingest import ingest

BADGES: dict[str, Any] = {
    "code": "achievements",
    "name": "Achievements",
    "type": "badges",
    "starts_at": "2026-01-01T00:00:00Z",
    "config": {
        "badges": [
            {"code": "critic", "name": "First review", "metric": "reviews", "target": 1},
            {"code": "critic-2", "name": "Two reviews", "metric": "reviews", "target": 2},
            {"code": "regular", "name": "First order", "metric": "orders", "target": 1},
        ]
    },
}
POINTS: dict[str, Any] = {
    "code": "stars",
    "name": "Stars",
    "starts_at": "2026-01-01T00:00:00Z",
    "config": {"earn_per_unit": "1", "point_value": "0.01"},
}
SCOPES = ["loyalty:read", "loyalty:write", "events:write", "customers:write", "orders:write"]


@pytest.fixture
def client(store_engine: Engine) -> Iterator[TestClient]:
    with api_client(store_engine, SCOPES, BADGES) as test_client:
        yield test_client


def _review(customer: str, at: str, sku: str | None = None, **payload: Any) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "kind": "review_written",
        "sku": sku,
        "occurred_at": at,
        "payload": payload,
    }


def _post(client: TestClient, event: dict[str, Any], status: int = 201) -> None:
    response = client.post("/v1/events", json=event)
    assert response.status_code == status, response.text


def _badges(client: TestClient, customer: str) -> list[tuple[str, str]]:
    response = client.get(f"/v1/loyalty/accounts/{customer}/badges")
    assert response.status_code == 200, response.text
    return sorted((b["code"], b["awarded_at"][:10]) for b in response.json())


def _granted(engine: Engine) -> int:
    """``badge_awarded`` events in the outbox."""
    with Session(engine) as session:
        rows = session.scalars(
            select(LoyaltyEvent.payload).where(LoyaltyEvent.kind == "badge_awarded")
        ).all()
        return sum(1 for payload in rows if "badge" in payload)


def test_first_review_badge_is_awarded_once_from_events(
    client: TestClient, store_engine: Engine
) -> None:
    """Review of SKU-1 on 1 Feb: 1 subject → "First review" on 1 Feb. Its replay (200) and
    a second review of SKU-1 on 3 Feb change nothing (still 1 subject); a review naming
    nothing on 4 Feb is no review. A review of order O-1 on 5 Feb is the 2nd subject →
    "Two reviews" on 5 Feb. Two badges, two reward_granted events."""
    _post(client, _review("ann", "2026-02-01T10:00:00Z", "SKU-1"))
    assert _badges(client, "ann") == [("critic", "2026-02-01")]
    _post(client, _review("ann", "2026-02-01T10:00:00Z", "SKU-1"), status=200)
    _post(client, _review("ann", "2026-02-03T10:00:00Z", "SKU-1", stars=2))
    _post(client, _review("ann", "2026-02-04T10:00:00Z", stars=5))
    assert _badges(client, "ann") == [("critic", "2026-02-01")]
    _post(client, _review("ann", "2026-02-05T10:00:00Z", order_id="O-1"))
    assert _badges(client, "ann") == [("critic", "2026-02-01"), ("critic-2", "2026-02-05")]
    assert _granted(store_engine) == 2


def test_bulk_events_award_each_customer_once(client: TestClient, store_engine: Engine) -> None:
    """One batch: ann reviews SKU-1 twice (1 subject), bob product P-1 and SKU-2 (2
    subjects), cy only views. ann gets "First review", bob both review badges, cy none;
    the same batch again is all replays and awards nothing."""
    batch = [
        _review("ann", "2026-03-01T10:00:00Z", "SKU-1"),
        _review("ann", "2026-03-02T10:00:00Z", "SKU-1"),
        _review("bob", "2026-03-01T10:00:00Z", product_id="P-1"),
        _review("bob", "2026-03-01T11:00:00Z", "SKU-2"),
        {**_review("cy", "2026-03-01T10:00:00Z", "SKU-1"), "kind": "viewed"},
    ]
    for _ in range(2):
        response = client.post("/v1/bulk/events", json=batch)
        assert response.status_code == 200, response.text
    assert _badges(client, "ann") == [("critic", "2026-03-01")]
    assert _badges(client, "bob") == [("critic", "2026-03-01"), ("critic-2", "2026-03-01")]
    assert _badges(client, "cy") == []
    assert _granted(store_engine) == 3


def test_a_review_before_the_program_starts_does_not_count(client: TestClient) -> None:
    """The program counts from 1 Jan 2026 (as for orders): a review on 1 Dec 2025 awards
    nothing; the first review after the start, on 2 Jan, awards "First review" then."""
    _post(client, _review("dee", "2025-12-01T10:00:00Z", "SKU-1"))
    assert _badges(client, "dee") == []
    _post(client, _review("dee", "2026-01-02T10:00:00Z", "SKU-2"))
    assert _badges(client, "dee") == [("critic", "2026-01-02")]


def test_an_order_counts_the_reviews_without_awarding_twice(
    client: TestClient, store_engine: Engine
) -> None:
    """After "First review" (1 Feb), an order (evaluated with a points program running)
    replays the whole history, reviews included: "First order" is new, "First review" is
    not awarded again."""
    assert client.post("/v1/loyalty/programs", json=POINTS).status_code == 201
    _post(client, _review("eve", "2026-02-01T10:00:00Z", "SKU-1"))
    order = {
        "order_id": "E-1",
        "customer_id": "eve",
        "ordered_at": "2026-02-10T10:00:00Z",
        "amount": "30.00",
    }
    response = client.post("/v1/orders", json=order)
    assert response.status_code == 201, response.text
    assert _badges(client, "eve") == [("critic", "2026-02-01"), ("regular", "2026-02-10")]
    assert _granted(store_engine) == 2


def test_concurrent_reviews_of_one_customer_award_each_badge_once(
    client: TestClient, store_engine: Engine
) -> None:
    """8 reviews of 8 products by one customer at once (one request each): each
    evaluation sees the reviews committed before it; the badges are unique per customer,
    so "First review" and "Two reviews" exist once each."""
    assert client.post("/v1/customers", json={"customer_id": "fay"}).status_code == 201
    barrier = Barrier(8)

    def post(index: int) -> int:
        barrier.wait()
        event = _review("fay", f"2026-02-0{index + 1}T10:00:00Z", f"SKU-{index}")
        return client.post("/v1/events", json=event).status_code

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(post, range(8))) == [201] * 8
    assert [code for code, _ in _badges(client, "fay")] == ["critic", "critic-2"]
    assert _granted(store_engine) == 2


def test_regulars_import_awards_no_badge(
    client: TestClient, store_engine: Engine, tmp_path: Path
) -> None:
    """Orders loaded by ``regulars import`` run no hooks: no badge, no event (it loads no
    events at all, so it can feed no review)."""
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,order_id,ordered_at,amount\ngus,I-1,2026-03-01,80.00\ngus,I-2,2026-03-02,5\n"
    )
    assert ingest(store_engine, read_orders([path])).orders_inserted == 2
    with Session(store_engine) as session:
        assert session.scalar(select(func.count()).select_from(LoyaltyBadge)) == 0
    assert _granted(store_engine) == 0
