"""Coalition partners, charity and prize draws through HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import add_customer, add_order
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.loyalty.points.earning import on_order_recorded

COALITION: dict[str, Any] = {
    "code": "city",
    "name": "City card",
    "type": "coalition",
    "config": {
        "expiry_days": 365,
        "partners": [
            {
                "code": "cafe",
                "name": "Café",
                "earn_per_unit": "1",
                "issue_value": "0.008",
                "accepts_points": True,
                "redeem_value": "0.01",
            },
            {"code": "cinema", "name": "Cinema", "earn_per_unit": "2", "issue_value": "0.005"},
        ],
    },
}


@pytest.fixture
def app_client(store_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(store_engine)) as test_client:
        yield test_client


def _bearer(engine: Engine, scopes: list[str]) -> dict[str, str]:
    _row, key = create_api_key(engine, "-".join(scopes), scopes)
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def writer(store_engine: Engine) -> dict[str, str]:
    return _bearer(store_engine, ["loyalty:read", "loyalty:write"])


@pytest.fixture
def admin(store_engine: Engine) -> dict[str, str]:
    return _bearer(store_engine, ["admin"])


def _customers(engine: Engine, *ids: str) -> None:
    with Session(engine) as session:
        for cid in ids:
            add_customer(session, cid)
        session.commit()


def _sale(client: TestClient, h: dict[str, str], partner: str, tx: str, **body: Any) -> Any:
    return client.post(
        f"/v1/loyalty/programs/city/partners/{partner}/sales",
        json={"transaction_id": tx, **body},
        headers=h,
    )


def test_partner_settlement_for_a_month(
    app_client: TestClient, store_engine: Engine, writer: dict[str, str], admin: dict[str, str]
) -> None:
    """This month [start, end), sales dated ``start`` (the previous day: last month):

    * ann at the café 12.50 → floor(12.50 × 1) = 12 points; bob at the café 30.99 → 30;
      ann at the cinema 10.00 → floor(10.00 × 2) = 20; ann at the café last month 100.00 →
      100 (not in this month's settlement); ann pays 50 points at the café now.
    * café: issued 12 + 30 = 42 × 0.008 = 0.336 → 0.34 owed to the program; redeemed
      50 × 0.01 = 0.50 owed to the café; net 0.34 − 0.50 = −0.16 (the program pays).
    * cinema: issued 20 × 0.005 = 0.10; redeemed 0; net 0.10.
    """
    c, h = app_client, writer
    assert c.post("/v1/loyalty/programs", json=COALITION, headers=admin).status_code == 201
    _customers(store_engine, "ann", "bob")
    now = datetime.now(UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    at, before = start.isoformat(), (start - timedelta(days=1)).isoformat()
    first = _sale(c, h, "cafe", "T1", customer_id="ann", amount="12.50", occurred_at=at)
    assert first.status_code == 201
    assert (first.json()["points"], first.json()["balance"]) == (12, 12)
    assert (
        _sale(c, h, "cafe", "T2", customer_id="bob", amount="30.99", occurred_at=at).json()[
            "points"
        ]
        == 30
    )
    assert (
        _sale(c, h, "cinema", "K1", customer_id="ann", amount="10.00", occurred_at=at).json()[
            "balance"
        ]
        == 32
    )
    old = _sale(c, h, "cafe", "T0", customer_id="ann", amount="100.00", occurred_at=before)
    assert old.json()["balance"] == 132

    again = _sale(c, h, "cafe", "T1", customer_id="ann", amount="12.50", occurred_at=at)
    assert (again.status_code, again.json()["balance"]) == (200, 132)  # a retry, once
    other = _sale(c, h, "cafe", "T1", customer_id="ann", amount="12.60", occurred_at=at)
    assert other.status_code == 409  # the same 12 points, but another sale
    assert other.headers["content-type"] == "application/problem+json"

    paid = c.post(
        "/v1/loyalty/programs/city/partners/cafe/redemptions",
        json={"customer_id": "ann", "transaction_id": "R1", "points": 50},
        headers=h,
    )
    assert (paid.status_code, paid.json()["balance"]) == (201, 82)
    refused = c.post(
        "/v1/loyalty/programs/city/partners/cinema/redemptions",
        json={"customer_id": "ann", "transaction_id": "R2", "points": 5},
        headers=h,
    )
    assert refused.status_code == 422
    assert "does not accept points" in refused.json()["detail"]
    short = c.post(
        "/v1/loyalty/programs/city/partners/cafe/redemptions",
        json={"customer_id": "bob", "transaction_id": "R3", "points": 31},
        headers=h,
    )
    assert (short.status_code, short.json()["available"]) == (409, 30)

    period = {"start": start.isoformat(), "end": end.isoformat()}
    url = "/v1/loyalty/programs/city/settlement"
    assert c.get(url, params=period, headers=h).status_code == 403  # admin only
    lines = {
        line["partner"]: line for line in c.get(url, params=period, headers=admin).json()["lines"]
    }
    assert lines["cafe"] == {
        "partner": "cafe",
        "issued_points": 42,
        "owed_to_program": "0.34",
        "redeemed_points": 50,
        "owed_to_partner": "0.50",
        "net": "-0.16",
    }
    assert (lines["cinema"]["owed_to_program"], lines["cinema"]["net"]) == ("0.10", "0.10")
    unknown = c.get(url, params={**period, "partner": "zoo"}, headers=admin)
    assert unknown.status_code == 422
    assert "zoo" in unknown.json()["detail"]


def test_charity_donation_matched_one_to_one_with_a_cap(
    app_client: TestClient, store_engine: Engine, writer: dict[str, str], admin: dict[str, str]
) -> None:
    """ann earns 300 points on a 300.00 order (1 point per unit, no pending period). Cause
    'trees' matches 1:1 up to 100 points a month: donating 60 → matched 60; 70 → matched
    min(70, 100 − 60) = 40; 10 → 0 (cap used up). Balance 300 − 140 = 160. Report at 0.01 a
    point: donated 140 → 1.40, matched 100 → 1.00, total 2.40."""
    c, h = app_client, writer
    stars = {
        "code": "stars",
        "name": "Stars",
        "config": {"earn_per_unit": "1", "point_value": "0.01", "pending_days": 0},
    }
    give = {
        "code": "give",
        "name": "Give",
        "type": "charity",
        "config": {
            "point_value": "0.01",
            "causes": [
                {"code": "trees", "name": "Trees", "match_ratio": "1", "cap_points_per_period": 100}
            ],
        },
    }
    assert c.post("/v1/loyalty/programs", json=stars, headers=h).status_code == 201
    assert c.post("/v1/loyalty/programs", json=give, headers=h).status_code == 201
    with Session(store_engine) as session:
        on_order_recorded(session, add_order(session, "A1", "ann", "300.00", at=datetime.now(UTC)))
        session.commit()

    def donate(donation_id: str, points: int, cause: str = "trees") -> Any:
        body = {"customer_id": "ann", "donation_id": donation_id, "cause": cause, "points": points}
        return c.post("/v1/loyalty/programs/give/donations", json=body, headers=h)

    assert [
        donate(d, p).json()["matched_points"] for d, p in [("d1", 60), ("d2", 70), ("d3", 10)]
    ] == [60, 40, 0]
    replay = donate("d1", 60)
    assert (replay.status_code, replay.json()["matched_points"], replay.json()["balance"]) == (
        200,
        60,
        160,
    )
    assert donate("d1", 61).status_code == 409
    assert donate("d4", 161).json()["type"].endswith(":insufficient-points")
    assert donate("d5", 5, cause="whales").status_code == 422
    assert c.get("/v1/loyalty/accounts/ann?program=stars", headers=h).json()["balance"] == 160

    now = datetime.now(UTC)
    period = {
        "start": (now - timedelta(days=1)).isoformat(),
        "end": (now + timedelta(days=1)).isoformat(),
    }
    report = c.get("/v1/loyalty/programs/give/causes-report", params=period, headers=h).json()
    assert report["causes"] == [
        {
            "cause": "trees",
            "donations": 3,
            "donated_points": 140,
            "matched_points": 100,
            "donated_value": "1.40",
            "matched_value": "1.00",
            "total_value": "2.40",
        }
    ]


def _ticket(seed: str, customer_id: str) -> str:
    return hashlib.sha256(f"{seed}\n{customer_id}".encode()).hexdigest()


def test_draw_rerun_with_the_same_seed_gives_the_same_winners(
    app_client: TestClient, store_engine: Engine, writer: dict[str, str], admin: dict[str, str]
) -> None:
    """A period that ended yesterday. a, b, c bought in it and opted in: eligible (3). d opted
    in but its only order was fully refunded (counts 0.00); e bought but did not opt in; f
    bought before the period. Two winners: the two smallest SHA-256(seed + '\\n' + id),
    recomputed here from the published seed."""
    c = app_client
    now = datetime.now(UTC)
    starts, ends = now - timedelta(days=31), now - timedelta(days=1)
    program = {
        "code": "xmas",
        "name": "Hamper draw",
        "type": "draw",
        "config": {
            "code": "xmas",
            "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(),
            "winners": 2,
            "prize": "hamper",
        },
    }
    assert c.post("/v1/loyalty/programs", json=program, headers=writer).status_code == 201
    with Session(store_engine) as session:
        for cid in ["a", "b", "c", "e"]:
            add_order(session, f"O-{cid}", cid, "20.00", at=starts + timedelta(days=3))
        refunded = add_order(session, "O-d", "d", "20.00", at=starts + timedelta(days=3))
        refunded.refunded_amount = Decimal("20.00")
        add_order(session, "O-f", "f", "20.00", at=starts - timedelta(days=3))
        session.commit()
    for cid in ["a", "b", "c", "d", "f"]:
        enrolled = c.post(
            f"/v1/loyalty/accounts/{cid}/enroll", json={"program": "xmas"}, headers=writer
        )
        assert enrolled.status_code == 200

    assert c.post("/v1/loyalty/programs/xmas/draw", json={}, headers=writer).status_code == 403
    drawn = c.post("/v1/loyalty/programs/xmas/draw", json={"seed": "s33d"}, headers=admin)
    assert drawn.status_code == 201
    body = drawn.json()
    expected = sorted(["a", "b", "c"], key=lambda cid: _ticket("s33d", cid))[:2]
    assert [w["customer_id"] for w in body["winners"]] == expected
    assert [w["rank"] for w in body["winners"]] == [1, 2]
    assert body["eligible_count"] == 3
    assert body["eligible_sha256"] == hashlib.sha256(b"a\nb\nc").hexdigest()

    again = c.post("/v1/loyalty/programs/xmas/draw", json={"seed": "other"}, headers=admin)
    assert again.status_code == 200
    assert (again.json()["seed"], again.json()["winners"]) == ("s33d", body["winners"])
    shown = c.get("/v1/loyalty/programs/xmas/draw", headers=writer).json()
    assert shown["rerun"] == {
        "eligible_sha256_now": body["eligible_sha256"],
        "winners_now": expected,
        "same_eligible": True,
        "same_winners": True,
    }


def test_a_draw_waits_for_its_period_and_wrong_types_are_refused(
    app_client: TestClient, store_engine: Engine, writer: dict[str, str], admin: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    program = {
        "code": "later",
        "name": "Later",
        "type": "draw",
        "config": {
            "code": "later",
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(days=7)).isoformat(),
            "winners": 1,
            "prize": "mug",
        },
    }
    assert app_client.post("/v1/loyalty/programs", json=program, headers=writer).status_code == 201
    early = app_client.post("/v1/loyalty/programs/later/draw", json={}, headers=admin)
    assert (early.status_code, early.json()["type"].rsplit(":", 1)[1]) == (409, "draw-not-due")
    assert app_client.get("/v1/loyalty/programs/later/draw", headers=writer).status_code == 404
    wrong = app_client.get(
        "/v1/loyalty/programs/later/settlement",
        params={"start": now.isoformat(), "end": (now + timedelta(days=1)).isoformat()},
        headers=admin,
    )
    assert wrong.status_code == 422
    assert "not coalition" in wrong.json()["detail"]
    assert app_client.get("/v1/loyalty/programs/nope/draw", headers=writer).status_code == 404
