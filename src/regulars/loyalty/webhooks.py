"""Loyalty events and their signed webhook delivery.

**Outbox.** :func:`emit` records an event in ``loyalty_events`` in the caller's transaction
(so it exists exactly when the change that caused it does), under a key unique per event:
recording it again is a no-op; :func:`emit_from_select` records many with one
``INSERT … SELECT``. Kinds (:data:`EVENT_KINDS`, the same list an endpoint subscribes
from; :func:`emit` refuses any other): ``tier_changed`` (a tier club's change),
``points_expiring`` (:func:`regulars.loyalty.points.expiry.emit_expiry_warnings`, one per
account and day), ``points_expired`` (the nightly expiry, one per account that lost points,
written only while an endpoint subscribes to it: :func:`subscribed`), ``reward_granted`` (a
voucher or gift of a live program), ``badge_awarded`` (a badge), ``bonus_awarded`` (bonus
points of a points program), ``membership_charged`` and ``membership_refunded`` (a
membership's first period, renewal, plan change or cancellation, once per payment).

**Subscriptions.** An endpoint receives every kind, or — registered with ``kinds`` — only
those.

**Fan-out.** :func:`fan_out` gives every event to every active endpoint registered before
it that subscribes to its kind (``loyalty_deliveries``, unique per event and endpoint),
reading only the events after the endpoint's watermark ``last_event_id`` (set at
registration to the last event recorded then) up to a horizon below which no event can
still be in flight; an inactive endpoint's watermark waits, so reactivated it gets what it
missed.

**Delivery.** :func:`deliver_due` fans out, then POSTs the due deliveries::

    body = {"id": event_key, "kind": …, "created_at": …, "data": payload}
    X-Regulars-Timestamp: <unix seconds>
    X-Regulars-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

A receiver recomputes the HMAC over the timestamp and the raw body and refuses stale
timestamps (replays). A 2xx marks the delivery delivered — it is never sent again; any
other answer or a network error is retried after ``RETRY_BASE_S × 2^(attempts−1)``
seconds (at most ``RETRY_MAX_S``), up to ``max_attempts``, then marked failed. Deliveries
go in batches of :data:`BATCH_SIZE`, :data:`CONCURRENCY` POSTs at a time, until none is due
or :data:`BUDGET_S` has passed; a batch is claimed (on PostgreSQL ``FOR UPDATE SKIP
LOCKED``, so several workers never send the same one), sent and recorded in one
transaction, and an attempt is recorded only on the row as it was claimed (never on a
delivered one). A crash before the batch's commit can repeat its POSTs: receivers
de-duplicate on ``id``. Order is not kept, not even per endpoint: POSTs run concurrently
and a retried delivery goes after newer ones; receivers order by ``created_at``.
Secrets are never logged; errors keep only the status code or exception type.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, Select, bindparam, delete, func, literal, select, text, true, update
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.errors import RegularsError
from regulars.loyalty.tables import LoyaltyDelivery, LoyaltyEvent, LoyaltyWebhookEndpoint
from regulars.store.session import session_scope
from regulars.store.upsert import dialect_insert

RETRY_BASE_S = 30
RETRY_MAX_S = 3600
TIMEOUT_S = 10.0
BATCH_SIZE = 200
"""Deliveries claimed, sent and recorded together (one transaction on PostgreSQL)."""
CONCURRENCY = 16
"""POSTs in flight at once."""
BUDGET_S = 240.0
"""How long one :func:`deliver_due` run may keep starting batches."""
EVENTS_LOCK = 0x7265_6765  # "rege": the advisory lock of event writers vs. fan-out
# Taken with the schema's hash as the lock's second key, so that stores in two schemas of
# one database (the tests run in parallel that way) never wait for each other's events.
HORIZON_TRIES = 5
HORIZON_PAUSE_S = 0.05
_GUARDED = "regulars.loyalty.webhooks.guarded"


EVENT_KINDS = (
    "tier_changed",
    "points_expiring",
    "points_expired",
    "reward_granted",
    "badge_awarded",
    "bonus_awarded",
    "membership_charged",
    "membership_refunded",
)
"""Every kind of loyalty event, the only ones recorded; what an endpoint may subscribe to."""


def emit(
    session: Session,
    kind: str,
    key: str,
    payload: dict[str, Any],
    account_id: int | None = None,
) -> None:
    """Record event ``key`` (once) in the caller's transaction; ``kind`` is one of
    :data:`EVENT_KINDS` (a kind nobody can subscribe to is a bug, refused here)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown loyalty event kind '{kind}'; add it to EVENT_KINDS")
    _guard_writes(session)
    session.execute(
        dialect_insert(session, LoyaltyEvent)
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
    _guard_writes(session)
    statement = (
        dialect_insert(session, LoyaltyEvent)
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
        # From its registration on: the events recorded before it are not its.
        last_event_id=session.scalar(select(func.coalesce(func.max(LoyaltyEvent.id), 0))),
    )
    session.add(endpoint)
    session.flush()
    return endpoint.id, secret


def list_endpoints(session: Session) -> list[LoyaltyWebhookEndpoint]:
    """Every registered endpoint, oldest first (inactive ones included)."""
    return list(session.scalars(select(LoyaltyWebhookEndpoint).order_by(LoyaltyWebhookEndpoint.id)))


def deactivate_endpoint(session: Session, endpoint_id: int) -> LoyaltyWebhookEndpoint | None:
    """Stop sending to an endpoint (its row and deliveries stay, for the record); None for
    an unknown id. Deactivating it again changes nothing."""
    endpoint = session.get(LoyaltyWebhookEndpoint, endpoint_id)
    if endpoint is not None:
        endpoint.active = False
        session.flush()
    return endpoint


def delete_endpoint(session: Session, endpoint: LoyaltyWebhookEndpoint) -> None:
    """Delete an endpoint and its deliveries (the events stay for the other endpoints)."""
    session.execute(delete(LoyaltyDelivery).where(LoyaltyDelivery.endpoint_id == endpoint.id))
    session.delete(endpoint)
    session.flush()


@dataclass(frozen=True)
class DeliveryStatus:
    """One endpoint's deliveries at a glance."""

    counts: dict[str, int]
    """Deliveries per state: pending, delivered, failed."""
    last_delivered_at: datetime | None
    last_error: str | None
    """The error of the latest attempt that failed, if any."""


def delivery_status(session: Session) -> dict[int, DeliveryStatus]:
    """:class:`DeliveryStatus` of every endpoint with deliveries, by endpoint id."""
    counts: dict[int, dict[str, int]] = {}
    grouped = select(
        LoyaltyDelivery.endpoint_id,
        LoyaltyDelivery.state,
        func.count(),
        func.max(LoyaltyDelivery.delivered_at),
    ).group_by(LoyaltyDelivery.endpoint_id, LoyaltyDelivery.state)
    latest: dict[int, datetime | None] = {}
    for endpoint_id, state, n, delivered in session.execute(grouped):
        counts.setdefault(endpoint_id, {})[state] = n
        if delivered is not None:
            latest[endpoint_id] = max(delivered, latest.get(endpoint_id) or delivered)
    newest_failed = (
        select(func.max(LoyaltyDelivery.id))
        .where(LoyaltyDelivery.last_error.is_not(None))
        .group_by(LoyaltyDelivery.endpoint_id)
    )
    failed = select(LoyaltyDelivery.endpoint_id, LoyaltyDelivery.last_error).where(
        LoyaltyDelivery.id.in_(newest_failed)
    )
    errors: dict[int, str | None] = {}
    for endpoint_id, error in session.execute(failed):
        errors[endpoint_id] = error
    return {e: DeliveryStatus(c, latest.get(e), errors.get(e)) for e, c in counts.items()}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _guard_writes(session: Session) -> None:
    """On PostgreSQL, hold the events lock (shared) until the caller's transaction ends,
    taken before the event gets its id: :func:`_horizon` can then tell that no event is
    in flight. Shared holders never wait for each other; once per transaction."""
    if not _postgres(session):
        return  # SQLite has one writer: ids are given in commit order
    session.connection()  # begins the transaction if it has not begun
    transaction = session.get_transaction()
    if session.info.get(_GUARDED) is transaction:
        return
    session.execute(
        text("SELECT pg_advisory_xact_lock_shared(:key, hashtext(current_schema()))"),
        {"key": EVENTS_LOCK},
    )
    session.info[_GUARDED] = transaction


def _horizon(engine: Engine) -> int | None:
    """The highest event id such that every event at or below it is committed (or rolled
    back for good): the fan-out may pass no further. On PostgreSQL ids are drawn before
    commit, so a later commit can make a lower id visible; the horizon is read only
    while no writer holds the events lock (a non-blocking try, :data:`HORIZON_TRIES`
    times: it never makes a business transaction wait more than the read of one
    ``MAX(id)``); None if writers held it every time."""
    for attempt in range(HORIZON_TRIES):
        with session_scope(engine) as session:
            if _postgres(session):
                free = session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:key, hashtext(current_schema()))"),
                    {"key": EVENTS_LOCK},
                )
                if not free:
                    time.sleep(HORIZON_PAUSE_S * (attempt + 1))
                    continue
            return session.scalar(select(func.coalesce(func.max(LoyaltyEvent.id), 0))) or 0
    return None


