"""``/v1/loyalty`` through HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import add_order
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.loyalty.points.earning import on_order_recorded
from regulars.store.tables import AuditEntry, Base

PROGRAM: dict[str, Any] = {
    "code": "stars",
    "name": "Stars",
    "config": {"earn_per_unit": "1", "point_value": "0.01", "pending_days": 0},
}


@pytest.fixture
def client(store_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(store_engine)) as test_client:
        _row, key = create_api_key(store_engine, "pos", ["loyalty:read", "loyalty:write"])
        test_client.headers["Authorization"] = f"Bearer {key}"
        yield test_client


@pytest.fixture
def funded(client: TestClient, store_engine: Engine) -> TestClient:
    """Program 'stars'; ann earned 100 points on order A1 (no pending period)."""
    assert client.post("/v1/loyalty/programs", json=PROGRAM).status_code == 201
    with Session(store_engine) as session:
        on_order_recorded(session, add_order(session, "A1", "ann", "100.00", at=datetime.now(UTC)))
        session.commit()
    return client


def _redeem(client: TestClient, points: int, key: str, **body: Any) -> Any:
    return client.post(
        "/v1/loyalty/accounts/ann/redeem",
        json={"points": points, **body},
        headers={"Idempotency-Key": key},
    )


def test_create_and_list_programs(client: TestClient) -> None:
    created = client.post("/v1/loyalty/programs", json=PROGRAM)
    assert created.status_code == 201
    assert created.json()["config"]["expiry_days"] == 365  # PointsRules default filled in
    assert client.post("/v1/loyalty/programs", json=PROGRAM).status_code == 409
    assert [p["code"] for p in client.get("/v1/loyalty/programs").json()] == ["stars"]


def test_program_config_errors_name_the_field(client: TestClient) -> None:
    bad = {**PROGRAM, "config": {"earn_per_unit": "-1", "point_value": "0.01"}}
    response = client.post("/v1/loyalty/programs", json=bad)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "config.earn_per_unit"
    # Tiers are a program of their own (type "tiers"): a points config has none.
    tiered = {**PROGRAM, "config": {**PROGRAM["config"], "tiers": []}}
    response = client.post("/v1/loyalty/programs", json=tiered)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "config.tiers"
    unknown = client.post("/v1/loyalty/programs", json={**PROGRAM, "type": "lottery"})
    assert unknown.status_code == 422
    assert "unknown program type" in unknown.json()["detail"]


def test_account_balance_lots_and_history(funded: TestClient) -> None:
    account = funded.get("/v1/loyalty/accounts/ann").json()
    assert (account["program"], account["balance"], account["available"]) == ("stars", 100, 100)
    assert account["lots"][0]["remaining"] == 100
    assert funded.get("/v1/loyalty/accounts/nobody").status_code == 404
    assert funded.get("/v1/loyalty/accounts/ann?program=nope").status_code == 404


def test_redeem_is_idempotent_and_409_when_short(funded: TestClient) -> None:
    first = _redeem(funded, 30, "pay-1", order_id="A2")
    assert first.status_code == 201
    assert first.json() == {
        "entry_id": first.json()["entry_id"],
        "kind": "spend",
        "points": -30,
        "money": "0.30",
        "balance": 70,
    }
    replay = _redeem(funded, 30, "pay-1", order_id="A2")
    assert (replay.status_code, replay.json()) == (200, first.json())
    reused = _redeem(funded, 31, "pay-1")
    assert (reused.status_code, reused.json()["type"]) == (
        409,
        "urn:regulars:problem:idempotency-key-reused",
    )
    short = _redeem(funded, 71, "pay-2")
    assert short.status_code == 409
    assert (short.json()["available"], short.json()["requested"]) == (70, 71)
    # At most 50 % of a 0.50 order: 0.25 = 25 points.
    capped = _redeem(funded, 30, "pay-3", order_amount="0.50")
    assert (capped.status_code, capped.json()["cap"]) == (409, 25)
    assert _redeem(funded, 5, "x" * 201).status_code == 422
    assert funded.post("/v1/loyalty/accounts/ann/redeem", json={"points": 1}).status_code == 422
    assert funded.get("/v1/loyalty/accounts/ann").json()["balance"] == 70


def test_adjust_needs_a_reason_and_is_audited(funded: TestClient, store_engine: Engine) -> None:
    url = "/v1/loyalty/accounts/ann/adjust"
    no_reason = funded.post(url, json={"points": 5}, headers={"Idempotency-Key": "a"})
    assert no_reason.status_code == 422
    credit = funded.post(
        url, json={"points": 5, "reason": "late delivery"}, headers={"Idempotency-Key": "a"}
    )
    assert (credit.status_code, credit.json()["balance"]) == (201, 105)
    debit = funded.post(
        url, json={"points": -200, "reason": "mistake"}, headers={"Idempotency-Key": "b"}
    )
    assert debit.status_code == 409
    with Session(store_engine) as session:
        [audit] = session.scalars(select(AuditEntry).where(AuditEntry.action == "loyalty.adjust"))
        assert audit.actor.startswith("apikey:")
        assert audit.details["reason"] == "late delivery"


def test_entries_are_paged_newest_first(funded: TestClient) -> None:
    for i in range(4):
        assert _redeem(funded, 1, f"k{i}").status_code == 201
    url = "/v1/loyalty/accounts/ann/entries"
    first = funded.get(url, params={"limit": 3}).json()
    assert [e["points"] for e in first["items"]] == [-1, -1, -1]
    rest = funded.get(url, params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [e["kind"] for e in rest["items"]] == ["spend", "earn"]
    assert rest["next_cursor"] is None
    assert funded.get(url, params={"cursor": "x"}).status_code == 422


def _row_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in Base.metadata.tables.items()
        }


def test_quote_writes_nothing(funded: TestClient, store_engine: Engine) -> None:
    before = _row_counts(store_engine)
    body = {
        "customer_id": "ann",
        "amount": "80.00",
        "lines": [{"sku": "TEA", "line_amount": "80.00"}],
    }
    quote = funded.post("/v1/loyalty/quote", json=body).json()
    assert quote == {
        "program": "stars",
        "points_earned": 80,
        "earned_from": [{"kind": "base", "code": None, "points": 80}],
        "tier": None,
        "available": 100,
        "max_redeemable_points": 100,  # 50 % of 80.00 = 40.00 = 4,000 points; balance 100
        "max_redeemable_money": "1.00",
        "programs": [],  # no discount card, tier club or stamp card runs
    }
    newcomer = funded.post("/v1/loyalty/quote", json={**body, "customer_id": "new"}).json()
    assert (newcomer["points_earned"], newcomer["available"]) == (80, 0)
    assert _row_counts(store_engine) == before


def test_opt_out_stops_redemptions(funded: TestClient) -> None:
    out = funded.post("/v1/loyalty/accounts/ann/opt-out", json={}).json()
    assert (out["state"], out["balance"]) == ("opted_out", 100)
    assert _redeem(funded, 1, "o").status_code == 409
    assert funded.post("/v1/loyalty/accounts/ann/enroll", json={}).json()["state"] == "active"
    assert _redeem(funded, 1, "o").status_code == 201


def test_scopes_are_enforced(store_engine: Engine) -> None:
    with TestClient(create_app(store_engine)) as client:
        _row, key = create_api_key(store_engine, "reader", ["loyalty:read"])
        client.headers["Authorization"] = f"Bearer {key}"
        assert client.post("/v1/loyalty/programs", json=PROGRAM).status_code == 403
        assert client.get("/v1/loyalty/programs").status_code == 200


def _cancel(client: TestClient, key: str, customer: str = "ann", **body: Any) -> Any:
    return client.post(f"/v1/loyalty/accounts/{customer}/redemptions/{key}/cancel", json=body)


def test_cancel_a_redemption_by_its_key(funded: TestClient, store_engine: Engine) -> None:
    """100 earned; 30 redeemed under 'pay/A2' (a '/' in the key): 70; cancelled: 100."""
    spent = _redeem(funded, 30, "pay/A2", order_id="A2").json()
    first = _cancel(funded, "pay/A2", reason="payment declined")
    assert first.status_code == 201, first.text
    assert first.json() == {
        "entry_id": first.json()["entry_id"],
        "redemption_entry_id": spent["entry_id"],
        "kind": "cancel_spend",
        "points": 30,
        "expired": 0,
        "clawed_back": 0,
        "money": "0.30",
        "balance": 100,
    }
    retry = funded.post("/v1/loyalty/accounts/ann/redemptions/pay%2FA2/cancel")  # no body
    assert (retry.status_code, retry.json()) == (200, first.json())
    assert funded.get("/v1/loyalty/accounts/ann").json()["balance"] == 100
    entries = funded.get("/v1/loyalty/accounts/ann/entries").json()["items"]
    assert [(e["kind"], e["points"], e["reason"]) for e in entries[:2]] == [
        ("cancel_spend", 30, "payment declined"),
        ("spend", -30, None),
    ]
    with Session(store_engine) as session:
        [audit] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "loyalty.redemption.cancel")
        )
        assert audit.actor.startswith("apikey:")
        assert (audit.details["points"], audit.details["order_id"]) == (30, "A2")


def test_cancel_answers_404_for_what_it_does_not_know(funded: TestClient) -> None:
    assert _redeem(funded, 10, "pay").status_code == 201
    unknown = _cancel(funded, "nope")
    assert (unknown.status_code, unknown.json()["type"]) == (404, "urn:regulars:problem:not-found")
    assert "'nope'" in unknown.json()["detail"]
    assert _cancel(funded, "pay", customer="nobody").status_code == 404
    assert _cancel(funded, "pay", program="other").status_code == 404
    assert _cancel(funded, "pay", reason="").status_code == 422
    assert _cancel(funded, "x" * 201).status_code == 422
    assert funded.get("/v1/loyalty/accounts/ann").json()["balance"] == 90


def test_cancel_is_scoped_to_the_api_key_that_redeemed(
    funded: TestClient, store_engine: Engine
) -> None:
    """Idempotency keys are remembered per API key: another key's 'pay' is not this one."""
    assert _redeem(funded, 10, "pay").status_code == 201
    _row, other = create_api_key(store_engine, "web", ["loyalty:read", "loyalty:write"])
    response = funded.post(
        "/v1/loyalty/accounts/ann/redemptions/pay/cancel",
        headers={"Authorization": f"Bearer {other}"},
    )
    assert response.status_code == 404
    _row, reader = create_api_key(store_engine, "ro", ["loyalty:read"])
    forbidden = funded.post(
        "/v1/loyalty/accounts/ann/redemptions/pay/cancel",
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert forbidden.status_code == 403
    assert _cancel(funded, "pay").status_code == 201


def test_pause_resume_and_end_a_program(client: TestClient, store_engine: Engine) -> None:
    assert client.post("/v1/loyalty/programs", json=PROGRAM).status_code == 201
    paused = client.post("/v1/loyalty/programs/stars/pause")
    assert (paused.status_code, paused.json()["state"]) == (200, "paused")
    assert client.post("/v1/loyalty/programs/stars/pause").json()["state"] == "paused"
    assert client.post("/v1/loyalty/programs/stars/resume").json()["state"] == "running"
    assert client.post("/v1/loyalty/programs/stars/end").json()["state"] == "ended"
    again = client.post("/v1/loyalty/programs/stars/resume")
    assert again.status_code == 409
    assert "has ended" in again.json()["detail"]
    assert client.post("/v1/loyalty/programs/nope/pause").status_code == 404
    with Session(store_engine) as session:
        actions = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.like("loyalty.program.%"))
            .order_by(AuditEntry.id)
        ).all()
    # the repeated pause changed nothing and recorded nothing
    assert actions[-3:] == [
        "loyalty.program.pause",
        "loyalty.program.resume",
        "loyalty.program.end",
    ]
    assert actions.count("loyalty.program.pause") == 1


def test_only_writers_change_a_programs_state(client: TestClient, store_engine: Engine) -> None:
    assert client.post("/v1/loyalty/programs", json=PROGRAM).status_code == 201
    _row, reader = create_api_key(store_engine, "reader", ["loyalty:read"])
    answer = client.post(
        "/v1/loyalty/programs/stars/pause", headers={"Authorization": f"Bearer {reader}"}
    )
    assert answer.status_code == 403
