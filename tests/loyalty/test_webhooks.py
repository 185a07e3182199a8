"""Loyalty events: recorded once, delivered signed to the endpoints subscribed to their
kind, retried with backoff, never re-sent after success (httpx MockTransport; nothing
leaves the process); the nightly expiry's points_expired events."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import httpx
import pytest
from loyalty_helpers import T0, add_order, make_program
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from regulars.errors import RegularsError
from regulars.loyalty.catalogue import ProgramSpec, create_program
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.expiry import emit_expiry_warnings, emit_points_expired, expire_due
from regulars.loyalty.points.redemption import redeem
from regulars.loyalty.tables import LoyaltyDelivery, LoyaltyEvent, LoyaltyWebhookEndpoint
from regulars.loyalty.webhooks import EVENT_KINDS, add_endpoint, deliver_due, emit, subscribed

GOLD = {"code": "vip", "tiers": [{"name": "gold", "threshold": "100", "earn_multiplier": "2"}]}


class Receiver:
    """Answers with the queued status codes (then 200) and keeps what it got."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)


def _gold_customer(session: Session) -> str:
    """A points program and a tier club: A1 (150.00) reaches gold, A2 keeps it."""
    make_program(session)
    create_program(session, ProgramSpec("vip", "VIP", "tiers", GOLD, starts_at=T0 - timedelta(1)))
    on_order_recorded(session, add_order(session, "A1", "ann", "150.00"))
    on_order_recorded(session, add_order(session, "A2", "ann", "10.00", at=T0 + timedelta(1)))
    session.commit()
    return "ann"


def test_tier_change_is_one_event(session: Session) -> None:
    add_endpoint(session, "http://127.0.0.1:9/hook")
    _gold_customer(session)
    kinds = session.scalars(select(LoyaltyEvent.kind)).all()
    assert kinds == ["tier_changed"]  # A2 keeps gold: no second event
    [event] = session.scalars(select(LoyaltyEvent)).all()
    assert (event.payload["from"], event.payload["to"]) == (None, "gold")


def test_signed_delivery_retried_then_never_resent(store_engine: Engine, session: Session) -> None:
    _id, secret = add_endpoint(session, "http://127.0.0.1:9/hook", secret="s3cret")
    session.commit()
    _gold_customer(session)
    receiver = Receiver(500)
    client = httpx.Client(transport=httpx.MockTransport(receiver))
    first = deliver_due(store_engine, client, now=T0)
    assert (first.delivered, first.retrying) == (0, 1)
    assert deliver_due(store_engine, client, now=T0 + timedelta(seconds=10)).retrying == 0
    second = deliver_due(store_engine, client, now=T0 + timedelta(seconds=31))  # backoff 30 s
    assert second.delivered == 1
    assert deliver_due(store_engine, client, now=T0 + timedelta(days=1)).delivered == 0
    assert len(receiver.requests) == 2
    request = receiver.requests[-1]
    timestamp = request.headers["X-Regulars-Timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + request.content, hashlib.sha256
    ).hexdigest()
    assert request.headers["X-Regulars-Signature"] == f"sha256={expected}"
    body = json.loads(request.content)
    assert (body["kind"], body["data"]["to"]) == ("tier_changed", "gold")
    assert secret not in request.content.decode()


def test_failed_after_max_attempts(store_engine: Engine, session: Session) -> None:
    add_endpoint(session, "http://127.0.0.1:9/hook")
    session.commit()
    _gold_customer(session)
    client = httpx.Client(transport=httpx.MockTransport(Receiver(500, 500, 500)))
    now = T0
    for _ in range(3):
        report = deliver_due(store_engine, client, now=now, max_attempts=3)
        now += timedelta(hours=2)
    assert report.failed == 1
    [state] = session.scalars(select(LoyaltyDelivery.state)).all()
    assert state == "failed"


def test_expiry_warnings_once_per_account_and_day(session: Session) -> None:
    """ann's ten orders each make a lot expiring on days 30–39: on day 25 (a week ahead)
    the lots of days 30–32 are due a warning, in one event with their total; a rerun that
    day sends nothing more; the next day one new event with the lots of days 30–33."""
    make_program(session, config={"expiry_days": 30, "pending_days": 0})
    for day in range(10):
        order = add_order(session, f"A{day}", "ann", "10.00", at=T0 + timedelta(days=day))
        on_order_recorded(session, order)
    day25 = T0 + timedelta(days=25, hours=1)
    assert emit_expiry_warnings(session, day25, days=7) == 3
    assert emit_expiry_warnings(session, day25 + timedelta(hours=2), days=7) == 3
    assert emit_expiry_warnings(session, day25 + timedelta(days=1), days=7) == 4
    session.commit()
    events = session.scalars(
        select(LoyaltyEvent).where(LoyaltyEvent.kind == "points_expiring").order_by(LoyaltyEvent.id)
    ).all()
    assert [(e.payload["points"], len(e.payload["lots"])) for e in events] == [(30, 3), (40, 4)]
    assert events[0].payload["expires_at"] == (T0 + timedelta(days=30)).isoformat()