def fan_out(engine: Engine, now: datetime) -> int:
    """Give every active endpoint the events after its watermark (``last_event_id``) up
    to the :func:`_horizon` that it subscribes to: a pending delivery each, due at
    ``now``, with one ``INSERT … SELECT`` per endpoint (unique (event, endpoint): a rerun
    adds nothing), and move the watermark to the horizon, in one transaction. Reads only
    the new events, however many were ever recorded. Returns the deliveries created."""
    horizon = _horizon(engine)
    if horizon is None:
        return 0  # writers busy: the next run catches up, nothing is skipped
    created = 0
    with session_scope(engine) as session:
        query = select(LoyaltyWebhookEndpoint).where(
            LoyaltyWebhookEndpoint.active == true(),
            LoyaltyWebhookEndpoint.last_event_id < horizon,
        )
        if _postgres(session):
            query = query.with_for_update()  # a concurrent fan-out waits, then sees our mark
        for endpoint in session.scalars(query.order_by(LoyaltyWebhookEndpoint.id)):
            created += _fan_out_to(session, endpoint, horizon, now)
            endpoint.last_event_id = horizon
    return created


def _fan_out_to(
    session: Session, endpoint: LoyaltyWebhookEndpoint, horizon: int, now: datetime
) -> int:
    pairs = select(
        LoyaltyEvent.id,
        literal(endpoint.id, LoyaltyDelivery.endpoint_id.type),
        literal("pending"),
        literal(0),
        literal(now, LoyaltyDelivery.next_attempt_at.type),
    ).where(LoyaltyEvent.id > endpoint.last_event_id, LoyaltyEvent.id <= horizon)
    if endpoint.kinds is not None:
        pairs = pairs.where(LoyaltyEvent.kind.in_(endpoint.kinds))
    statement = (
        dialect_insert(session, LoyaltyDelivery)
        .from_select(["event_id", "endpoint_id", "state", "attempts", "next_attempt_at"], pairs)
        .on_conflict_do_nothing()
        .execution_options(preserve_rowcount=True)
    )
    return max(0, session.connection().execute(statement).rowcount)


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    retrying: int
    failed: int


