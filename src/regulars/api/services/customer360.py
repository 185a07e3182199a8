"""Customer 360: the profile plus one section per kind of knowledge about the customer.

Each section is a provider ``(session, customer) -> value`` registered in :data:`SECTIONS`
under the name of its member in :class:`~regulars.api.schemas.CustomerOut`. A later part
(loyalty balance, messages, surveys, support cases) adds one provider here and one
optional member (``… | None = None``) to ``CustomerOut``; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.api.schemas import (
    ConsentOut,
    CustomerOut,
    CustomerSummary,
    EventOut,
    LoyaltyBalance,
    OrderOut,
    PurchaseStats,
    ReturnOut,
    Scores,
)
from regulars.api.services.common import find_customer
from regulars.api.services.events import recent_events
from regulars.api.services.orders import customer_returns, orders_out
from regulars.clock import utcnow
from regulars.data.purchase import counts_as_purchase
from regulars.loyalty.points.views import loyalty_summary
from regulars.store.tables import Consent, Customer, CustomerAlias, CustomerScore, Order

RECENT_ORDERS = 10
RECENT_RETURNS = 10
RECENT_EVENTS = 20
_SECONDS_PER_DAY = 86_400

SectionProvider = Callable[[Session, Customer], Any]


def purchase_stats(session: Session, customer: Customer) -> PurchaseStats:
    """Purchases by the analytics' rule, money net of refunds.

    * ``orders_count`` = n, the orders that :func:`counts_as_purchase` (not cancelled,
      positive net amount); a standalone return (negative amount) is not a purchase.
    * ``revenue`` = Σ (amount − refunded_amount) over all orders that are not cancelled,
      standalone returns included, summed exactly as Decimal;
      ``average_check`` = revenue / n.
    * ``mean_days_between_purchases`` = (last − first) / (n − 1) in days, for n ≥ 2: the
      mean of the n − 1 gaps between consecutive purchases (their sum telescopes).
    * ``days_since_last_purchase``: whole days from the last purchase to now.
    """
    rows = session.execute(
        select(Order.ordered_at, Order.amount, Order.refunded_amount, Order.status).where(
            Order.customer_id == customer.customer_id, Order.status != "cancelled"
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
    mean_gap = None
    if first is not None and last is not None and count >= 2:
        mean_gap = round((last - first).total_seconds() / _SECONDS_PER_DAY / (count - 1), 2)
    return PurchaseStats(
        orders_count=count,
        first_order_at=first,
        last_order_at=last,
        revenue=revenue,
        average_check=(revenue / count).quantize(Decimal("0.01")) if count else None,
        mean_days_between_purchases=mean_gap,
        days_since_last_purchase=None if last is None else (utcnow() - last).days,
    )


def consents(session: Session, customer: Customer) -> list[ConsentOut]:
    rows = session.scalars(
        select(Consent).where(Consent.customer_id == customer.customer_id).order_by(Consent.id)
    ).all()
    return [ConsentOut.model_validate(c, from_attributes=True) for c in rows]


def scores(session: Session, customer: Customer) -> Scores | None:
    """What the analytics last wrote back (``customer_scores``), or ``None``."""
    row = session.scalars(
        select(CustomerScore).where(CustomerScore.customer_id == customer.customer_id)
    ).one_or_none()
    return None if row is None else Scores.model_validate(row, from_attributes=True)


def recent_orders(session: Session, customer: Customer) -> list[OrderOut]:
    rows = session.scalars(
        select(Order)
        .where(Order.customer_id == customer.customer_id)
        .order_by(Order.ordered_at.desc(), Order.id.desc())
        .limit(RECENT_ORDERS)
    ).all()
    return orders_out(session, rows)


def returns(session: Session, customer: Customer) -> list[ReturnOut]:
    return customer_returns(session, customer.customer_id, RECENT_RETURNS)


def events(session: Session, customer: Customer) -> list[EventOut]:
    return recent_events(session, customer.customer_id, RECENT_EVENTS)


def aliases(session: Session, customer: Customer) -> list[str]:
    """The ``customer_id``s merged into this customer."""
    return list(
        session.scalars(
            select(CustomerAlias.alias_id)
            .where(CustomerAlias.customer_id == customer.customer_id)
            .order_by(CustomerAlias.id)
        )
    )


def loyalty(session: Session, customer: Customer) -> list[LoyaltyBalance]:
    """Balance, available and pending points and tier in every program the customer is
    enrolled in (a shared household card: the household's account)."""
    return [
        LoyaltyBalance(
            program=view.program,
            state=view.state,
            balance=view.balance,
            available=view.available,
            pending=view.pending,
            tier=view.tier,
        )
        for view in loyalty_summary(session, customer.customer_id)
    ]


SECTIONS: dict[str, SectionProvider] = {
    "aliases": aliases,
    "purchases": purchase_stats,
    "consents": consents,
    "scores": scores,
    "recent_orders": recent_orders,
    "returns": returns,
    "recent_events": events,
    "loyalty": loyalty,
}
"""Member name of :class:`CustomerOut` → the provider that computes it."""


def customer_360(session: Session, customer_id: str) -> CustomerOut:
    """Everything known about one customer (following a merge alias); 404 when unknown."""
    customer = find_customer(session, customer_id)
    profile = CustomerSummary.model_validate(customer, from_attributes=True)
    sections = {name: provide(session, customer) for name, provide in SECTIONS.items()}
    return CustomerOut(**dict(profile), **sections)
