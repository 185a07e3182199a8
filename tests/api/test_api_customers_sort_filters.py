"""``GET /v1/customers``: the filters by tier, CLV and last purchase, and the sorts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from regulars.loyalty.catalogue import ProgramSpec, create_program
from regulars.loyalty.program_store.tables import LoyaltyTierState
from regulars.store.session import session_scope
from regulars.store.tables import Customer, CustomerScore, Order

Auth = Callable[..., dict[str, str]]
NOW = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.fixture
def customers(store_engine: Engine) -> None:
    """a: 2 purchases, the last 5 days ago, CLV 300, gold; b: 1 purchase 40 days ago, CLV
    50; c: only a cancelled order, not scored; d: nothing, no name."""
    with session_scope(store_engine) as session:
        for cid, name in (("a", "Zoe"), ("b", "anna"), ("c", "Mark"), ("d", None)):
            session.add(Customer(customer_id=cid, name=name))
        session.flush()
        for n, (cid, days, status) in enumerate(
            (
                ("a", 5, "completed"),
                ("a", 60, "completed"),
                ("b", 40, "completed"),
                ("c", 1, "cancelled"),
            )
        ):
            session.add(
                Order(
                    order_id=f"o{n}",
                    customer_id=cid,
                    ordered_at=NOW - timedelta(days=days),
                    amount=Decimal("10"),
                    status=status,
                )
            )
        for cid, clv, risk in (("a", "300", 0.1), ("b", "50", 0.6)):
            session.add(CustomerScore(customer_id=cid, clv_12m=Decimal(clv), churn_risk=risk))
        program = create_program(
            session,
            # Any program will do: the tier state is what the filter reads.
            ProgramSpec(
                code="club",
                name="Club",
                type="points",
                config={"earn_per_unit": "1", "point_value": "0.01"},
                starts_at=NOW,
            ),
        )
        session.add(
            LoyaltyTierState(program_id=program.id, customer_id="a", tier="gold", as_of=NOW)
        )


def _ids(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    answer = client.get("/v1/customers", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return [c["customer_id"] for c in answer.json()["items"]]


def test_filters_by_tier_clv_and_last_purchase(
    client: TestClient, auth: Auth, customers: None
) -> None:
    headers = auth("customers:read")
    assert _ids(client, headers, tier="gold") == ["a"]
    assert _ids(client, headers, min_clv="100") == ["a"]
    assert _ids(client, headers, max_clv="100") == ["b"]
    assert _ids(client, headers, min_clv="40", max_clv="400") == ["a", "b"]
    after = (NOW - timedelta(days=30)).isoformat()
    assert _ids(client, headers, last_purchase_after=after) == ["a"]  # c's was cancelled
    assert _ids(client, headers, last_purchase_before=after) == ["b"]


def test_sorts_both_ways_with_missing_values_last(
    client: TestClient, auth: Auth, customers: None
) -> None:
    headers = auth("customers:read")
    assert _ids(client, headers, sort="name") == ["b", "c", "a", "d"]
    assert _ids(client, headers, sort="name", desc="true") == ["a", "c", "b", "d"]
    assert _ids(client, headers, sort="clv", desc="true") == ["a", "b", "c", "d"]
    assert _ids(client, headers, sort="churn_risk") == ["a", "b", "c", "d"]
    assert _ids(client, headers, sort="last_purchase", desc="true") == ["a", "b", "c", "d"]
    assert _ids(client, headers, sort="orders", desc="true")[:2] == ["a", "b"]
    assert _ids(client, headers, desc="true") == ["d", "c", "b", "a"]


def test_sorted_pages_cover_everything_once(
    client: TestClient, auth: Auth, customers: None
) -> None:
    headers = auth("customers:read")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"sort": "name", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/customers", params=params, headers=headers).json()
        seen += [c["customer_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["b", "c", "a", "d"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"sort": "height"}, "sort"), ({"min_clv": "-1"}, "min_clv"), ({"tier": "x" * 65}, "tier")],
)
def test_bad_sorts_and_bounds_are_422(
    client: TestClient, auth: Auth, params: dict[str, Any], field: str
) -> None:
    answer = client.get("/v1/customers", params=params, headers=auth("customers:read"))
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == [field]