@dataclass(frozen=True)
class _Due:
    """A claimed delivery with what its POST needs (read once, no session in the threads)."""

    id: int
    attempts: int
    url: str
    secret: str
    kind: str
    body: bytes


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (attempts - 1)))


def _body(key: str, kind: str, created_at: datetime, payload: dict[str, Any]) -> bytes:
    document = {"id": key, "kind": kind, "created_at": created_at.isoformat(), "data": payload}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _claim(session: Session, now: datetime, size: int) -> list[_Due]:
    """Up to ``size`` due deliveries, oldest due first; on PostgreSQL locked until the
    session's transaction ends (``SKIP LOCKED``: another worker takes other ones)."""
    query = (
        select(
            LoyaltyDelivery.id,
            LoyaltyDelivery.attempts,
            LoyaltyWebhookEndpoint.url,
            LoyaltyWebhookEndpoint.secret,
            LoyaltyEvent.event_key,
            LoyaltyEvent.kind,
            LoyaltyEvent.created_at,
            LoyaltyEvent.payload,
        )
        .join(LoyaltyEvent, LoyaltyEvent.id == LoyaltyDelivery.event_id)
        .join(LoyaltyWebhookEndpoint, LoyaltyWebhookEndpoint.id == LoyaltyDelivery.endpoint_id)
        .where(LoyaltyDelivery.state == "pending", LoyaltyDelivery.next_attempt_at <= now)
        .order_by(LoyaltyDelivery.next_attempt_at, LoyaltyDelivery.id)
        .limit(size)
    )
    if _postgres(session):
        query = query.with_for_update(of=LoyaltyDelivery, skip_locked=True)
    return [
        _Due(row.id, row.attempts, row.url, row.secret, row.kind, _body(*row[4:]))
        for row in session.execute(query)
    ]


