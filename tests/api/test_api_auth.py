"""Authentication (401) and scopes (403), answered as problem details."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from regulars.api.keys import create_api_key
from regulars.errors import RegularsError
from regulars.store.tables import ApiKey

Auth = Callable[..., dict[str, str]]


def _is_problem(response_json: dict[str, object], status: int) -> None:
    assert response_json["status"] == status
    assert {"type", "title", "status", "detail"} <= set(response_json)


def test_no_key_is_401_problem(client: TestClient) -> None:
    response = client.get("/v1/customers/c1")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    _is_problem(response.json(), 401)


@pytest.mark.parametrize(
    "token",
    ["nonsense", "rg_abc", "rg__x", "rg_000000000000_wrongsecret", "Basic abc"],
)
def test_invalid_key_is_401(client: TestClient, auth: Auth, token: str) -> None:
    auth("admin")  # a real key exists, but not this one
    response = client.get("/v1/customers/c1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    _is_problem(response.json(), 401)


def test_right_prefix_wrong_secret_is_401(client: TestClient, auth: Auth) -> None:
    token = auth("admin")["Authorization"].removeprefix("Bearer ")
    prefix = "_".join(token.split("_", 2)[:2])
    response = client.get("/v1/customers/c1", headers={"Authorization": f"Bearer {prefix}_x"})
    assert response.status_code == 401


def test_revoked_key_is_401(client: TestClient, store_engine: Engine) -> None:
    row, key = create_api_key(store_engine, "old", ["admin"])
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/customers/nobody", headers=headers).status_code == 404
    with store_engine.begin() as conn:
        conn.execute(update(ApiKey).where(ApiKey.id == row.id).values(revoked_at=datetime.now(UTC)))
    assert client.get("/v1/customers/nobody", headers=headers).status_code == 401


def test_missing_scope_is_403(client: TestClient, auth: Auth) -> None:
    response = client.get("/v1/customers/c1", headers=auth("orders:write"))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    _is_problem(body, 403)
    assert body["scope"] == "customers:read"
    denied = client.post("/v1/orders", json={}, headers=auth("customers:read"))
    assert denied.status_code == 403  # scopes are checked before the body


def test_admin_implies_every_scope(client: TestClient, auth: Auth) -> None:
    assert client.get("/v1/customers/c1", headers=auth("admin")).status_code == 404
    assert client.get("/v1/customers/c1", headers=auth("customers:read")).status_code == 404


def test_unknown_scope_is_refused(store_engine: Engine) -> None:
    with pytest.raises(RegularsError, match="unknown scope"):
        create_api_key(store_engine, "x", ["orders:delete"])
    with pytest.raises(RegularsError, match="at least one"):
        create_api_key(store_engine, "x", "")


def test_cors_is_off(client: TestClient, auth: Auth) -> None:
    response = client.get(
        "/v1/customers/c1", headers={**auth("admin"), "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in response.headers
