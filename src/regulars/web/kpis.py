"""The dashboard's numbers, read from the store: KPIs for a period (SQL aggregates over
``orders`` with the purchase rule) and what the nightly scores refresh stored
(``customer_scores``: segments, who is at risk). No raw order is brought into Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select, type_coerce
from sqlalchemy.orm import Session, aliased

from regulars.scoring import at_risk as rule
from regulars.store.purchases import is_purchase, net_amount
from regulars.store.tables import Customer, CustomerScore, Order
from regulars.store.types import MONEY

AT_RISK_ROWS = 10


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC days."""

    start: date
    end: date

    def bounds(self) -> tuple[datetime, datetime]:
        return (
            datetime.combine(self.start, time(), UTC),
            datetime.combine(self.end, time(), UTC),
        )

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def previous(self) -> Period:
        return Period(self.start - (self.end - self.start), self.start)


@dataclass(frozen=True)
class Kpis:
    revenue: Decimal
    orders: int
    customers: int
    new_customers: int

    @property
    def average_check(self) -> Decimal | None:
        return (self.revenue / self.orders).quantize(Decimal("0.01")) if self.orders else None

    @property
    def returning_customers(self) -> int:
        return self.customers - self.new_customers


def last_order_day(session: Session) -> date | None:
    """The UTC day of the latest order: the dashboard's periods end there by default."""
    last = session.scalar(select(func.max(Order.ordered_at)))
    return None if last is None else last.astimezone(UTC).date()


def period_kpis(session: Session, period: Period) -> Kpis:
    """Net revenue (every order not cancelled, return documents included, net of refunds),
    purchases, buyers and new buyers (first purchase ever in the period)."""
    start, end = period.bounds()
    in_period = and_(Order.ordered_at >= start, Order.ordered_at < end)
    revenue = session.scalar(
        select(func.coalesce(func.sum(net_amount()), 0)).where(
            in_period, func.coalesce(Order.status, "completed") != "cancelled"
        )
    )
    orders, customers = session.execute(
        select(func.count(), func.count(Order.customer_id.distinct())).where(
            in_period, is_purchase()
        )
    ).one()
    # New: a buyer of the period with no purchase before it. NOT EXISTS probes the
    # (customer_id, ordered_at) index once per buyer, instead of every customer's history.
    earlier = aliased(Order)
    bought_before = (
        select(earlier.id)
        .where(
            earlier.customer_id == Order.customer_id,
            earlier.ordered_at < start,
            is_purchase(earlier),
        )
        .exists()
    )
    new = session.scalar(
        select(func.count(Order.customer_id.distinct())).where(
            in_period, is_purchase(), ~bought_before
        )
    )
    return Kpis(Decimal(revenue or 0).quantize(Decimal("0.01")), orders, customers, new or 0)


@dataclass(frozen=True)
class ScoreSummary:
    scored: int
    computed_at: datetime | None
    segments: list[tuple[str, int]]
    threshold: float | None
    """Churn risk (0–1) from which an active customer is at risk; None before any score."""
    at_risk: int
    value_at_risk: Decimal
    """Σ churn risk × 12-month CLV over the customers at risk."""


def score_summary(session: Session) -> ScoreSummary:
    """What the last scores refresh stored: segment sizes and the customers at risk."""
    scored, computed_at = session.execute(
        select(func.count(), func.max(CustomerScore.computed_at))
    ).one()
    segments = session.execute(
        select(CustomerScore.segment, func.count())
        .where(CustomerScore.segment.is_not(None))
        .group_by(CustomerScore.segment)
        .order_by(func.count().desc(), CustomerScore.segment)
    ).all()
    threshold = rule.at_risk_threshold(session)
    at_risk, value = 0, Decimal(0)
    if threshold is not None:
        at_risk, value = session.execute(
            select(func.count(), type_coerce(func.sum(rule.value_at_risk()), MONEY)).where(
                rule.at_risk(threshold)
            )
        ).one()
    return ScoreSummary(
        scored,
        computed_at,
        [(str(s), int(n)) for s, n in segments],
        threshold,
        at_risk,
        value or Decimal("0.00"),
    )


def at_risk_customers(session: Session, limit: int = AT_RISK_ROWS) -> list[dict[str, Any]]:
    """Who to call first: active customers at risk, the largest value at risk (churn
    risk × 12-month CLV) first, as in the report (:mod:`regulars.models.risk`)."""
    threshold = rule.at_risk_threshold(session)
    if threshold is None:
        return []
    rows = session.execute(
        select(
            Customer.customer_id,
            Customer.name,
            CustomerScore.segment,
            CustomerScore.churn_risk,
            CustomerScore.clv_12m,
        )
        .join(CustomerScore, CustomerScore.customer_id == Customer.customer_id)
        .where(rule.at_risk(threshold))
        .order_by(rule.value_at_risk().desc().nulls_last(), Customer.customer_id)
        .limit(limit)
    ).all()
    return [row._asdict() for row in rows]


def default_period(session: Session, days: int) -> Period | None:
    last = last_order_day(session)
    if last is None:
        return None
    end = last + timedelta(days=1)
    return Period(end - timedelta(days=days), end)
