"""Orders and returns: record (idempotently), read, list.

Each function works inside the caller's session (one transaction per request) and raises
:class:`~regulars.api.problems.ApiProblemError` for outcomes the client must see. Created
orders and returns are passed to :mod:`regulars.api.services.hooks`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, case, literal, select, tuple_, update
from sqlalchemy.orm import Session

from regulars.api.problems import ApiProblemError
from regulars.api.schemas import (
    OrderCancelIn,
    OrderCancellationOut,
    OrderIn,
    OrderLineOut,
    OrderOut,
    Page,
    ReturnIn,
    ReturnLineOut,
    ReturnOut,
)
from regulars.api.services import hooks
from regulars.api.services.common import (
    TABLES,
    conflict,
    create_bare_customers,
    invalid,
    not_found,
    paginate,
    request_hash,
)
from regulars.clock import utcnow
from regulars.customers.aliases import resolve_aliases, resolve_customer_id
from regulars.data.schema import LINE_FIELDS, ORDER_FACTS
from regulars.loyalty.points.returns import refund_deduction
from regulars.store import audit
from regulars.store.tables import Order, OrderLine, OrderReturn
from regulars.store.types import MONEY
from regulars.store.upsert import insert_ignoring_conflicts

ORDER_FIELDS = ("customer_id", *ORDER_FACTS)
"""An order body's fields besides its key ``(shop_id, order_id)``."""
ORDERS = TABLES["orders"]
ORDER_LINES = TABLES["order_lines"]
RETURNS = TABLES["order_returns"]
IDEMPOTENCY_KEYS = TABLES["idempotency_keys"]

OrderKey = tuple[str, str]
"""``(shop_id, order_id)``."""

# -- reading ------------------------------------------------------------------------------


def orders_out(session: Session, orders: Sequence[Order]) -> list[OrderOut]:
    """``orders`` with their lines, loaded in one query."""
    keys = [(o.shop_id, o.order_id) for o in orders]
    lines: dict[OrderKey, list[OrderLineOut]] = defaultdict(list)
    if keys:
        for line in session.scalars(
            select(OrderLine)
            .where(tuple_(OrderLine.shop_id, OrderLine.order_id).in_(keys))
            .order_by(OrderLine.id)
        ):
            out = OrderLineOut.model_validate(line, from_attributes=True)
            lines[(line.shop_id, line.order_id)].append(out)
    return [
        OrderOut(
            shop_id=o.shop_id,
            order_id=o.order_id,
            customer_id=o.customer_id,
            ordered_at=o.ordered_at,
            amount=o.amount,
            refunded_amount=o.refunded_amount,
            status=o.status,
            currency=o.currency,
            channel=o.channel,
            lines=lines[(o.shop_id, o.order_id)],
            created_at=o.created_at,
        )
        for o in orders
    ]


def _as_written(body: OrderIn, created_at: datetime) -> OrderOut:
    """The order ``body`` as :func:`write_orders` just inserted it."""
    return OrderOut(
        **{f: getattr(body, f) for f in ORDER_FIELDS},
        shop_id=body.shop_id,
        order_id=body.order_id,
        lines=[OrderLineOut(**line.model_dump()) for line in body.lines],
        created_at=created_at,
    )


def load_orders(session: Session, keys: Sequence[OrderKey]) -> dict[OrderKey, OrderOut]:
    """The stored orders among ``keys`` (two queries, however many keys)."""
    if not keys:
        return {}
    orders = session.scalars(
        select(Order).where(tuple_(Order.shop_id, Order.order_id).in_(list(keys)))
    ).all()
    return {(o.shop_id, o.order_id): o for o in orders_out(session, orders)}


def get_order(session: Session, shop_id: str, order_id: str) -> OrderOut:
    """One order with its lines; 404 when unknown."""
    found = load_orders(session, [(shop_id, order_id)]).get((shop_id, order_id))
    if found is None:
        raise not_found(f"order '{order_id}' of shop '{shop_id}'")
    return found