def test_every_kind_recorded_is_one_an_endpoint_can_subscribe_to(session: Session) -> None:
    with pytest.raises(ValueError, match="unknown loyalty event kind"):
        emit(session, "points_wobbled", "k1", {})
    assert {"badge_awarded", "bonus_awarded", "points_expiring"} <= set(EVENT_KINDS)


def _expiring_ledger(session: Session) -> None:
    """Lots live 30 days. ann: A1 earns 10 (T0), A2 5 (T0 + 1 day), she redeems 3 on
    day 2 (from A1, expiring first): 12 left. bob: B1 earns 20 (T0). dan: D1 earns 8 on
    day 10."""
    program = make_program(session, config={"pending_days": 0, "expiry_days": 30})
    on_order_recorded(session, add_order(session, "A1", "ann", "10.00"))
    on_order_recorded(session, add_order(session, "A2", "ann", "5.00", at=T0 + timedelta(1)))
    on_order_recorded(session, add_order(session, "B1", "bob", "20.00"))
    on_order_recorded(session, add_order(session, "D1", "dan", "8.00", at=T0 + timedelta(10)))
    redeem(session, program, "ann", 3, key="r", actor="pos", now=T0 + timedelta(2))
    session.commit()


def _expired_events(session: Session) -> list[LoyaltyEvent]:
    query = select(LoyaltyEvent).where(LoyaltyEvent.kind == "points_expired")
    return list(session.scalars(query.order_by(LoyaltyEvent.id)))


def test_points_expired_once_per_account_and_run(store_engine: Engine, session: Session) -> None:
    """On day 31 ann's A1 (7 left) and A2 (5) and bob's B1 (20) expire: 32 points, one
    event each — ann 7 + 5 = 12 over two lots, bob 20 — and nothing for dan. A re-run
    expires and sends nothing; on day 40 dan's 8 go, in an event of their own."""
    add_endpoint(session, "http://127.0.0.1:9/expired", kinds=["points_expired"])
    add_endpoint(session, "http://127.0.0.1:9/tiers", kinds=["tier_changed"])
    session.commit()
    _expiring_ledger(session)
    day_31 = T0 + timedelta(days=31)
    assert emit_points_expired(session, day_31) == 2  # what expire_due does first
    session.rollback()
    assert expire_due(store_engine, day_31) == 32
    assert expire_due(store_engine, day_31) == 0
    events = _expired_events(session)
    by_customer = {e.payload["customer_id"]: e for e in events}
    assert sorted(by_customer) == ["ann", "bob"]
    ann = by_customer["ann"].payload
    stamp = day_31.isoformat()
    assert {k: v for k, v in ann.items() if k != "lots"} == {
        "program": "points",
        "customer_id": "ann",
        "household_id": None,
        "points": 12,
        "balance": 0,
        "expired_at": stamp,
    }
    assert sorted(lot["points"] for lot in ann["lots"]) == [5, 7]
    assert by_customer["bob"].payload["lots"] == [{"lot_id": 3, "points": 20}]
    assert by_customer["ann"].event_key == f"points_expired:{by_customer['ann'].account_id}:{stamp}"
    assert expire_due(store_engine, T0 + timedelta(days=40)) == 8
    *first_run, last = [e.payload["customer_id"] for e in _expired_events(session)]
    assert (sorted(first_run), last) == (["ann", "bob"], "dan")

    receiver = Receiver()
    client = httpx.Client(transport=httpx.MockTransport(receiver))
    assert deliver_due(store_engine, client, now=T0 + timedelta(days=41)).delivered == 3
    assert {r.url.path for r in receiver.requests} == {"/expired"}  # tiers subscribes elsewhere
    bodies = [json.loads(r.content) for r in receiver.requests]
    assert sorted((b["kind"], b["data"]["points"]) for b in bodies) == [
        ("points_expired", 8),
        ("points_expired", 12),
        ("points_expired", 20),
    ]


def test_no_points_expired_events_without_a_subscriber(
    store_engine: Engine, session: Session
) -> None:
    """No endpoint, one for other kinds only, or an inactive one: the expiry writes no
    event (at scale that is a million rows nobody would receive)."""
    _, _secret = add_endpoint(session, "http://127.0.0.1:9/tiers", kinds=["tier_changed"])
    off, _secret = add_endpoint(session, "http://127.0.0.1:9/off")
    session.get_one(LoyaltyWebhookEndpoint, off).active = False
    session.commit()
    _expiring_ledger(session)
    assert expire_due(store_engine, T0 + timedelta(days=31)) == 32
    assert _expired_events(session) == []
    assert subscribed(session, "tier_changed")
    assert not subscribed(session, "points_expired")


def test_subscriptions_name_known_kinds(session: Session) -> None:
    with pytest.raises(RegularsError, match="lottery_won"):
        add_endpoint(session, "http://127.0.0.1:9/x", kinds=["lottery_won"])
    with pytest.raises(RegularsError, match="none given"):
        add_endpoint(session, "http://127.0.0.1:9/x", kinds=[])
    endpoint_id, _secret = add_endpoint(
        session, "http://127.0.0.1:9/x", kinds=["points_expired", "tier_changed", "tier_changed"]
    )
    assert session.get_one(LoyaltyWebhookEndpoint, endpoint_id).kinds == [
        "points_expired",
        "tier_changed",
    ]