def _post(client: httpx.Client, due: _Due, now: datetime) -> str | None:
    """POST one delivery, signed; None on a 2xx, else the error to keep (no secret)."""
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "X-Regulars-Event": due.kind,
        "X-Regulars-Timestamp": str(timestamp),
        "X-Regulars-Signature": sign(due.secret, timestamp, due.body),
    }
    try:
        response = client.post(due.url, content=due.body, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return None if response.is_success else f"HTTP {response.status_code}"


def _outcome(due: _Due, error: str | None, now: datetime, max_attempts: int) -> dict[str, Any]:
    """The delivery's row after this attempt (bind parameters of :data:`_RECORD`)."""
    attempts = due.attempts + 1
    if error is None:
        state, next_at, delivered_at = "delivered", now, now
    elif attempts >= max_attempts:
        state, next_at, delivered_at = "failed", now, None
    else:
        state, next_at, delivered_at = "pending", now + _backoff(attempts), None
    return {
        "b_id": due.id,
        "b_seen": due.attempts,
        "b_state": state,
        "b_attempts": attempts,
        "b_next": next_at,
        "b_delivered": delivered_at,
        "b_error": error,
    }


_RECORD = (
    update(LoyaltyDelivery)
    # Only the attempt we made: a row another runner recorded meanwhile is left alone,
    # and a delivered one never changes again.
    .where(
        LoyaltyDelivery.id == bindparam("b_id"),
        LoyaltyDelivery.state == "pending",
        LoyaltyDelivery.attempts == bindparam("b_seen"),
    )
    .values(
        state=bindparam("b_state"),
        attempts=bindparam("b_attempts"),
        next_attempt_at=bindparam("b_next"),
        delivered_at=bindparam("b_delivered"),
        last_error=bindparam("b_error"),
    )
)


def _deliver_batch(
    engine: Engine,
    client: httpx.Client,
    pool: ThreadPoolExecutor,
    now: datetime,
    *,
    size: int,
    max_attempts: int,
) -> list[str]:
    """Claim, POST concurrently and record one batch; returns the new states."""
    with session_scope(engine) as session:
        batch = _claim(session, now, size)
        if not _postgres(session):
            session.commit()  # SQLite: no write lock held while the POSTs run
        if not batch:
            return []
        errors = list(pool.map(lambda due: _post(client, due, now), batch))
        rows = [_outcome(d, e, now, max_attempts) for d, e in zip(batch, errors, strict=True)]
        session.connection().execute(_RECORD, rows)
    return [row["b_state"] for row in rows]


def deliver_due(
    engine: Engine,
    client: httpx.Client,
    *,
    now: datetime | None = None,
    max_attempts: int = 8,
    budget_s: float = BUDGET_S,
    batch_size: int = BATCH_SIZE,
    concurrency: int = CONCURRENCY,
) -> DeliveryReport:
    """:func:`fan_out`, then POST the due deliveries in batches of ``batch_size``,
    ``concurrency`` at a time, until none is due or ``budget_s`` seconds have passed
    (checked between batches). The clock of a batch is ``now`` plus the time elapsed
    since the run began. See the module docstring."""
    began = time.monotonic()
    start = now or utcnow()
    fan_out(engine, start)
    counts = {"delivered": 0, "pending": 0, "failed": 0}
    with ThreadPoolExecutor(concurrency, thread_name_prefix="webhook") as pool:
        while True:
            elapsed = time.monotonic() - began
            states = _deliver_batch(
                engine,
                client,
                pool,
                start + timedelta(seconds=elapsed),
                size=batch_size,
                max_attempts=max_attempts,
            )
            for state in states:
                counts[state] += 1
            if not states or time.monotonic() - began >= budget_s:
                break
    return DeliveryReport(counts["delivered"], counts["pending"], counts["failed"])