def list_orders(
    session: Session,
    *,
    customer_id: str | None = None,
    shop_id: str | None = None,
    ordered_since: datetime | None = None,
    ordered_until: datetime | None = None,
    limit: int,
    cursor: str | None = None,
) -> Page[OrderOut]:
    """Orders in the order they were recorded; ``ordered_until`` is exclusive."""
    query = select(Order)
    if customer_id is not None:
        query = query.where(Order.customer_id == resolve_customer_id(session, customer_id))
    if shop_id is not None:
        query = query.where(Order.shop_id == shop_id)
    if ordered_since is not None:
        query = query.where(Order.ordered_at >= ordered_since)
    if ordered_until is not None:
        query = query.where(Order.ordered_at < ordered_until)
    return paginate(
        session,
        query,
        Order.id,
        limit=limit,
        cursor=cursor,
        render=lambda rows: orders_out(session, rows),
    )


# -- Idempotency-Key ----------------------------------------------------------------------


def _idempotency_conflict(key: str) -> ApiProblemError:
    return ApiProblemError(
        409,
        f"Idempotency-Key '{key}' was already used with a different request body",
        kind="idempotency-key-reused",
    )


def _remembered(session: Session, api_key_id: int, key: str, fingerprint: str) -> OrderKey | None:
    """What an earlier request with this key created, or ``None``; 409 for another body.

    The row's ``order_id`` column holds the document id: an ``order_id`` for orders, a
    ``return_id`` for returns (the fingerprint includes the endpoint, so they never mix).
    """
    seen = session.execute(
        select(
            IDEMPOTENCY_KEYS.c.request_hash, IDEMPOTENCY_KEYS.c.shop_id, IDEMPOTENCY_KEYS.c.order_id
        ).where(IDEMPOTENCY_KEYS.c.api_key_id == api_key_id, IDEMPOTENCY_KEYS.c.key == key)
    ).one_or_none()
    if seen is None:
        return None
    if seen.request_hash != fingerprint:
        raise _idempotency_conflict(key)
    return seen.shop_id, seen.order_id


def _remember(
    conn: Connection, api_key_id: int, key: str, fingerprint: str, document: OrderKey
) -> None:
    """Store the key; a concurrent request that stored it first with another body wins."""
    conn.execute(
        insert_ignoring_conflicts(conn, IDEMPOTENCY_KEYS),
        {
            "api_key_id": api_key_id,
            "key": key,
            "request_hash": fingerprint,
            "shop_id": document[0],
            "order_id": document[1],
            "created_at": utcnow(),
        },
    )
    recorded = conn.scalar(
        select(IDEMPOTENCY_KEYS.c.request_hash).where(
            IDEMPOTENCY_KEYS.c.api_key_id == api_key_id, IDEMPOTENCY_KEYS.c.key == key
        )
    )
    if recorded != fingerprint:
        raise _idempotency_conflict(key)


# -- recording orders ---------------------------------------------------------------------


REFUND_FIELDS = ("refunded_amount", "status")
"""Order fields that recorded returns change after the fact."""


def order_content(order: OrderOut | OrderIn, *, refunds: bool = True) -> tuple[Any, ...]:
    """What makes two versions of an order the same order (without the refund fields when
    ``refunds`` is false)."""
    fields = ORDER_FIELDS if refunds else tuple(f for f in ORDER_FIELDS if f not in REFUND_FIELDS)
    head = tuple(getattr(order, f) for f in fields)
    lines = sorted((tuple(getattr(line, f) for f in LINE_FIELDS) for line in order.lines), key=repr)
    return (*head, tuple(lines))


def _with_returns(session: Session, keys: Sequence[OrderKey]) -> set[OrderKey]:
    """The orders among ``keys`` that have returns recorded against them."""
    if not keys:
        return set()
    rows = session.execute(
        select(RETURNS.c.shop_id, RETURNS.c.order_id)
        .where(tuple_(RETURNS.c.shop_id, RETURNS.c.order_id).in_(list(keys)))
        .distinct()
    ).all()
    return {(shop, order) for shop, order in rows}


def _same_order(stored: OrderOut, body: OrderIn, *, returned: bool) -> bool:
    """Whether ``body`` repeats ``stored``. Once returns are recorded against an order,
    they own its refund and status: the shop's retry of the original order (before the
    refund) is still the same order."""
    return order_content(stored, refunds=not returned) == order_content(body, refunds=not returned)


@dataclass(frozen=True)
class OrderWrite:
    """The outcome for one order: the stored order, and whether this call created it.

    ``conflicting``: the order existed with other content (and was left unchanged)."""

    order: OrderOut
    created: bool
    conflicting: bool


