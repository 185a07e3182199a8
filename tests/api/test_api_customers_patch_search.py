"""PATCH /v1/customers/{id} and GET /v1/customers (search, filters, keyset pages)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from regulars.store.session import session_scope
from regulars.store.tables import CustomerScore

Auth = Callable[..., dict[str, str]]


def _create(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/customers", json=fields, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_patch_changes_only_the_fields_sent(client: TestClient, auth: Auth) -> None:
    headers = auth("customers:write", "customers:read")
    _create(
        client,
        headers,
        customer_id="c1",
        name="Anna",
        email="anna@example.com",
        attributes={"vip": True, "tier": "gold"},
        consents=[{"channel": "email", "granted": True, "source": "web"}],
    )
    response = client.patch(
        "/v1/customers/c1",
        json={
            "phone": "+49 30 1234",
            "email": None,
            "attributes": {"tier": None, "shoe_size": 39},
            "consents": [
                {"channel": "email", "granted": False, "source": "unsubscribe"},
                {"channel": "sms", "topic": "service", "granted": True},
            ],
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Anna"  # not sent: unchanged
    assert body["email"] is None  # sent as null: cleared
    assert body["phone"] == "+49 30 1234"
    assert body["attributes"] == {"vip": True, "shoe_size": 39}
    consents = {(c["channel"], c["topic"]): (c["granted"], c["source"]) for c in body["consents"]}
    assert consents == {
        ("email", "marketing"): (False, "unsubscribe"),
        ("sms", "service"): (True, None),
    }
    assert body["updated_at"] > body["created_at"]
    assert client.get("/v1/customers/c1", headers=headers).json() == body


def test_patch_refuses_unknown_fields_and_unknown_customers(client: TestClient, auth: Auth) -> None:
    headers = auth("customers:write")
    _create(client, headers, customer_id="c1")
    refused = client.patch(
        "/v1/customers/c1", json={"colour": "blue", "customer_id": "x"}, headers=headers
    )
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {"colour", "customer_id"}
    missing = client.patch("/v1/customers/nobody", json={"name": "x"}, headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert (
        client.patch("/v1/customers/c1", json={}, headers=auth("customers:read")).status_code == 403
    )


def test_search_filters(client: TestClient, auth: Auth, store_engine: Engine) -> None:
    headers = auth("customers:write", "customers:read")
    _create(
        client,
        headers,
        customer_id="a",
        name="Anna Schmidt",
        email="Anna@Example.com",
        household_id="h1",
    )
    _create(client, headers, customer_id="b", name="Bernd", phone="+49 170 555", household_id="h1")
    _create(client, headers, customer_id="c", name="Carla 100%", email="carla@shop.de")
    with session_scope(store_engine) as session:
        session.add(
            CustomerScore(customer_id="b", segment="Champions", computed_at=datetime.now(UTC))
        )

    def ids(**params: Any) -> list[str]:
        response = client.get("/v1/customers", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [c["customer_id"] for c in response.json()["items"]]

    assert ids() == ["a", "b", "c"]
    assert ids(q="ANNA") == ["a"]  # name and email, case-insensitive
    assert ids(q="example.COM") == ["a"]
    assert ids(q="170 5") == ["b"]  # phone
    assert ids(q="100%") == ["c"]  # % is literal, not a wildcard
    assert ids(q="%") == ["c"]
    assert ids(email="anna@example.com") == ["a"]
    assert ids(phone="+49 170 555") == ["b"]
    assert ids(household_id="h1") == ["a", "b"]
    assert ids(segment="Champions") == ["b"]
    assert ids(segment="Champions", household_id="h1", q="bern") == ["b"]
    assert ids(created_since="2000-01-01T00:00:00Z") == ["a", "b", "c"]
    assert ids(updated_since="2199-01-01T00:00:00Z") == []


def test_keyset_pages_cover_everything_once(client: TestClient, auth: Auth) -> None:
    headers = auth("customers:write", "customers:read")
    for i in range(7):
        _create(client, headers, customer_id=f"c{i}")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/customers", params=params, headers=headers).json()
        seen += [c["customer_id"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        _create(client, headers, customer_id=f"late{pages}")  # added while paging
    # 7 customers, then one more after each of the first two pages: 9 in 3 pages of 3;
    # the late ones come last, and nothing is seen twice.
    assert pages == 3
    assert seen == [*(f"c{i}" for i in range(7)), "late1", "late2"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"cursor": "nonsense"}, "cursor"),
        ({"created_since": "2026-01-01T00:00:00"}, "created_since"),
    ],
)
def test_bad_list_parameters_are_422(
    client: TestClient, auth: Auth, params: dict[str, Any], field: str
) -> None:
    response = client.get("/v1/customers", params=params, headers=auth("customers:read"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [(e["in"], e["field"]) for e in response.json()["errors"]] == [("query", field)]


def test_text_no_database_can_store_is_422(client: TestClient, auth: Auth) -> None:
    headers = auth("customers:write", "customers:read")
    bad = client.post("/v1/customers", json={"customer_id": "x", "name": "a\x00b"}, headers=headers)
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["name"]
    nested = client.post(
        "/v1/customers", json={"customer_id": "x", "attributes": {"k": ["\x00"]}}, headers=headers
    )
    assert [e["field"] for e in nested.json()["errors"]] == ["attributes"]
    query = client.get("/v1/customers", params={"q": "a\x00"}, headers=headers)
    assert query.status_code == 422
    assert client.get("/v1/customers/a%00b", headers=headers).status_code == 422
