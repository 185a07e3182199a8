"""What the endpoints do, independent of HTTP routing: one function per use case.

Each function works inside the caller's session (one transaction per request) and raises
:class:`~regulars.api.problems.ApiProblemError` for outcomes the client must see.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Insert, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from regulars.analytics.transactions import counts_as_purchase
from regulars.api.problems import ApiProblemError
from regulars.api.schemas import (
    ConsentOut,
    CustomerIn,
    CustomerOut,
    OrderIn,
    OrderLineOut,
    OrderOut,
    PurchaseStats,
    Scores,
)
from regulars.store.models import (
    Base,
    Consent,
    Customer,
    CustomerScore,
    Order,
    OrderLine,
)
from regulars.store.types import utcnow

# -- customers ----------------------------------------------------------------------------


def create_customer(session: Session, body: CustomerIn) -> CustomerOut:
    """Create a customer; 409 when ``customer_id`` is taken."""
    if session.scalar(select(Customer.id).where(Customer.customer_id == body.customer_id)):
        raise _customer_exists(body.customer_id)
    customer = Customer(**body.model_dump(exclude={"consents"}))
    customer.consents = [Consent(**c.model_dump()) for c in body.consents]
    session.add(customer)
    try:
        session.flush()
    except IntegrityError:  # created concurrently between the check and the insert
        raise _customer_exists(body.customer_id) from None
    return customer_360(session, body.customer_id)


def _customer_exists(customer_id: str) -> ApiProblemError:
    return ApiProblemError(409, f"customer '{customer_id}' already exists", kind="conflict")


def customer_360(session: Session, customer_id: str) -> CustomerOut:
    """Everything known about one customer; 404 when unknown."""
    customer = session.scalars(
        select(Customer).where(Customer.customer_id == customer_id)
    ).one_or_none()
    if customer is None:
        raise ApiProblemError(404, f"no customer '{customer_id}'", kind="not-found")
    # Purchases follow the one rule of the analytics (counts_as_purchase); cancelled
    # orders do not count at all; a standalone return (negative amount) lowers the revenue
    # but is not a purchase. Money is summed in Python, exactly, as Decimal.
    rows = session.execute(
        select(Order.ordered_at, Order.amount, Order.refunded_amount, Order.status).where(
            Order.customer_id == customer_id, Order.status != "cancelled"
        )
    ).all()
    purchases = sorted(
        when
        for when, amount, refunded, status in rows
        if counts_as_purchase(amount, refunded, status)
    )
    revenue = sum((amount - refunded for _, amount, refunded, _ in rows), Decimal("0.00"))
    count = len(purchases)
    first, last = (purchases[0], purchases[-1]) if purchases else (None, None)
    average = (revenue / count).quantize(Decimal("0.01")) if count else None
    score = session.scalars(
        select(CustomerScore).where(CustomerScore.customer_id == customer_id)
    ).one_or_none()
    consents = session.scalars(
        select(Consent).where(Consent.customer_id == customer_id).order_by(Consent.id)
    ).all()
    return CustomerOut(
        customer_id=customer.customer_id,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        birthday=customer.birthday,
        time_zone=customer.time_zone,
        language=customer.language,
        acquisition_channel=customer.acquisition_channel,
        household_id=customer.household_id,
        attributes=customer.attributes or {},
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        purchases=PurchaseStats(
            orders_count=count,
            first_order_at=first,
            last_order_at=last,
            revenue=revenue,
            average_check=average,
        ),
        consents=[ConsentOut.model_validate(c, from_attributes=True) for c in consents],
        scores=None if score is None else Scores.model_validate(score, from_attributes=True),
    )


# -- orders -------------------------------------------------------------------------------

_ORDER_FIELDS = (
    "customer_id",
    "ordered_at",
    "amount",
    "refunded_amount",
    "status",
    "currency",
    "channel",
)
_TABLES = Base.metadata.tables
_LINE_FIELDS = ("sku", "product_name", "category", "quantity", "unit_price", "line_amount")


def _insert(conn: Connection, table: Table) -> Insert:
    """The dialect's ``INSERT``, which has ``ON CONFLICT DO NOTHING``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def request_hash(body: OrderIn) -> str:
    """A fingerprint of the normalised request body."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _content(order: OrderOut | OrderIn) -> tuple[Any, ...]:
    """What makes two versions of an order the same order."""
    head = tuple(getattr(order, f) for f in _ORDER_FIELDS)
    lines = sorted(
        (tuple(getattr(line, f) for f in _LINE_FIELDS) for line in order.lines), key=repr
    )
    return (*head, tuple(lines))


def load_order(session: Session, shop_id: str, order_id: str) -> OrderOut | None:
    order = session.scalars(
        select(Order).where(Order.shop_id == shop_id, Order.order_id == order_id)
    ).one_or_none()
    if order is None:
        return None
    lines = session.scalars(
        select(OrderLine)
        .where(OrderLine.shop_id == shop_id, OrderLine.order_id == order_id)
        .order_by(OrderLine.id)
    ).all()
    return OrderOut(
        shop_id=order.shop_id,
        order_id=order.order_id,
        customer_id=order.customer_id,
        ordered_at=order.ordered_at,
        amount=order.amount,
        refunded_amount=order.refunded_amount,
        status=order.status,
        currency=order.currency,
        channel=order.channel,
        lines=[OrderLineOut.model_validate(line, from_attributes=True) for line in lines],
        created_at=order.created_at,
    )


def _idempotency_conflict(key: str) -> ApiProblemError:
    return ApiProblemError(
        409,
        f"Idempotency-Key '{key}' was already used with a different request body",
        kind="idempotency-key-reused",
    )


def post_order(
    session: Session, body: OrderIn, *, api_key_id: int, idempotency_key: str | None
) -> tuple[OrderOut, bool]:
    """Record an order once; returns it and whether this call created it.

    Idempotent by ``(shop_id, order_id)``: the same order again is a replay (not created
    twice, even by concurrent requests, thanks to ``ON CONFLICT DO NOTHING`` on the unique
    key); a different body under the same ``order_id`` is a 409. An ``Idempotency-Key`` is
    remembered per API key with a hash of the body; reusing it for another body is a 409.
    """
    fingerprint = request_hash(body)
    keys = _TABLES["idempotency_keys"]
    if idempotency_key is not None:
        seen = session.execute(
            select(keys.c.request_hash, keys.c.shop_id, keys.c.order_id).where(
                keys.c.api_key_id == api_key_id, keys.c.key == idempotency_key
            )
        ).one_or_none()
        if seen is not None:
            if seen.request_hash != fingerprint:
                raise _idempotency_conflict(idempotency_key)
            replay = load_order(session, seen.shop_id, seen.order_id)
            if replay is not None:
                return replay, False

    conn = session.connection()
    now = utcnow()
    # The customer first: a write as the first statement also takes SQLite's write lock
    # before anything is read, so concurrent requests queue instead of failing.
    conn.execute(
        _insert(conn, _TABLES["customers"]),
        {"customer_id": body.customer_id, "attributes": {}, "created_at": now, "updated_at": now},
    )
    values = {f: getattr(body, f) for f in _ORDER_FIELDS}
    orders = _TABLES["orders"]
    inserted = conn.execute(
        _insert(conn, orders).returning(orders.c.id),
        {
            **values,
            "shop_id": body.shop_id,
            "order_id": body.order_id,
            "created_at": now,
            "updated_at": now,
        },
    ).first()
    created = inserted is not None  # None: ON CONFLICT DO NOTHING, the order existed
    if created and body.lines:
        conn.execute(
            _TABLES["order_lines"].insert(),
            [
                {"shop_id": body.shop_id, "order_id": body.order_id, **line.model_dump()}
                for line in body.lines
            ],
        )
    stored = load_order(session, body.shop_id, body.order_id)
    assert stored is not None
    if not created and _content(stored) != _content(body):
        raise ApiProblemError(
            409,
            f"order '{body.order_id}' of shop '{body.shop_id}' exists with different content",
            kind="conflict",
        )
    if idempotency_key is not None:
        conn.execute(
            _insert(conn, keys),
            {
                "api_key_id": api_key_id,
                "key": idempotency_key,
                "request_hash": fingerprint,
                "shop_id": body.shop_id,
                "order_id": body.order_id,
                "created_at": now,
            },
        )
        recorded = session.scalar(
            select(keys.c.request_hash).where(
                keys.c.api_key_id == api_key_id, keys.c.key == idempotency_key
            )
        )
        if recorded != fingerprint:
            raise _idempotency_conflict(idempotency_key)
    return stored, created