def write_orders(session: Session, bodies: Sequence[OrderIn]) -> list[OrderWrite]:
    """Insert orders whose ``(shop_id, order_id)`` is new; compare the others to the store.

    A fixed number of statements for any number of orders: unknown customers are inserted
    bare, orders with ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (the unique key decides,
    so concurrent duplicates create one order), the new orders' lines in one
    ``executemany``. Customer ids that were merged away are written as their survivor.
    The keys of ``bodies`` must be distinct.
    """
    assert len({(b.shop_id, b.order_id) for b in bodies}) == len(bodies), "duplicate keys"
    if not bodies:
        return []
    aliases = resolve_aliases(session, {b.customer_id for b in bodies})
    bodies = [
        b.model_copy(update={"customer_id": aliases[b.customer_id]})
        if b.customer_id in aliases
        else b
        for b in bodies
    ]
    conn = session.connection()
    # The customers first: a write as the first statement also takes SQLite's write lock
    # before anything is read, so concurrent requests queue instead of failing.
    create_bare_customers(conn, (b.customer_id for b in bodies))
    now = utcnow()
    rows = [
        {
            **{f: getattr(b, f) for f in ORDER_FIELDS},
            "shop_id": b.shop_id,
            "order_id": b.order_id,
            "created_at": now,
            "updated_at": now,
        }
        # In key order: concurrent requests with the same new orders lock them alike.
        for b in sorted(bodies, key=lambda b: (b.shop_id, b.order_id))
    ]
    # The ORM form of the insert returns the created orders as stored rows, ready for the
    # hooks, without reading them back.
    inserted = session.scalars(insert_ignoring_conflicts(conn, Order).returning(Order), rows)
    created = {(order.shop_id, order.order_id): order for order in inserted}
    lines = [
        {"shop_id": b.shop_id, "order_id": b.order_id, **line.model_dump()}
        for b in bodies
        if (b.shop_id, b.order_id) in created
        for line in b.lines
    ]
    if lines:
        conn.execute(ORDER_LINES.insert(), lines)
    # A new order is exactly its body as written, so only the existing ones are read back
    # (half the round trips of a single POST; docs/benchmarks.md).
    stored = load_orders(
        session, [(b.shop_id, b.order_id) for b in bodies if (b.shop_id, b.order_id) not in created]
    )
    stored.update(
        {
            (b.shop_id, b.order_id): _as_written(b, now)
            for b in bodies
            if (b.shop_id, b.order_id) in created
        }
    )
    differing = [
        (b.shop_id, b.order_id)
        for b in bodies
        if (b.shop_id, b.order_id) not in created
        and order_content(stored[(b.shop_id, b.order_id)]) != order_content(b)
    ]
    returned = _with_returns(session, differing)
    writes = []
    for body in bodies:
        key = (body.shop_id, body.order_id)
        is_new = key in created
        same = is_new or _same_order(stored[key], body, returned=key in returned)
        writes.append(OrderWrite(stored[key], created=is_new, conflicting=not same))
        if is_new:
            hooks.order_recorded(session, created[key])
    return writes


def post_order(
    session: Session, body: OrderIn, *, api_key_id: int, idempotency_key: str | None
) -> tuple[OrderOut, bool]:
    """Record an order once; returns it and whether this call created it.

    Idempotent by ``(shop_id, order_id)``: the same order again is a replay; a different
    body under the same ``order_id`` is a 409. An ``Idempotency-Key`` is remembered per API
    key with a hash of the body; reusing it for another body is a 409.
    """
    fingerprint = request_hash("order", body)
    if idempotency_key is not None:
        seen = _remembered(session, api_key_id, idempotency_key, fingerprint)
        replay = load_orders(session, [seen]).get(seen) if seen else None
        if replay is not None:
            return replay, False
    (write,) = write_orders(session, [body])
    if write.conflicting:
        raise conflict(
            f"order '{body.order_id}' of shop '{body.shop_id}' exists with different content"
        )
    if idempotency_key is not None:
        key = (body.shop_id, body.order_id)
        _remember(session.connection(), api_key_id, idempotency_key, fingerprint, key)
    return write.order, write.created


# -- returns ------------------------------------------------------------------------------


