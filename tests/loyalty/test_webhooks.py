"""Loyalty events: recorded once, delivered signed, retried with backoff, never re-sent
after success (httpx MockTransport; nothing leaves the process)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import httpx
from loyalty_helpers import T0, add_order, make_program
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.loyalty.accounts import ProgramSpec, create_program
from regulars.loyalty.models import LoyaltyDelivery, LoyaltyEvent
from regulars.loyalty.service import emit_expiry_warnings, on_order_recorded
from regulars.loyalty.webhooks import add_endpoint, deliver_due

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


def test_expiry_warnings_once_per_lot(session: Session) -> None:
    make_program(session, config={"expiry_days": 30})
    on_order_recorded(session, add_order(session, "A1", "ann", "10.00"))
    assert emit_expiry_warnings(session, T0 + timedelta(days=25), days=7) == 1
    assert emit_expiry_warnings(session, T0 + timedelta(days=26), days=7) == 1
    session.commit()
    assert session.scalar(select(func.count()).select_from(LoyaltyEvent)) == 1
