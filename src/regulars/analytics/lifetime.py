"""Historic customer lifetime value: what a customer whose life has ended brought in.

A customer's *life*, under the activity-window definition of "customer at a moment"
(:mod:`regulars.analytics.activity`), runs from their first purchase until the window
``W`` runs out after their last one: ``lifespan = last − first + W`` days. A customer
has **lapsed** by ``m`` when they bought before ``m − W`` and not since; only their
lives are complete, so only they are measured (still-active customers would cut lives
short and bias the value low).

Over the ``n`` customers lapsed by ``m`` (money is net: Σ ``net_amount`` of their
purchases, see :mod:`regulars.analytics.transactions`):

* **average lifespan** = Σ lifespan / n (days; in years / 365.25);
* **AOV** = Σ revenue / Σ orders;
* **purchase frequency** = Σ orders / Σ lifespan in years (purchases per year of life);
* **historic CLTV** = AOV × purchase frequency × average lifespan in years
  = Σ revenue / n (× margin, a fraction, when given), rounded half up to cents.

The product telescopes to the realised value of completed lifetimes: it *is* what lapsed
customers spent on average. Everything is defined on the customer and the moment ``m``,
never on a reporting period, so the figure is the same whatever period a report uses.
For a young shop, lapsed customers are those with the shortest lives, so the figure is
biased low until the shop is several windows old (``lapsed_customers`` says how many
lives it rests on); it is None until someone has lapsed.

**LTV:CAC** = historic CLTV / acquisition cost per customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import ibis.expr.types as ir

from regulars.analytics.activity import DEFAULT_ACTIVITY_WINDOW_DAYS
from regulars.analytics.expr import MONEY, ZERO_MONEY, days_between
from regulars.analytics.summary import customer_summary
from regulars.analytics.validation import require_positive

DAYS_PER_YEAR = 365.25
CENT = Decimal("0.01")


@dataclass(frozen=True)
class LifetimeValue:
    """Sums over the customers lapsed by ``as_of``, and the figures derived from them."""

    as_of: date
    activity_window_days: int
    lapsed_customers: int
    lapsed_orders: int
    lapsed_revenue: Decimal
    lifespan_days_total: int
    margin: Decimal | None = None
    acquisition_cost: Decimal | None = None

    @property
    def average_lifespan_days(self) -> float | None:
        return self.lifespan_days_total / self.lapsed_customers if self.lapsed_customers else None

    @property
    def aov(self) -> float | None:
        """Net revenue per order of the lapsed customers."""
        return float(self.lapsed_revenue) / self.lapsed_orders if self.lapsed_orders else None

    @property
    def purchase_frequency(self) -> float | None:
        """Purchases per year of customer life."""
        if not self.lifespan_days_total:
            return None
        return self.lapsed_orders / (self.lifespan_days_total / DAYS_PER_YEAR)

    @property
    def historic_cltv(self) -> Decimal | None:
        """Average net revenue of a completed life (× margin), to the cent."""
        if not self.lapsed_customers:
            return None
        value = self.lapsed_revenue / self.lapsed_customers
        if self.margin is not None:
            value *= self.margin
        return value.quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def ltv_cac(self) -> float | None:
        """Historic CLTV / acquisition cost; None without either (or a zero cost)."""
        cltv, cost = self.historic_cltv, self.acquisition_cost
        if cltv is None or cost is None or cost <= 0:
            return None
        return float(cltv / cost)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: money as exact decimal text, the date as ISO text."""
        lifespan = self.average_lifespan_days
        return {
            "as_of": self.as_of.isoformat(),
            "activity_window_days": self.activity_window_days,
            "lapsed_customers": self.lapsed_customers,
            "lapsed_orders": self.lapsed_orders,
            "lapsed_revenue": str(self.lapsed_revenue),
            "average_lifespan_days": lifespan,
            "average_lifespan_years": None if lifespan is None else lifespan / DAYS_PER_YEAR,
            "aov": self.aov,
            "purchase_frequency": self.purchase_frequency,
            "historic_cltv": _text(self.historic_cltv),
            "margin": _text(self.margin),
            "acquisition_cost": _text(self.acquisition_cost),
            "ltv_cac": self.ltv_cac,
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def lapsed_lives(
    orders: ir.Table, *, as_of: date, activity_window_days: int = DEFAULT_ACTIVITY_WINDOW_DAYS
) -> ir.Table:
    """A one-row table of sums over the customers lapsed by ``as_of``:
    ``lapsed_customers``, ``lapsed_orders``, ``lapsed_revenue`` (decimal, 0 when none)
    and ``lifespan_days_total`` (Σ last − first + W)."""
    require_positive("activity_window_days", activity_window_days)
    lives = customer_summary(orders, as_of=as_of)
    lapsed = lives.filter(lives.last_purchase < as_of - timedelta(days=activity_window_days))
    span = days_between(lapsed.last_purchase, lapsed.first_purchase) + activity_window_days
    return lapsed.aggregate(
        lapsed_customers=lapsed.count(),
        lapsed_orders=lapsed.purchases.sum().coalesce(0).cast("int64"),
        lapsed_revenue=lapsed.revenue.sum().cast(MONEY).coalesce(ZERO_MONEY),
        lifespan_days_total=span.sum().coalesce(0).cast("int64"),
    )


def lifetime_value(
    orders: ir.Table,
    *,
    as_of: date,
    activity_window_days: int = DEFAULT_ACTIVITY_WINDOW_DAYS,
    margin: Decimal | None = None,
    acquisition_cost: Decimal | None = None,
) -> LifetimeValue:
    """Historic CLTV as of ``as_of`` (see the module docstring), with one small query."""
    row: dict[str, Any] = (
        lapsed_lives(orders, as_of=as_of, activity_window_days=activity_window_days)
        .to_pyarrow()
        .to_pylist()[0]
    )
    return LifetimeValue(
        as_of=as_of,
        activity_window_days=activity_window_days,
        lapsed_customers=int(row["lapsed_customers"]),
        lapsed_orders=int(row["lapsed_orders"]),
        lapsed_revenue=Decimal(row["lapsed_revenue"]),
        lifespan_days_total=int(row["lifespan_days_total"]),
        margin=margin,
        acquisition_cost=acquisition_cost,
    )
