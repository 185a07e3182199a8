"""``PATCH /v1/loyalty/programs/{code}``: what changes, what never does, the audit entry,
and that points already earned keep their lots."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import add_order
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.tables import LoyaltyLot
from regulars.store.tables import AuditEntry

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
        assert test_client.post("/v1/loyalty/programs", json=PROGRAM).status_code == 201
        yield test_client


def _patch(client: TestClient, body: dict[str, Any], code: str = "stars") -> Any:
    return client.patch(f"/v1/loyalty/programs/{code}", json=body)


def test_a_rate_changes_and_is_audited_with_old_and_new(
    client: TestClient, store_engine: Engine
) -> None:
    answer = _patch(client, {"name": "Gold stars", "config": {"earn_per_unit": "2"}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["name"], body["config"]["earn_per_unit"]) == ("Gold stars", "2")
    assert body["config"]["point_value"] == "0.01"  # a key not given keeps its value
    with Session(store_engine) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "loyalty.program.update")
        ).one()
    assert entry.actor.startswith("apikey:")
    assert entry.target_id == "stars"
    assert entry.details["changed"]["config.earn_per_unit"] == ["1", "2"]
    assert entry.details["changed"]["name"] == ["Stars", "Gold stars"]


def test_nothing_changed_records_nothing(client: TestClient, store_engine: Engine) -> None:
    assert _patch(client, {"config": {"earn_per_unit": "1.0"}}).status_code == 200
    with Session(store_engine) as session:
        found = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "loyalty.program.update")
        ).all()
    assert found == []


def test_a_bad_config_names_the_field(client: TestClient) -> None:
    answer = _patch(client, {"config": {"earn_per_unit": "-1"}})
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["config.earn_per_unit"]
    crossed = _patch(client, {"config": {"expiry_days": 5, "pending_days": 10}})
    assert crossed.status_code == 422
    assert "expiry_days must be more than pending_days" in crossed.text


def test_type_and_code_never_change_and_a_started_program_keeps_its_ground(
    client: TestClient,
) -> None:
    assert _patch(client, {"type": "tiers"}).status_code == 422  # not a field of the body
    assert _patch(client, {"code": "other"}).status_code == 422
    assert _patch(client, {"config": {"type": "tiers"}}).status_code == 422
    held = _patch(client, {"config": {"control_share": "0.1"}})
    assert held.status_code == 422
    assert "control_share cannot change" in held.json()["detail"]
    assert _patch(client, {"currency": "USD"}).status_code == 422
    assert _patch(client, {"shared_household": True}).status_code == 422
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert "in the future" in _patch(client, {"ends_at": past}).json()["detail"]


def test_a_planned_end_is_set_and_removed(client: TestClient) -> None:
    later = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    assert _patch(client, {"ends_at": later.isoformat()}).json()["ends_at"] is not None
    assert _patch(client, {"ends_at": None}).json()["ends_at"] is None


def test_unknown_is_404_and_ended_is_409(client: TestClient) -> None:
    assert _patch(client, {"name": "x"}, code="nope").status_code == 404
    assert client.post("/v1/loyalty/programs/stars/end").status_code == 200
    ended = _patch(client, {"name": "x"})
    assert ended.status_code == 409
    assert "has ended" in ended.json()["detail"]


def test_points_already_earned_stay(client: TestClient, store_engine: Engine) -> None:
    with Session(store_engine) as session:
        on_order_recorded(session, add_order(session, "A1", "ann", "100.00", at=datetime.now(UTC)))
        session.commit()
    before = client.get("/v1/loyalty/accounts/ann").json()["balance"]
    assert before == 100
    assert _patch(client, {"config": {"earn_per_unit": "5", "expiry_days": 30}}).status_code == 200
    assert client.get("/v1/loyalty/accounts/ann").json()["balance"] == 100
    with Session(store_engine) as session:
        lot = session.scalars(select(LoyaltyLot)).one()
    assert lot.expires_at is not None
    assert lot.expires_at > datetime.now(UTC) + timedelta(days=300)  # the 365 days it got


def test_a_reader_may_not_patch(client: TestClient, store_engine: Engine) -> None:
    _row, reader = create_api_key(store_engine, "reader", ["loyalty:read"])
    answer = client.patch(
        "/v1/loyalty/programs/stars",
        json={"name": "x"},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert answer.status_code == 403
