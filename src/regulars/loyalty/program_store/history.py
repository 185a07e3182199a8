"""A customer's history from the store, as the rules read it
(:mod:`regulars.loyalty.program_types.history`).

Purchases are the customer's orders that are not cancelled and have a positive amount,
with their lines; returns are their ``order_returns`` with the returned lines. A returned
line names a SKU (and quantity, amount); its category is looked up on the order's line of
that SKU, so a category-based stamp card loses the right stamps. Reviews are the
customer's ``review_written`` events (:func:`customer_reviews`), each about the subject
:func:`review_subject` names (the rule the review bonus of a points program uses too).
Evaluations of one customer run under :func:`lock_customer`, one after the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.loyalty.program_types.badges import Review
from regulars.loyalty.program_types.history import OrderLine, Purchase, Return
from regulars.store.tables import Customer, Event, Order, OrderReturn
from regulars.store.tables import OrderLine as StoreLine

REVIEW_EVENT = "review_written"
"""The behavioural event kind of a review: it earns a points program's ``review_written``
bonus and counts in a badge's ``reviews`` metric."""


@dataclass(frozen=True)
class History:
    purchases: list[Purchase]
    returns: list[Return]

    def since(self, start: datetime) -> History:
        """Only what happened from ``start`` on (a program counts from its launch)."""
        return History(
            [p for p in self.purchases if p.at >= start],
            [r for r in self.returns if r.at >= start],
        )


def _purchase_lines(session: Session, orders: list[Order]) -> dict[tuple[str, str], list[Any]]:
    by_order: dict[tuple[str, str], list[Any]] = {}
    if not orders:
        return by_order
    rows = session.execute(
        select(
            StoreLine.shop_id,
            StoreLine.order_id,
            StoreLine.sku,
            StoreLine.category,
            StoreLine.quantity,
            StoreLine.line_amount,
        )
        .where(StoreLine.order_id.in_([o.order_id for o in orders]))
        .order_by(StoreLine.id)
    ).all()
    for shop, order_id, sku, category, quantity, amount in rows:
        by_order.setdefault((shop, order_id), []).append(
            OrderLine(quantity=int(quantity), amount=Decimal(amount), sku=sku, category=category)
        )
    return by_order


def _returned_lines(raw: list[dict[str, Any]], bought: list[OrderLine]) -> tuple[OrderLine, ...]:
    categories = {line.sku: line.category for line in bought if line.sku}
    lines = []
    for item in raw:
        sku = item.get("sku")
        lines.append(
            OrderLine(
                quantity=int(item.get("quantity", 0)),
                amount=Decimal(str(item.get("line_amount", "0"))),
                sku=sku,
                category=item.get("category") or (categories.get(sku) if sku else None),
            )
        )
    return tuple(lines)


def customer_history(session: Session, customer_id: str) -> History:
    """Every purchase and return of ``customer_id`` in the store."""
    orders = list(
        session.scalars(
            select(Order)
            .where(Order.customer_id == customer_id, Order.status != "cancelled")
            .order_by(Order.ordered_at, Order.order_id)
        )
    )
    lines = _purchase_lines(session, orders)
    purchases = [
        Purchase(
            order_id=o.order_id,
            customer_id=customer_id,
            at=o.ordered_at,
            amount=o.amount,
            lines=tuple(lines.get((o.shop_id, o.order_id), [])),
            shop_id=o.shop_id,
        )
        for o in orders
        if o.amount > 0
    ]
    returns = [
        Return(
            return_id=r.return_id,
            order_id=r.order_id,
            customer_id=customer_id,
            at=r.returned_at,
            amount=r.amount,
            lines=_returned_lines(r.lines or [], lines.get((r.shop_id, r.order_id), [])),
        )
        for r in session.scalars(
            select(OrderReturn)
            .where(OrderReturn.customer_id == customer_id)
            .order_by(OrderReturn.returned_at, OrderReturn.id)
        )
    ]
    return History(purchases, returns)


def review_subject(sku: str | None, payload: Mapping[str, Any]) -> str | None:
    """What a ``review_written`` event reviews: the event's ``sku``, else the payload's
    ``sku`` or ``product_id`` (a product), else ``order:<payload order_id>`` (an order);
    None when it names none of them."""
    for product in (sku, payload.get("sku"), payload.get("product_id")):
        if product not in (None, ""):
            return str(product)
    order_id = payload.get("order_id")
    return f"order:{order_id}" if order_id not in (None, "") else None


def customer_reviews(session: Session, customer_id: str) -> list[Review]:
    """The customer's ``review_written`` events that name a subject (:func:`review_subject`),
    oldest first (ties by id); an event naming none is no review."""
    rows = session.execute(
        select(Event.sku, Event.payload, Event.occurred_at)
        .where(Event.customer_id == customer_id, Event.kind == REVIEW_EVENT)
        .order_by(Event.occurred_at, Event.id)
    ).all()
    reviews = []
    for sku, payload, at in rows:
        subject = review_subject(sku, payload or {})
        if subject is not None:
            reviews.append(Review(customer_id, at, subject))
    return reviews


def lock_customer(session: Session, customer_id: str) -> None:
    """Lock the customer's row before their history is read and evaluated, so that two
    concurrent orders of one customer are evaluated one after the other, the second
    seeing the first (``FOR NO KEY UPDATE`` on PostgreSQL: it does not conflict with the
    key-share lock the order's foreign key holds; SQLite has a single writer)."""
    session.execute(
        select(Customer.id)
        .where(Customer.customer_id == customer_id)
        .with_for_update(key_share=True)
    )
