"""Bad input answers 422 problem details naming each offending field."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from regulars.api import create_app

Auth = Callable[..., dict[str, str]]

ORDER: dict[str, Any] = {
    "order_id": "o-1",
    "customer_id": "c-1",
    "ordered_at": "2026-03-01T10:00:00+01:00",
    "amount": "19.90",
}


def _fields(response: Any) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422
    assert body["type"].endswith("validation-error")
    assert body["title"]
    assert body["detail"]
    for error in body["errors"]:
        assert {"in", "field", "message", "type"} <= set(error)
    return {error["field"] for error in body["errors"]}


def test_customer_field_errors(client: TestClient, auth: Auth) -> None:
    response = client.post(
        "/v1/customers",
        json={"customer_id": "", "birthday": "yesterday", "colour": "blue"},
        headers=auth("customers:write"),
    )
    assert _fields(response) == {"customer_id", "birthday", "colour"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "19.999"}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"ordered_at": "2026-03-01T10:00:00"}, "ordered_at"),  # naive: ambiguous
        ({"status": "shipped"}, "status"),
        ({"refunded_amount": "-1.00"}, "refunded_amount"),
        ({"currency": "EURO"}, "currency"),
        (
            {"lines": [{"quantity": 1, "unit_price": "x", "line_amount": "1.00"}]},
            "lines.0.unit_price",
        ),
    ],
)
def test_order_field_errors(
    client: TestClient, auth: Auth, change: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/orders", json={**ORDER, **change}, headers=auth("orders:write"))
    assert field in _fields(response)


def test_missing_fields_are_named(client: TestClient, auth: Auth) -> None:
    response = client.post("/v1/orders", json={}, headers=auth("orders:write"))
    assert {"order_id", "customer_id", "ordered_at", "amount"} <= _fields(response)


def test_malformed_json(client: TestClient, auth: Auth) -> None:
    response = client.post(
        "/v1/orders",
        content=b"{not json",
        headers={**auth("orders:write"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]


def test_unknown_route_is_a_problem_too(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_oversized_body_is_413_problem(store_engine: Engine, auth: Auth) -> None:
    with TestClient(create_app(store_engine, max_body_size=200)) as small:
        response = small.post(
            "/v1/customers",
            json={"customer_id": "x" * 300},
            headers=auth("customers:write"),
        )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413


def test_oversized_streamed_body_is_413_problem(store_engine: Engine, auth: Auth) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"customer_id": "'
        for _ in range(10):
            yield b"x" * 50
        yield b'"}'

    with TestClient(create_app(store_engine, max_body_size=200)) as small:
        response = small.post(
            "/v1/customers",
            content=chunks(),
            headers={**auth("customers:write"), "Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
