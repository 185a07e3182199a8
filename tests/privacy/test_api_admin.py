"""/v1/apikeys (list, create, revoke) and /v1/audit (filters, keyset pages), scope admin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from regulars.store.audit import record
from regulars.store.session import session_scope
from regulars.store.tables import AuditEntry

Auth = Callable[..., dict[str, str]]


def test_list_keys_shows_no_secret(client: TestClient, auth: Auth) -> None:
    headers = auth("admin")
    auth("orders:write")
    response = client.get("/v1/apikeys", headers=headers)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [k["scopes"] for k in items] == [["admin"], ["orders:write"]]
    assert set(items[0]) == {"name", "prefix", "scopes", "created_at", "revoked_at"}
    secret = headers["Authorization"].split("_", 2)[2]
    assert secret not in response.text


def test_revoked_key_gets_401_and_revocation_is_audited_once(
    client: TestClient, auth: Auth, store_engine: Engine
) -> None:
    admin = auth("admin")
    created = client.post(
        "/v1/apikeys", json={"name": "pos", "scopes": ["orders:write"]}, headers=admin
    )
    assert created.status_code == 201, created.text
    key, prefix = created.json()["key"], created.json()["prefix"]
    other = {"Authorization": f"Bearer {key}"}
    assert client.post("/v1/orders", json={}, headers=other).status_code == 422  # works

    assert client.delete(f"/v1/apikeys/{prefix}", headers=admin).status_code == 204
    assert client.post("/v1/orders", json={}, headers=other).status_code == 401
    assert client.delete(f"/v1/apikeys/{prefix}", headers=admin).status_code == 204  # no-op
    listed = {k["prefix"]: k for k in client.get("/v1/apikeys", headers=admin).json()["items"]}
    assert listed[prefix]["revoked_at"] is not None

    with session_scope(store_engine) as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    admin_prefix = admin["Authorization"].split("_")[1]
    assert [(e.actor, e.action, e.target_id) for e in entries] == [
        (f"apikey:{admin_prefix}", "apikey.create", prefix),
        (f"apikey:{admin_prefix}", "apikey.revoke", prefix),
    ]
    assert key.split("_", 2)[2] not in str(entries[0].details)


def test_revoking_an_unknown_key_is_404(client: TestClient, auth: Auth) -> None:
    response = client.delete("/v1/apikeys/ffffffffffff", headers=auth("admin"))
    assert response.status_code == 404
    assert response.json()["type"] == "urn:regulars:problem:not-found"


def test_creating_a_key_with_an_unknown_scope_is_422(client: TestClient, auth: Auth) -> None:
    response = client.post(
        "/v1/apikeys", json={"name": "x", "scopes": ["root"]}, headers=auth("admin")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "scopes"


def test_key_administration_needs_admin(client: TestClient, auth: Auth) -> None:
    headers = auth("customers:read", "customers:write", "orders:write", "privacy:admin")
    assert client.get("/v1/apikeys", headers=headers).status_code == 403
    assert client.delete("/v1/apikeys/abc", headers=headers).status_code == 403
    assert client.post("/v1/apikeys", json={}, headers=headers).status_code in (403, 422)


def _entries(engine: Engine, count: int) -> None:
    with session_scope(engine) as session:
        for i in range(count):
            action = "apikey.revoke" if i % 2 else "customer.erase"
            kind = "api_key" if i % 2 else "customer"
            record(session, actor="cli", action=action, target_type=kind, target_id=str(i))


def test_audit_pages_newest_first_with_an_opaque_cursor(
    client: TestClient, auth: Auth, store_engine: Engine
) -> None:
    headers = auth("admin")
    _entries(store_engine, 7)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/v1/audit", params=params, headers=headers).json()
        seen += [e["target_id"] for e in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["6", "5", "4", "3", "2", "1", "0"]
    assert pages == 3


def test_audit_filters(client: TestClient, auth: Auth, store_engine: Engine) -> None:
    headers = auth("admin")
    _entries(store_engine, 6)
    erased = client.get("/v1/audit", params={"action": "customer.erase"}, headers=headers)
    assert [e["target_id"] for e in erased.json()["items"]] == ["4", "2", "0"]
    keys = client.get("/v1/audit", params={"target_type": "api_key", "limit": 2}, headers=headers)
    assert [e["target_id"] for e in keys.json()["items"]] == ["5", "3"]
    assert keys.json()["next_cursor"] is not None
    old = datetime(2020, 1, 1, tzinfo=UTC)
    with store_engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id <= 3).values(occurred_at=old))
    since = (old + timedelta(days=1)).isoformat()
    recent = client.get("/v1/audit", params={"since": since}, headers=headers).json()
    assert [e["target_id"] for e in recent["items"]] == ["5", "4", "3"]
    assert recent["items"][0]["occurred_at"].endswith("Z")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJiZWZvcmUiOiJ4In0"}, "cursor"),  # {"before":"x"}
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"since": "2026-01-01T00:00:00"}, "since"),  # no time zone
    ],
)
def test_audit_bad_query_is_422_naming_the_field(
    client: TestClient, auth: Auth, params: dict[str, object], field: str
) -> None:
    response = client.get("/v1/audit", params=params, headers=auth("admin"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
