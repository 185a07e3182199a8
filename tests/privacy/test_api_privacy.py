"""GET /v1/customers/{id}/export and DELETE /v1/customers/{id} (scope privacy:admin)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from regulars.privacy import pseudonym
from regulars.store.session import session_scope
from regulars.store.tables import AuditEntry

Auth = Callable[..., dict[str, str]]


def _prefix(headers: dict[str, str]) -> str:
    return headers["Authorization"].split("_")[1]


def test_export_returns_every_table_and_is_audited(
    client: TestClient, auth: Auth, anna: dict[str, str], store_engine: Engine, secret: bytes
) -> None:
    headers = auth("privacy:admin")
    response = client.get(f"/v1/customers/{anna['customer_id']}/export", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer_id"] == anna["customer_id"]
    assert body["tables"]["orders"][0]["amount"] == "59.80"
    assert len(body["tables"]["order_lines"]) == 2
    with session_scope(store_engine) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "customer.export")
        ).one()
    assert entry.actor == f"apikey:{_prefix(headers)}"
    assert entry.target_id == pseudonym(secret, anna["customer_id"])


def test_erase_is_204_then_the_customer_is_gone(
    client: TestClient, auth: Auth, anna: dict[str, str], store_engine: Engine, secret: bytes
) -> None:
    headers = auth("admin")
    path = f"/v1/customers/{anna['customer_id']}"
    response = client.delete(path, headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(path, headers=headers).status_code == 404
    assert client.get(f"{path}/export", headers=headers).status_code == 404
    again = client.delete(path, headers=headers)
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"
    with session_scope(store_engine) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "customer.erase")
        ).one()
    assert entry.actor == f"apikey:{_prefix(headers)}"
    assert entry.target_id == pseudonym(secret, anna["customer_id"])


def test_privacy_endpoints_need_the_privacy_scope(
    client: TestClient, auth: Auth, anna: dict[str, str]
) -> None:
    path = f"/v1/customers/{anna['customer_id']}"
    reader = auth("customers:read", "customers:write", "orders:write")
    assert client.get(f"{path}/export", headers=reader).status_code == 403
    refused = client.delete(path, headers=reader)
    assert refused.status_code == 403
    assert refused.json()["scope"] == "privacy:admin"
    assert client.delete(path).status_code == 401
    assert client.get(path, headers=reader).status_code == 200  # still there


def test_privacy_admin_cannot_administer_keys(client: TestClient, auth: Auth) -> None:
    headers = auth("privacy:admin")
    assert client.get("/v1/apikeys", headers=headers).status_code == 403
    assert client.get("/v1/audit", headers=headers).status_code == 403


def test_unknown_customer_is_404(client: TestClient, auth: Auth) -> None:
    headers = auth("admin")
    response = client.get("/v1/customers/nobody/export", headers=headers)
    assert response.status_code == 404
    assert response.json()["type"] == "urn:regulars:problem:not-found"
