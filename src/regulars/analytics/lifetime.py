"""Average customer lifespan, historic CLTV and LTV:CAC.

**Average lifespan** (days), as of a moment ``m`` with activity window ``W``: the mean,
over customers who have *lapsed* by ``m`` (bought before ``m − W`` and not since), of
``last purchase − first purchase + W``. That is exactly how long each of them counted as
a customer under the activity-window definition: from the first purchase until the
window ran out after the last one. A one-time buyer therefore lived ``W`` days, not 0,
which keeps ``purchases per period × lifespan in periods`` ≈ purchases actually made.
Customers still active are left out because their lifespan is not finished (which
biases the figure low for a young shop); NULL when nobody has lapsed yet.

**Historic CLTV** = AOV × purchases per customer per period × lifespan in periods
(× margin, a fraction such as 0.3, when given), with the period the KPI period and
lifespan in periods = lifespan days / period days.

**LTV:CAC** = historic CLTV / acquisition cost per customer. The product's example:
a customer acquired for 1,000 who stays 3 years buying 20,000 a year is worth
20,000 × 1 × 3 = 60,000, so LTV:CAC = 60 (60:1).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import ibis.expr.types as ir

from regulars.analytics.expr import days_between


def lapsed_lifespans(purchases: ir.Table, *, as_of: date, window_days: int) -> ir.Table:
    """A one-row table ``lapsed_customers, average_lifespan_days`` (float64; NULL when
    no customer has lapsed by ``as_of``)."""
    before = purchases.filter(purchases.order_date < as_of)
    spans = before.group_by("customer_id").agg(
        first_date=before.order_date.min(), last_date=before.order_date.max()
    )
    lapsed = spans.filter(spans.last_date < as_of - timedelta(days=window_days))
    span_days = days_between(lapsed.last_date, lapsed.first_date)
    lapsed_count = lapsed.count()
    return lapsed.aggregate(
        lapsed_customers=lapsed_count,
        average_lifespan_days=span_days.sum().cast("float64") / lapsed_count.nullif(0)
        + window_days,
    )


def historic_cltv(
    aov: float | None,
    purchases_per_period: float | None,
    lifespan_periods: float | None,
    margin: Decimal | float | None = None,
) -> float | None:
    """AOV × purchases per period × lifespan in periods (× margin); None if any is
    unknown."""
    if aov is None or purchases_per_period is None or lifespan_periods is None:
        return None
    value = aov * purchases_per_period * lifespan_periods
    return value * float(margin) if margin is not None else value


def ltv_to_cac(cltv: float | None, acquisition_cost: Decimal | float | None) -> float | None:
    """CLTV / acquisition cost; None without a CLTV or a positive acquisition cost."""
    if cltv is None or acquisition_cost is None or acquisition_cost <= 0:
        return None
    return cltv / float(acquisition_cost)
