"""Loyalty events and their signed webhook delivery.

**Outbox.** :func:`emit` records an event in ``loyalty_events`` in the caller's transaction
(so it exists exactly when the change that caused it does), under a key unique per event:
recording it again is a no-op; :func:`emit_from_select` records many with one
``INSERT … SELECT``. Kinds (:data:`EVENT_KINDS`): ``tier_changed`` (on an order),
``points_expiring`` (:func:`regulars.loyalty.service.emit_expiry_warnings`, one per lot),
``points_expired`` (the nightly expiry, one per account that lost points, written only
while an endpoint subscribes to it: :func:`subscribed`), ``reward_granted`` (live
programs).

**Subscriptions.** An endpoint receives every kind, or — registered with ``kinds`` — only
those.

**Delivery.** :func:`deliver_due` gives every event to every active endpoint registered
before it that subscribes to its kind (``loyalty_deliveries``, unique per event and
endpoint) and POSTs the due ones::

    body = {"id": event_key, "kind": …, "created_at": …, "data": payload}
    X-Regulars-Timestamp: <unix seconds>
    X-Regulars-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

A receiver recomputes the HMAC over the timestamp and the raw body and refuses stale
timestamps (replays). A 2xx marks the delivery delivered — it is never sent again; any
other answer or a network error is retried after ``RETRY_BASE_S × 2^(attempts−1)``
seconds (at most ``RETRY_MAX_S``), up to ``max_attempts``, then marked failed. Each delivery
is sent and recorded in its own transaction; on PostgreSQL it is claimed with
``FOR UPDATE SKIP LOCKED`` so several workers never send the same one. A crash between the
POST and its commit can repeat that one POST: receivers de-duplicate on ``id``.
Secrets are never logged; errors keep only the status code or exception type.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, Select, literal, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from regulars.errors import RegularsError
from regulars.loyalty.models import (
    LoyaltyDelivery,
    LoyaltyEvent,
    LoyaltyWebhookEndpoint,
)
from regulars.store.session import session_scope
from regulars.store.types import utcnow

RETRY_BASE_S = 30
RETRY_MAX_S = 3600
TIMEOUT_S = 10.0


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


EVENT_KINDS = ("tier_changed", "points_expiring", "points_expired", "reward_granted")
"""Every kind of loyalty event; what an endpoint may subscribe to."""


def emit(
    session: Session,
    kind: str,
    key: str,
    payload: dict[str, Any],
    account_id: int | None = None,
) -> None:
    """Record event ``key`` (once) in the caller's transaction."""
    session.execute(
        _insert(session)(LoyaltyEvent)
        .values(
            event_key=key, kind=kind, account_id=account_id, payload=payload, created_at=utcnow()
        )
        .on_conflict_do_nothing()
    )


def emit_from_select(session: Session, rows: Select[Any]) -> int:
    """Record the events ``rows`` selects — columns ``event_key, kind, account_id,
    payload, created_at`` — with one ``INSERT … SELECT`` (keys already recorded are
    skipped); returns how many were recorded."""
    columns = ["event_key", "kind", "account_id", "payload", "created_at"]
    statement = (
        _insert(session)(LoyaltyEvent)
        .from_select(columns, rows)
        .on_conflict_do_nothing()
        .execution_options(preserve_rowcount=True)  # an INSERT's count is kept only if asked
    )
    return max(0, session.connection().execute(statement).rowcount)


def subscribed(session: Session, kind: str) -> bool:
    """Whether an active endpoint would receive an event of ``kind`` recorded now."""
    endpoints = session.scalars(
        select(LoyaltyWebhookEndpoint.kinds).where(LoyaltyWebhookEndpoint.active == true())
    )
    return any(kinds is None or kind in kinds for kinds in endpoints)


