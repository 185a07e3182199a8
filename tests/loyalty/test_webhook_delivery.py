"""Webhook fan-out from each endpoint's watermark, and delivery in concurrent batches
bounded by time (httpx MockTransport; nothing leaves the process)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import httpx
import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import T0
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.loyalty.tables import LoyaltyDelivery, LoyaltyWebhookEndpoint
from regulars.loyalty.webhooks import add_endpoint, deliver_due, emit, fan_out
from regulars.store.session import session_scope


class Receiver:
    """Answers 200 (after ``delay_s``) and counts the event ids it got, thread-safely."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.ids: Counter[str] = Counter()
        self.paths: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self.delay_s)
        with self._lock:
            self.ids[json.loads(request.content)["id"]] += 1
            self.paths[request.url.path] += 1
        return httpx.Response(200)


def _emit(engine: Engine, kind: str, *keys: str) -> None:
    with session_scope(engine) as session:
        for key in keys:
            emit(session, kind, key, {"key": key})


def _postgres_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")


def _watermark(session: Session, endpoint_id: int) -> int:
    session.expire_all()
    return session.get_one(LoyaltyWebhookEndpoint, endpoint_id).last_event_id


def _deliveries(session: Session, endpoint_id: int) -> int:
    query = select(func.count()).where(LoyaltyDelivery.endpoint_id == endpoint_id)
    return session.scalar(query) or 0


def test_fan_out_reads_only_events_after_the_watermark(
    store_engine: Engine, session: Session
) -> None:
    """Events 1–3 (two tier_changed, one points_expiring); 'all' gets 3 deliveries,
    'tiers' 2, and both watermarks move to 3 (past the kind 'tiers' ignores). Event 4
    then gives 'all' one more and 'tiers' none; a rerun gives nothing."""
    everything, _ = add_endpoint(session, "http://127.0.0.1:9/all")
    tiers, _ = add_endpoint(session, "http://127.0.0.1:9/tiers", kinds=["tier_changed"])
    session.commit()
    _emit(store_engine, "tier_changed", "t1", "t2")
    _emit(store_engine, "points_expiring", "w1")
    assert fan_out(store_engine, T0) == 3 + 2
    assert (_watermark(session, everything), _watermark(session, tiers)) == (3, 3)
    _emit(store_engine, "points_expiring", "w2")
    assert fan_out(store_engine, T0) == 1
    assert fan_out(store_engine, T0) == 0
    assert (_deliveries(session, everything), _deliveries(session, tiers)) == (4, 2)
    assert _watermark(session, tiers) == 4


def test_endpoint_added_later_gets_events_from_its_creation_on(
    store_engine: Engine, session: Session
) -> None:
    _emit(store_engine, "tier_changed", "before-1", "before-2")
    late, _ = add_endpoint(session, "http://127.0.0.1:9/late")
    session.commit()
    assert _watermark(session, late) == 2
    _emit(store_engine, "tier_changed", "after")
    receiver = Receiver()
    client = httpx.Client(transport=httpx.MockTransport(receiver))
    assert deliver_due(store_engine, client, now=T0).delivered == 1
    assert receiver.ids == Counter({"after": 1})


def test_inactive_endpoint_keeps_its_watermark(store_engine: Engine, session: Session) -> None:
    """Deactivated, the endpoint misses nothing: reactivated it gets the backlog."""
    paused, _ = add_endpoint(session, "http://127.0.0.1:9/paused")
    session.commit()
    session.get_one(LoyaltyWebhookEndpoint, paused).active = False
    session.commit()
    _emit(store_engine, "tier_changed", "a", "b")
    assert fan_out(store_engine, T0) == 0
    assert _watermark(session, paused) == 0
    session.get_one(LoyaltyWebhookEndpoint, paused).active = True
    session.commit()
    assert fan_out(store_engine, T0) == 2


def test_batches_deliver_everything_once(store_engine: Engine, session: Session) -> None:
    """450 events to two endpoints = 900 deliveries in batches of 100, 8 at a time: all
    delivered in one run, each event once per endpoint; a second run sends nothing."""
    add_endpoint(session, "http://127.0.0.1:9/a")
    add_endpoint(session, "http://127.0.0.1:9/b")
    session.commit()
    _emit(store_engine, "points_expired", *(f"e{i}" for i in range(450)))
    receiver = Receiver()
    client = httpx.Client(transport=httpx.MockTransport(receiver))
    report = deliver_due(store_engine, client, now=T0, batch_size=100, concurrency=8)
    assert (report.delivered, report.retrying, report.failed) == (900, 0, 0)
    assert set(receiver.ids.values()) == {2}
    assert len(receiver.ids) == 450
    assert receiver.paths == Counter({"/a": 450, "/b": 450})
    assert deliver_due(store_engine, client, now=T0).delivered == 0


