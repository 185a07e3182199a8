"""POST /v1/customers/{id}/merge: everything moves to the survivor, the old id becomes an
alias, the merge is audited, and merging again answers the same."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from regulars.api.services.customers import MERGE_RULES
from regulars.store.session import session_scope
from regulars.store.tables import AuditEntry, Consent, Customer, CustomerAlias, CustomerScore, Event

Auth = Callable[..., dict[str, str]]


def _post(client: TestClient, path: str, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def _setup(client: TestClient, headers: dict[str, str], store_engine: Engine) -> None:
    _post(
        client,
        "/v1/customers",
        {
            "customer_id": "anna",
            "name": "Anna",
            "attributes": {"vip": True, "size": "M"},
            "consents": [
                {"channel": "email", "granted": True},
                {"channel": "sms", "granted": True},
            ],
        },
        headers,
    )
    _post(
        client,
        "/v1/customers",
        {
            "customer_id": "anna-old",
            "name": "Anna Alt",
            "email": "anna@example.com",
            "birthday": "1990-05-17",
            "attributes": {"size": "L", "newsletter": "weekly"},
            "consents": [
                {"channel": "email", "granted": False},
                {"channel": "push", "granted": True},
            ],
        },
        headers,
    )
    order = {
        "order_id": "o-1",
        "customer_id": "anna-old",
        "ordered_at": "2026-01-05T09:00:00Z",
        "amount": "30.00",
    }
    _post(client, "/v1/orders", order, headers)
    _post(
        client,
        "/v1/returns",
        {
            "return_id": "r-1",
            "order_id": "o-1",
            "returned_at": "2026-01-09T09:00:00Z",
            "amount": "10.00",
        },
        headers,
    )
    _post(
        client,
        "/v1/events",
        {"customer_id": "anna-old", "kind": "viewed", "occurred_at": "2026-01-02T09:00:00Z"},
        headers,
    )
    with session_scope(store_engine) as session:
        session.add(
            CustomerScore(customer_id="anna-old", segment="At risk", computed_at=datetime.now(UTC))
        )
        # anna-old's email consent is the newer one; anna's sms stays anna's.
        session.execute(
            update(Consent)
            .where(Consent.customer_id == "anna")
            .values(updated_at=datetime(2026, 1, 1, tzinfo=UTC))
        )
        session.execute(
            update(Consent)
            .where(Consent.customer_id == "anna-old")
            .values(updated_at=datetime(2026, 2, 1, tzinfo=UTC))
        )


def test_merge_moves_everything_and_leaves_an_alias(
    client: TestClient, auth: Auth, store_engine: Engine
) -> None:
    headers = auth("admin")
    _setup(client, headers, store_engine)
    merged = _post(client, "/v1/customers/anna/merge", {"duplicate_id": "anna-old"}, headers)

    assert merged["customer_id"] == "anna"
    assert merged["aliases"] == ["anna-old"]
    assert merged["name"] == "Anna"  # the survivor's own value stays
    assert merged["email"] == "anna@example.com"  # empty fields filled from the duplicate
    assert merged["birthday"] == "1990-05-17"
    assert merged["attributes"] == {"vip": True, "size": "M", "newsletter": "weekly"}
    consents = {c["channel"]: c["granted"] for c in merged["consents"]}
    assert consents == {"email": False, "sms": True, "push": True}  # newer email consent won
    assert [o["order_id"] for o in merged["recent_orders"]] == ["o-1"]
    assert merged["recent_orders"][0]["customer_id"] == "anna"
    assert [r["return_id"] for r in merged["returns"]] == ["r-1"]
    assert merged["returns"][0]["customer_id"] == "anna"
    assert [e["kind"] for e in merged["recent_events"]] == ["viewed"]
    assert merged["purchases"]["revenue"] == "20.00"
    assert merged["scores"] is None  # the duplicate's scores go; anna had none

    with session_scope(store_engine) as session:
        assert session.scalar(select(Customer).where(Customer.customer_id == "anna-old")) is None
        assert session.scalar(select(CustomerScore.id)) is None
        assert session.scalar(select(Consent.id).where(Consent.customer_id == "anna-old")) is None
        alias = session.scalars(select(CustomerAlias)).one()
        assert (alias.alias_id, alias.customer_id) == ("anna-old", "anna")
        entry = session.scalars(select(AuditEntry)).one()
        assert entry.action == "customer.merge"
        assert entry.actor.startswith("apikey:")
        assert entry.actor.removeprefix("apikey:") in headers["Authorization"]
        assert (entry.target_type, entry.target_id) == ("customer", "anna")
        assert entry.details["duplicate_id"] == "anna-old"
        assert entry.details["orders"] == 1


def test_the_old_id_answers_with_the_survivor_and_later_writes_land_there(
    client: TestClient, auth: Auth, store_engine: Engine
) -> None:
    headers = auth("admin")
    _setup(client, headers, store_engine)
    _post(client, "/v1/customers/anna/merge", {"duplicate_id": "anna-old"}, headers)

    old = client.get("/v1/customers/anna-old", headers=headers)
    assert old.status_code == 200
    assert old.json()["customer_id"] == "anna"
    assert old.headers["content-location"] == "/v1/customers/anna"

    order = {
        "order_id": "o-2",
        "customer_id": "anna-old",
        "ordered_at": "2026-03-01T09:00:00Z",
        "amount": "5.00",
    }
    assert client.post("/v1/orders", json=order, headers=headers).json()["customer_id"] == "anna"
    # The first order, posted under the old id before the merge, is still a replay.
    first = {
        "order_id": "o-1",
        "customer_id": "anna-old",
        "ordered_at": "2026-01-05T09:00:00Z",
        "amount": "30.00",
        "refunded_amount": "10.00",
        "status": "partially_refunded",
    }
    assert client.post("/v1/orders", json=first, headers=headers).status_code == 200
    event = {"customer_id": "anna-old", "kind": "wished", "occurred_at": "2026-03-02T09:00:00Z"}
    assert client.post("/v1/events", json=event, headers=headers).json()["customer_id"] == "anna"
    events = client.get("/v1/customers/anna-old/events", headers=headers).json()
    assert [e["kind"] for e in events["items"]] == ["viewed", "wished"]
    listed = client.get("/v1/orders", params={"customer_id": "anna-old"}, headers=headers).json()
    assert [o["order_id"] for o in listed["items"]] == ["o-1", "o-2"]
    with session_scope(store_engine) as session:
        assert session.scalar(select(Customer.id).where(Customer.customer_id == "anna-old")) is None
        assert {e.customer_id for e in session.scalars(select(Event))} == {"anna"}
    again = client.post("/v1/customers", json={"customer_id": "anna-old"}, headers=headers)
    assert again.status_code == 409
    assert "merged into 'anna'" in again.json()["detail"]


def test_merging_again_answers_the_same(
    client: TestClient, auth: Auth, store_engine: Engine
) -> None:
    headers = auth("admin")
    _setup(client, headers, store_engine)
    first = _post(client, "/v1/customers/anna/merge", {"duplicate_id": "anna-old"}, headers)
    again = client.post(
        "/v1/customers/anna/merge", json={"duplicate_id": "anna-old"}, headers=headers
    )
    assert again.status_code == 200
    assert again.json() == first
    with session_scope(store_engine) as session:
        assert len(session.scalars(select(AuditEntry)).all()) == 1


def test_merge_errors(client: TestClient, auth: Auth, store_engine: Engine) -> None:
    headers = auth("admin")
    for cid in ("a", "b", "c"):
        _post(client, "/v1/customers", {"customer_id": cid}, headers)
    itself = client.post("/v1/customers/a/merge", json={"duplicate_id": "a"}, headers=headers)
    assert itself.status_code == 422
    assert itself.json()["errors"][0]["field"] == "duplicate_id"
    assert (
        client.post(
            "/v1/customers/a/merge", json={"duplicate_id": "zz"}, headers=headers
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/v1/customers/zz/merge", json={"duplicate_id": "a"}, headers=headers
        ).status_code
        == 404
    )
    _post(client, "/v1/customers/a/merge", {"duplicate_id": "b"}, headers)
    elsewhere = client.post("/v1/customers/c/merge", json={"duplicate_id": "b"}, headers=headers)
    assert elsewhere.status_code == 409
    assert "already merged into 'a'" in elsewhere.json()["detail"]
    # Chains: merging a (which holds b's alias) into c moves the alias to c.
    _post(client, "/v1/customers/c/merge", {"duplicate_id": "a"}, headers)
    assert client.get("/v1/customers/b", headers=headers).json()["customer_id"] == "c"
    denied = client.post(
        "/v1/customers/c/merge", json={"duplicate_id": "a"}, headers=auth("customers:read")
    )
    assert denied.status_code == 403


def test_a_failing_merge_changes_nothing(
    client: TestClient, auth: Auth, store_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = auth("admin")
    _setup(client, headers, store_engine)

    def broken(_conn: Any, _survivor: str, _duplicate: str) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(MERGE_RULES, "zz_broken", broken)  # runs after the moves
    with pytest.raises(RuntimeError, match="disk on fire"):
        client.post("/v1/customers/anna/merge", json={"duplicate_id": "anna-old"}, headers=headers)
    old = client.get("/v1/customers/anna-old", headers=headers).json()
    assert old["customer_id"] == "anna-old"
    assert [o["order_id"] for o in old["recent_orders"]] == ["o-1"]
    assert old["scores"] is not None
    with session_scope(store_engine) as session:
        assert session.scalar(select(CustomerAlias.id)) is None
        assert session.scalar(select(AuditEntry.id)) is None
