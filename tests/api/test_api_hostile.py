"""The hostile-input corpus of the API: values at and past the edge of every documented
limit (docs/api.md, "Limits"). Each probe must get a 4xx problem+json naming the field,
never a 5xx and never a silent change; the probes that are valid must succeed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.api.schemas import PurchaseStats
from regulars.limits import MAX_MONEY

LATE = "9999-12-31T23:59:59-05:00"
EARLY = "0001-01-01T00:00:00+01:00"
BAD_OFFSET = "2026-01-01T00:00:00+25:00"
EDGES = {"late": LATE, "early": EARLY, "offset": BAD_OFFSET}
POINTS_CONFIG = {"earn_per_unit": "1", "point_value": "0.01", "pending_days": 14}
TOP_MONEY = str(MAX_MONEY)


@dataclass(frozen=True)
class Probe:
    """One request; ``field``: the name the problem must give (None: any 4xx will do)."""

    method: str
    path: str
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    field: str | None = None


def _order(**extra: Any) -> dict[str, Any]:
    return {
        "order_id": "o-x",
        "customer_id": "c1",
        "ordered_at": "2026-03-01T10:00:00Z",
        "amount": "10.00",
        **extra,
    }


def _date_probes(name: str, value: str) -> dict[str, Probe]:
    return {
        f"order-{name}": Probe("POST", "/v1/orders", _order(ordered_at=value), field="ordered_at"),
        f"return-{name}": Probe(
            "POST",
            "/v1/returns",
            {"return_id": "r-x", "order_id": "o1", "returned_at": value, "amount": "1.00"},
            field="returned_at",
        ),
        f"event-{name}": Probe(
            "POST",
            "/v1/events",
            {"customer_id": "c1", "kind": "page_view", "occurred_at": value},
            field="occurred_at",
        ),
        f"price-{name}": Probe(
            "PUT", "/v1/products/SKU-1", {"price": "1.00", "price_valid_from": value}, field=None
        ),
        f"stock-{name}": Probe(
            "POST", "/v1/products/SKU-1/stock", {"quantity": 1, "recorded_at": value}, field=None
        ),
        f"program-{name}": Probe(
            "POST",
            "/v1/loyalty/programs",
            {"code": "p2", "name": "P2", "config": POINTS_CONFIG, "starts_at": value},
            field="starts_at",
        ),
        f"partner-sale-{name}": Probe(
            "POST",
            "/v1/loyalty/programs/pts/partners/air/sales",
            {"customer_id": "c1", "transaction_id": "t1", "amount": "5.00", "occurred_at": value},
            field="occurred_at",
        ),
        f"orders-since-{name}": Probe("GET", "/v1/orders", params={"ordered_since": value}),
        f"orders-until-{name}": Probe("GET", "/v1/orders", params={"ordered_until": value}),
        f"customers-updated-{name}": Probe("GET", "/v1/customers", params={"updated_since": value}),
        f"audit-since-{name}": Probe("GET", "/v1/audit", params={"since": value}),
        f"settlement-{name}": Probe(
            "GET",
            "/v1/loyalty/programs/pts/settlement",
            params={"start": value, "end": "2026-01-01T00:00:00Z"},
        ),
        f"causes-{name}": Probe(
            "GET",
            "/v1/loyalty/programs/pts/causes-report",
            params={"start": "2026-01-01T00:00:00Z", "end": value},
        ),
        f"bulk-orders-{name}": Probe("POST", "/v1/bulk/orders", [_order(ordered_at=value)]),
        f"bulk-events-{name}": Probe(
            "POST",
            "/v1/bulk/events",
            [{"customer_id": "c1", "kind": "page_view", "occurred_at": value}],
        ),
    }


PROBES: dict[str, Probe] = {
    **{k: v for name, value in EDGES.items() for k, v in _date_probes(name, value).items()},
    "economics-year-1": Probe(
        "GET",
        "/v1/loyalty/programs/pts/economics",
        params={"start": "0001-01-01", "end": "9999-12-31"},
    ),
    "effect-year-9999": Probe(
        "GET",
        "/v1/loyalty/programs/pts/effect",
        params={"start": "9999-12-30", "end": "9999-12-31"},
    ),
    "birthday-year-1": Probe(
        "POST", "/v1/customers", {"customer_id": "c-b", "birthday": "0001-01-01"}, "birthday"
    ),
    "money-over-limit": Probe(
        "POST", "/v1/orders", _order(amount="99999999999999999.99"), field="amount"
    ),
    "refund-over-amount": Probe(
        "POST", "/v1/orders", _order(refunded_amount="11.00"), field="refunded_amount"
    ),
    "return-over-order": Probe(
        "POST",
        "/v1/returns",
        {
            "return_id": "r-big",
            "order_id": "o1",
            "returned_at": "2026-03-02T00:00:00Z",
            "amount": "10.01",
        },
        field="amount",
    ),
    "redeem-points-true": Probe(
        "POST", "/v1/loyalty/accounts/c1/redeem", {"points": True}, field="points"
    ),
    "adjust-points-float": Probe(
        "POST", "/v1/loyalty/accounts/c1/adjust", {"points": 1.0, "reason": "x"}, field="points"
    ),
    "stock-quantity-text": Probe(
        "POST",
        "/v1/products/SKU-1/stock",
        {"quantity": "5", "recorded_at": "2026-01-01T00:00:00Z"},
        field="quantity",
    ),
    "customer-time-zone": Probe(
        "POST", "/v1/customers", {"customer_id": "c-tz", "time_zone": "Mars/Olympus"}, "time_zone"
    ),
    "patch-time-zone": Probe(
        "PATCH", "/v1/customers/c1", {"time_zone": "Mars/Olympus"}, field="time_zone"
    ),
    "program-time-zone": Probe(
        "POST",
        "/v1/loyalty/programs",
        {
            "code": "p3",
            "name": "P3",
            "config": {**POINTS_CONFIG, "default_time_zone": "Mars/Olympus"},
        },
    ),
    "nul-in-attribute-key": Probe(
        "POST", "/v1/customers", {"customer_id": "c-n", "attributes": {"a\x00b": 1}}
    ),
    "nul-in-path": Probe("GET", "/v1/customers/a%00b"),
    "nul-in-query": Probe("GET", "/v1/orders", params={"customer_id": "a\x00b"}),
    "nul-in-product-search": Probe("GET", "/v1/products", params={"q": "\x00"}),
    "nul-in-loyalty-path": Probe("GET", "/v1/loyalty/accounts/a%00b"),
    "nul-in-redemption-key": Probe("POST", "/v1/loyalty/accounts/c1/redemptions/a%00b/cancel"),
    "nul-in-export-path": Probe("GET", "/v1/customers/a%00b/export"),
    "nul-in-program-query": Probe("GET", "/v1/loyalty/accounts/c1", params={"program": "\x00"}),
    "referral-on-points-program": Probe(
        "POST",
        "/v1/loyalty/programs/pts/referrals",
        {"referrer_id": "c1", "referee_id": "c2"},
    ),
    "membership-on-points-program": Probe(
        "POST", "/v1/loyalty/programs/pts/memberships", {"customer_id": "c1", "plan": "gold"}
    ),
    "draw-on-points-program": Probe("POST", "/v1/loyalty/programs/pts/draw", {}),
}


@pytest.fixture
def hostile(store_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """A client with an admin key, a points program ``pts``, customer c1 and order o1
    (10.00), on a server configured as a deployment is (the secret PostgreSQL needs)."""
    monkeypatch.setenv("REGULARS_SECRET_KEY", "hostile-" + "0" * 32)
    with TestClient(create_app(store_engine), raise_server_exceptions=False) as client:
        _row, key = create_api_key(store_engine, "hostile", ["admin"])
        client.headers["Authorization"] = f"Bearer {key}"
        program = {"code": "pts", "name": "Points", "config": POINTS_CONFIG}
        assert client.post("/v1/loyalty/programs", json=program).status_code == 201
        order = _order(order_id="o1", amount="10.00")
        assert client.post("/v1/orders", json=order).status_code == 201, "setup"
        yield client


def _is_problem(response: Any) -> bool:
    return bool(response.headers.get("content-type", "").startswith("application/problem+json"))


@pytest.mark.parametrize("name", sorted(PROBES))
def test_hostile_input_is_refused_by_name(hostile: TestClient, name: str) -> None:
    probe = PROBES[name]
    response = hostile.request(probe.method, probe.path, json=probe.json, params=probe.params)
    assert response.status_code < 500, response.text
    if probe.path.startswith("/v1/bulk/"):
        # A bulk request answers 200 with each item's result: the item must be rejected.
        results = response.json()["results"]
        assert [r["status"] for r in results] == ["rejected"], response.text
        return
    assert 400 <= response.status_code < 500, response.text
    assert _is_problem(response), response.headers
    if probe.field is not None:
        fields = {e["field"] for e in response.json().get("errors", [])}
        assert probe.field in fields, response.text


def test_customer_360_with_amounts_at_the_money_limit(hostile: TestClient) -> None:
    """Orders at the top of the money range: their sum passes the limit of one amount, yet
    the Customer 360 keeps working and exact."""
    for i in range(3):
        order = _order(order_id=f"o-top-{i}", customer_id="c-top", amount=TOP_MONEY)
        assert hostile.post("/v1/orders", json=order).status_code == 201
    response = hostile.get("/v1/customers/c-top")
    assert response.status_code == 200, response.text
    assert response.json()["purchases"]["revenue"] == str(3 * MAX_MONEY)


def test_response_sums_are_not_bound_by_the_limit_of_one_amount() -> None:
    """A sum of 18 digits and more (NUMERIC(18,2) holds each amount, not their total)."""
    total = Decimal("12345678901234567890.12")
    stats = PurchaseStats(
        orders_count=10**7,
        first_order_at=None,
        last_order_at=None,
        revenue=total,
        average_check=None,
        mean_days_between_purchases=None,
        days_since_last_purchase=None,
    )
    assert stats.model_dump(mode="json")["revenue"] == str(total)


def test_a_valid_offset_and_calendar_edge_inside_the_range_are_kept(hostile: TestClient) -> None:
    """Inside the documented range values arrive unchanged (converted to UTC)."""
    order = _order(order_id="o-edge", ordered_at="1900-01-01T00:00:00+00:00")
    assert hostile.post("/v1/orders", json=order).status_code == 201
    got = hostile.get("/v1/orders/o-edge").json()
    assert got["ordered_at"].startswith("1900-01-01T00:00:00")
    order = _order(order_id="o-east", ordered_at="2026-01-01T10:00:00+14:00")
    assert hostile.post("/v1/orders", json=order).status_code == 201
    assert hostile.get("/v1/orders/o-east").json()["ordered_at"].startswith("2025-12-31T20:00:00")


def test_an_unexpected_error_is_a_problem_json_500(store_engine: Engine) -> None:
    """Whatever breaks inside, the body is problem+json, not plain text."""
    app = create_app(store_engine)

    @app.get("/v1/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v1/boom")
    assert response.status_code == 500
    assert _is_problem(response)
    assert response.json()["status"] == 500
    assert "boom" not in response.text  # no internals leak