def test_a_run_is_bounded_by_its_time_budget(store_engine: Engine, session: Session) -> None:
    """With no time budget the run stops after its first batch (the budget is checked
    between batches); the next run goes on where it stopped."""
    add_endpoint(session, "http://127.0.0.1:9/a")
    session.commit()
    _emit(store_engine, "points_expired", *(f"e{i}" for i in range(25)))
    client = httpx.Client(transport=httpx.MockTransport(Receiver()))
    assert deliver_due(store_engine, client, now=T0, batch_size=10, budget_s=0).delivered == 10
    assert deliver_due(store_engine, client, now=T0, batch_size=10).delivered == 15


def test_horizon_waits_for_an_event_in_flight(store_engine: Engine, session: Session) -> None:
    """PostgreSQL draws ids before commit: event 1 in an open transaction, event 2
    committed. Fanning out to 2 would skip 1 for good once it commits, so the fan-out
    passes nothing while 1 is in flight, then both. (SQLite has one writer: no such gap.)"""
    _postgres_only(store_engine)
    endpoint, _ = add_endpoint(session, "http://127.0.0.1:9/a")
    session.commit()
    with session_scope(store_engine) as open_transaction:
        emit(open_transaction, "tier_changed", "slow", {})
        open_transaction.flush()
        _emit(store_engine, "tier_changed", "fast")
        assert fan_out(store_engine, T0) == 0
        assert _watermark(session, endpoint) == 0
    assert fan_out(store_engine, T0) == 2
    assert _watermark(session, endpoint) == 2


def test_concurrent_runs_never_send_one_delivery_twice(
    store_engine: Engine, session: Session
) -> None:
    """Two runs at once on PostgreSQL (claims SKIP LOCKED): 300 deliveries, each sent
    exactly once between them. (On SQLite a second runner may repeat POSTs.)"""
    _postgres_only(store_engine)
    add_endpoint(session, "http://127.0.0.1:9/a")
    session.commit()
    _emit(store_engine, "points_expired", *(f"e{i}" for i in range(300)))
    fan_out(store_engine, T0)
    receiver = Receiver(delay_s=0.002)
    client = httpx.Client(transport=httpx.MockTransport(receiver))
    delivered: list[int] = []

    def run() -> None:
        report = deliver_due(store_engine, client, now=T0, batch_size=20, concurrency=4)
        delivered.append(report.delivered)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(delivered) == 300
    assert len(receiver.ids) == 300
    assert set(receiver.ids.values()) == {1}


def test_webhook_endpoints_through_the_api(store_engine: Engine) -> None:
    """Register (admin only; the secret is shown once), list without secrets, refuse an
    unknown kind, deactivate (404 for an unknown id)."""
    with TestClient(create_app(store_engine)) as client:
        _row, admin = create_api_key(store_engine, "admin", ["admin"])
        _row, writer = create_api_key(store_engine, "pos", ["loyalty:write"])
        as_admin = {"Authorization": f"Bearer {admin}"}
        body = {"url": "https://hooks.example.com/loyalty", "kinds": ["tier_changed"]}
        refused = client.post(
            "/v1/loyalty/webhooks", json=body, headers={"Authorization": f"Bearer {writer}"}
        )
        assert refused.status_code == 403
        created = client.post("/v1/loyalty/webhooks", json=body, headers=as_admin)
        assert created.status_code == 201, created.text
        endpoint = created.json()
        assert (endpoint["kinds"], endpoint["active"]) == (["tier_changed"], True)
        assert len(endpoint["secret"]) >= 32
        listed = client.get("/v1/loyalty/webhooks", headers=as_admin).json()
        assert [(e["endpoint_id"], e["secret"]) for e in listed] == [
            (endpoint["endpoint_id"], None)
        ]
        wrong = client.post(
            "/v1/loyalty/webhooks", json={**body, "kinds": ["points_wobbled"]}, headers=as_admin
        )
        assert wrong.status_code == 422
        assert "points_wobbled" in wrong.json()["detail"]
        gone = client.delete(f"/v1/loyalty/webhooks/{endpoint['endpoint_id']}", headers=as_admin)
        assert gone.status_code == 204
        assert client.get("/v1/loyalty/webhooks", headers=as_admin).json()[0]["active"] is False
        assert client.delete("/v1/loyalty/webhooks/999", headers=as_admin).status_code == 404