def _return_out(row: OrderReturn) -> ReturnOut:
    return ReturnOut(
        shop_id=row.shop_id,
        return_id=row.return_id,
        order_id=row.order_id,
        customer_id=row.customer_id,
        returned_at=row.returned_at,
        amount=row.amount,
        reason=row.reason,
        lines=[ReturnLineOut.model_validate(line) for line in row.lines],
        created_at=row.created_at,
    )


def _return_row(session: Session, shop_id: str, return_id: str) -> OrderReturn | None:
    return session.scalars(
        select(OrderReturn).where(
            OrderReturn.shop_id == shop_id, OrderReturn.return_id == return_id
        )
    ).one_or_none()


def load_return(session: Session, shop_id: str, return_id: str) -> ReturnOut | None:
    row = _return_row(session, shop_id, return_id)
    return None if row is None else _return_out(row)


def customer_returns(session: Session, customer_id: str, limit: int) -> list[ReturnOut]:
    """The customer's latest returns, newest first."""
    rows = session.scalars(
        select(OrderReturn)
        .where(OrderReturn.customer_id == customer_id)
        .order_by(OrderReturn.returned_at.desc(), OrderReturn.id.desc())
        .limit(limit)
    ).all()
    return [_return_out(row) for row in rows]


def _return_content(ret: ReturnOut | ReturnIn) -> tuple[Any, ...]:
    lines = sorted(((line.sku, line.quantity, line.line_amount) for line in ret.lines), key=repr)
    return (ret.order_id, ret.returned_at, ret.amount, ret.reason, tuple(lines))


def _refund(conn: Connection, body: ReturnIn) -> None:
    """Add the return to its order's ``refunded_amount`` and status, in one guarded UPDATE.

    The guard ``amount - refunded_amount >= return amount`` sits in the statement itself,
    so two concurrent returns can never refund more than the order is worth together.
    """
    amount = literal(body.amount, MONEY)
    refunded = ORDERS.c.refunded_amount + amount
    updated = conn.execute(
        update(ORDERS)
        .where(
            ORDERS.c.shop_id == body.shop_id,
            ORDERS.c.order_id == body.order_id,
            ORDERS.c.amount - ORDERS.c.refunded_amount >= amount,
        )
        .values(
            refunded_amount=refunded,
            status=case((ORDERS.c.amount == refunded, "refunded"), else_="partially_refunded"),
            updated_at=utcnow(),
        )
    )
    if updated.rowcount == 0:
        left = conn.execute(
            select(ORDERS.c.amount, ORDERS.c.refunded_amount).where(
                ORDERS.c.shop_id == body.shop_id, ORDERS.c.order_id == body.order_id
            )
        ).one()
        remaining = max(left.amount - left.refunded_amount, Decimal("0.00"))
        raise invalid(
            "amount",
            f"the return of {body.amount} is more than the {remaining} left to refund "
            f"on order '{body.order_id}'",
        )


def record_return(
    session: Session, body: ReturnIn, *, api_key_id: int, idempotency_key: str | None
) -> tuple[ReturnOut, bool]:
    """Record a return against an order once; returns it and whether this call created it.

    Idempotent like :func:`post_order`, by ``(shop_id, return_id)`` and by
    ``Idempotency-Key``. A new return raises the order's ``refunded_amount`` by its amount
    and sets the status to ``partially_refunded``, or ``refunded`` once nothing is left.
    404 for an unknown order; 422 for a cancelled order or more than is left to refund.
    """
    fingerprint = request_hash("return", body)
    if idempotency_key is not None:
        seen = _remembered(session, api_key_id, idempotency_key, fingerprint)
        replay = load_return(session, *seen) if seen else None
        if replay is not None:
            return _with_deduction(session, replay), False
    order = session.execute(
        select(Order.customer_id, Order.status).where(
            Order.shop_id == body.shop_id, Order.order_id == body.order_id
        )
    ).one_or_none()
    if order is None:
        raise not_found(f"order '{body.order_id}' of shop '{body.shop_id}'")
    if order.status == "cancelled":
        raise invalid("order_id", f"order '{body.order_id}' is cancelled: nothing to refund")
    stored, created = _write_return(session, body, order.customer_id)
    if idempotency_key is not None:
        key = (body.shop_id, body.return_id)
        _remember(session.connection(), api_key_id, idempotency_key, fingerprint, key)
    return _with_deduction(session, stored), created