def add_endpoint(
    session: Session,
    url: str,
    secret: str | None = None,
    kinds: Sequence[str] | None = None,
) -> tuple[int, str]:
    """Register an endpoint for every event kind, or only ``kinds``; returns its id and
    the signing secret (generated if not given)."""
    if not url.startswith(("https://", "http://")):
        raise RegularsError(f"webhook url '{url}' must start with https:// or http://")
    if kinds is not None:
        unknown = sorted(set(kinds) - set(EVENT_KINDS))
        if unknown or not kinds:
            raise RegularsError(
                f"webhook kinds: {', '.join(unknown) or 'none given'}; "
                f"choose from {', '.join(EVENT_KINDS)}"
            )
    secret = secret or secrets.token_urlsafe(32)
    endpoint = LoyaltyWebhookEndpoint(
        url=url,
        secret=secret,
        active=True,
        kinds=None if kinds is None else sorted(set(kinds)),
        created_at=utcnow(),
    )
    session.add(endpoint)
    session.flush()
    return endpoint.id, secret


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _fan_out(session: Session, now: datetime) -> None:
    """A pending delivery for every (event, active endpoint registered before the event
    and subscribed to its kind): one ``INSERT … SELECT`` per endpoint (a shop has few)."""
    endpoints = session.execute(
        select(
            LoyaltyWebhookEndpoint.id,
            LoyaltyWebhookEndpoint.created_at,
            LoyaltyWebhookEndpoint.kinds,
        ).where(LoyaltyWebhookEndpoint.active == true())
    ).all()
    for endpoint_id, registered, kinds in endpoints:
        pairs = select(
            LoyaltyEvent.id,
            literal(endpoint_id, LoyaltyDelivery.endpoint_id.type),
            literal("pending"),
            literal(0),
            literal(now, LoyaltyDelivery.next_attempt_at.type),
        ).where(LoyaltyEvent.created_at >= registered)
        if kinds is not None:
            pairs = pairs.where(LoyaltyEvent.kind.in_(kinds))
        session.execute(
            _insert(session)(LoyaltyDelivery)
            .from_select(["event_id", "endpoint_id", "state", "attempts", "next_attempt_at"], pairs)
            .on_conflict_do_nothing()
        )


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    retrying: int
    failed: int


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (attempts - 1)))


def _body(event: LoyaltyEvent) -> bytes:
    document = {
        "id": event.event_key,
        "kind": event.kind,
        "created_at": event.created_at.isoformat(),
        "data": event.payload,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _send_one(
    session: Session, delivery_id: int, client: httpx.Client, now: datetime, max_attempts: int
) -> str | None:
    """Send one due delivery; returns its new state, or None if another worker has it."""
    query = select(LoyaltyDelivery).where(
        LoyaltyDelivery.id == delivery_id, LoyaltyDelivery.state == "pending"
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    delivery = session.scalars(query).one_or_none()
    if delivery is None:
        return None
    event = session.get_one(LoyaltyEvent, delivery.event_id)
    endpoint = session.get_one(LoyaltyWebhookEndpoint, delivery.endpoint_id)
    body = _body(event)
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "X-Regulars-Event": event.kind,
        "X-Regulars-Timestamp": str(timestamp),
        "X-Regulars-Signature": sign(endpoint.secret, timestamp, body),
    }
    delivery.attempts += 1
    try:
        response = client.post(endpoint.url, content=body, headers=headers, timeout=TIMEOUT_S)
        error = None if response.is_success else f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        error = type(exc).__name__
    if error is None:
        delivery.state, delivery.delivered_at, delivery.last_error = "delivered", now, None
    elif delivery.attempts >= max_attempts:
        delivery.state, delivery.last_error = "failed", error
    else:
        delivery.next_attempt_at = now + _backoff(delivery.attempts)
        delivery.last_error = error
    return delivery.state


def deliver_due(
    engine: Engine,
    client: httpx.Client,
    *,
    now: datetime | None = None,
    max_attempts: int = 8,
    limit: int = 1000,
) -> DeliveryReport:
    """POST every due delivery once (see the module docstring); the worker runs it often."""
    now = now or utcnow()
    with session_scope(engine) as session:
        _fan_out(session, now)
    with session_scope(engine) as session:
        due = list(
            session.scalars(
                select(LoyaltyDelivery.id)
                .where(LoyaltyDelivery.state == "pending", LoyaltyDelivery.next_attempt_at <= now)
                .order_by(LoyaltyDelivery.id)
                .limit(limit)
            )
        )
    counts = {"delivered": 0, "pending": 0, "failed": 0}
    for delivery_id in due:
        with session_scope(engine) as session:
            state = _send_one(session, delivery_id, client, now, max_attempts)
        if state is not None:
            counts[state] += 1
    return DeliveryReport(counts["delivered"], counts["pending"], counts["failed"])
