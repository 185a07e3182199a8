"""POST /v1/events and GET /v1/customers/{id}/events; events in the Customer 360."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient

Auth = Callable[..., dict[str, str]]

EVENT: dict[str, Any] = {
    "customer_id": "c-1",
    "kind": "viewed",
    "sku": "TEA-1",
    "occurred_at": "2026-03-01T10:00:00+01:00",
    "payload": {"page": "/tea/green", "ms": 1200},
}


def test_an_event_creates_its_customer_and_a_retry_is_a_replay(
    client: TestClient, auth: Auth
) -> None:
    headers = auth("events:write", "customers:read")
    first = client.post("/v1/events", json=EVENT, headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["occurred_at"] == "2026-03-01T09:00:00Z"
    assert body["payload"] == EVENT["payload"]
    again = client.post("/v1/events", json=EVENT, headers=headers)
    assert (again.status_code, again.json()) == (200, body)
    other_payload = client.post(
        "/v1/events", json={**EVENT, "payload": {"page": "/"}}, headers=headers
    )
    assert other_payload.status_code == 201
    customer = client.get("/v1/customers/c-1", headers=headers).json()
    assert customer["name"] is None  # created bare
    assert len(customer["recent_events"]) == 2


def test_concurrent_retries_store_one_event(client: TestClient, auth: Auth) -> None:
    headers = auth("events:write", "customers:read", "customers:write")
    # The customer exists, so inserting it (bare) does not serialize the requests.
    assert (
        client.post("/v1/customers", json={"customer_id": "c-1"}, headers=headers).status_code
        == 201
    )
    barrier = threading.Barrier(8)

    def post(_: int) -> int:
        barrier.wait()
        return client.post("/v1/events", json=EVENT, headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(post, range(8)))
    assert statuses == [200] * 7 + [201]
    events = client.get("/v1/customers/c-1/events", headers=headers).json()["items"]
    assert len(events) == 1


def test_customer_events_are_paged_in_recording_order(client: TestClient, auth: Auth) -> None:
    headers = auth("events:write", "customers:read")
    for day in (3, 1, 2):
        event = {**EVENT, "occurred_at": f"2026-03-0{day}T10:00:00Z"}
        assert client.post("/v1/events", json=event, headers=headers).status_code == 201
    page = client.get("/v1/customers/c-1/events", params={"limit": 2}, headers=headers).json()
    rest = client.get(
        "/v1/customers/c-1/events",
        params={"limit": 2, "cursor": page["next_cursor"]},
        headers=headers,
    ).json()
    days = [e["occurred_at"][8:10] for e in page["items"] + rest["items"]]
    assert days == ["03", "01", "02"]
    assert rest["next_cursor"] is None
    newest_first = client.get("/v1/customers/c-1", headers=headers).json()["recent_events"]
    assert [e["occurred_at"][8:10] for e in newest_first] == ["03", "02", "01"]
    assert client.get("/v1/customers/nobody/events", headers=headers).status_code == 404


def test_event_errors(client: TestClient, auth: Auth) -> None:
    headers = auth("events:write")
    bad = client.post(
        "/v1/events",
        json={"customer_id": "", "kind": "x" * 33, "occurred_at": "soon"},
        headers=headers,
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"customer_id", "kind", "occurred_at"}
    nan = client.post(
        "/v1/events",
        content=b'{"customer_id": "c", "kind": "viewed", '
        b'"occurred_at": "2026-03-01T00:00:00Z", "payload": {"x": NaN}}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert nan.status_code == 422
    assert nan.json()["errors"][0]["field"] == "payload"
    assert client.post("/v1/events", json=EVENT, headers=auth("customers:write")).status_code == 403