def _write_return(session: Session, body: ReturnIn, customer_id: str) -> tuple[ReturnOut, bool]:
    """Insert the return unless ``(shop_id, return_id)`` exists; a new one refunds its
    order and runs the return hooks. A different return under the same id is a 409."""
    conn = session.connection()
    inserted = conn.execute(
        insert_ignoring_conflicts(conn, RETURNS).returning(RETURNS.c.id),
        {
            **body.model_dump(exclude={"lines"}),
            "lines": [line.model_dump(mode="json") for line in body.lines],
            "customer_id": customer_id,
            "created_at": utcnow(),
        },
    ).first()
    created = inserted is not None
    if created:
        _refund(conn, body)
    row = _return_row(session, body.shop_id, body.return_id)
    assert row is not None
    stored = _return_out(row)
    if not created and _return_content(stored) != _return_content(body):
        raise conflict(
            f"return '{body.return_id}' of shop '{body.shop_id}' exists with different content"
        )
    if created:
        hooks.return_recorded(session, row)
    return stored, created


def _with_deduction(session: Session, ret: ReturnOut) -> ReturnOut:
    """The return with what to take off its refund, as its hooks recorded it."""
    deduction = refund_deduction(session, ret.shop_id, ret.order_id, ret.return_id)
    return ret.model_copy(update={"deduct_from_refund": deduction})


# -- cancellations ------------------------------------------------------------------------

CANCEL_PREFIX = "cancel:"


def cancellation_return_id(order_id: str) -> str:
    """The id of the return that reverses a cancelled order: ``cancel:<order_id>``, or
    ``cancel:#<sha256 of the id>`` where that would not fit the 255 characters of an id."""
    whole = f"{CANCEL_PREFIX}{order_id}"
    if len(whole) <= 255:
        return whole
    return f"{CANCEL_PREFIX}#{hashlib.sha256(order_id.encode()).hexdigest()}"


def cancel_order(
    session: Session, shop_id: str, order_id: str, body: OrderCancelIn, *, actor: str
) -> tuple[OrderCancellationOut, bool]:
    """Cancel a recorded order; returns the outcome and whether this call cancelled it.

    A cancellation is a return of whatever is left of the order (its amount less what
    returns already refunded), recorded as ``cancel:<order_id>`` so that the return hooks
    reverse what the order earned in every program exactly as a return would, then the
    status ``cancelled`` and the cancel hooks (the loyalty redemptions sent with the order
    give their points back). The order row is locked first, so concurrent cancellations
    queue and the later ones answer the first (200). 404 for an unknown order; 422 for a
    ``cancelled_at`` before the order.
    """
    order = session.execute(
        select(Order).where(Order.shop_id == shop_id, Order.order_id == order_id).with_for_update()
    ).scalar_one_or_none()
    if order is None:
        raise not_found(f"order '{order_id}' of shop '{shop_id}'")
    return_id = cancellation_return_id(order_id)
    if order.status == "cancelled":
        return _cancellation(session, order, return_id), False
    cancelled_at = body.cancelled_at or utcnow()
    if cancelled_at < order.ordered_at:
        raise invalid("cancelled_at", "the order cannot be cancelled before it was placed")
    left = order.amount - order.refunded_amount
    if left > 0:
        reversal = ReturnIn(
            shop_id=shop_id,
            return_id=return_id,
            order_id=order_id,
            returned_at=cancelled_at,
            amount=left,
            reason=f"order cancelled: {body.reason}" if body.reason else "order cancelled",
        )
        _write_return(session, reversal, order.customer_id)
        session.refresh(order)
    order.status = "cancelled"
    order.updated_at = utcnow()
    session.flush()
    hooks.order_cancelled(session, order)
    audit.record(
        session,
        actor=actor,
        action="order.cancel",
        target_type="order",
        target_id=order_id,
        details={
            "shop_id": shop_id,
            "reversed": str(left) if left > 0 else "0.00",
            "reason": body.reason,
        },
    )
    return _cancellation(session, order, return_id), True


def _cancellation(session: Session, order: Order, return_id: str) -> OrderCancellationOut:
    key = (order.shop_id, order.order_id)
    reversal = load_return(session, order.shop_id, return_id)
    if reversal is not None:
        reversal = _with_deduction(session, reversal)
    return OrderCancellationOut(order=load_orders(session, [key])[key], reversal=reversal)
