"""Retention and commerce metrics for a set of periods, in one Ibis expression.

Both :func:`regulars.analytics.kpis.period_kpis` (one arbitrary period) and
:func:`regulars.analytics.kpis.kpi_series` (consecutive calendar periods) are this one
computation over a different table of periods, so their numbers cannot drift apart.

For a period ``[start, end)`` and activity window ``W`` (see
:mod:`regulars.analytics.activity`):

* ``customers_start`` S — customers active at ``start`` (hence bought before it).
* ``customers_new`` N — customers whose first-ever purchase is in ``[start, end)``.
* ``customers_end`` E — customers active at ``end``.
* ``retained`` — customers of S also active at ``end``; ``lost = S − retained``.
* ``reactivated`` — bought before ``start``, not active at ``start``, bought in the period.
* ``crr = retained / S × 100``; ``churn_rate = lost / S × 100`` (NULL when S = 0).
  When ``W`` ≥ the period length, ``E = retained + N + reactivated``, so
  ``crr = (E − N − reactivated) / S × 100``.
* Repeat-based variant, same S: ``repeat_retained`` — customers of S who bought in the
  period; ``repeat_lost = S − repeat_retained``;
  ``repeat_customers_end = repeat_retained + N + reactivated``; ``repeat_crr`` and
  ``repeat_churn_rate`` likewise.
* ``orders`` — purchases in the period; ``unique_customers`` — customers with one;
  ``repeat_buyers`` — customers with two or more; ``revenue`` — net revenue;
  ``repeat_purchase_rate = repeat_buyers / unique_customers × 100``;
  ``aov = revenue / orders`` (float64); ``purchase_frequency = orders / unique_customers``.

How it is computed, without a customer × period grid: S and E come from
:func:`~regulars.analytics.activity.active_counts`. Customers who bought in a period are
classified from their own purchases (one row per customer and period): new,
reactivated, active at the start (by their purchase before the period) and at the end
(by their last purchase in it). Someone active at ``end`` who did not buy in the period
was already active at ``start``, so

    retained = E − (buyers active at the end who were not active at the start)

— that is ``E − N − reactivated`` whenever every buyer of the period is still active at
its end (``W`` ≥ the period length), the textbook formula (docs/metrics.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from regulars.analytics.activity import active_counts
from regulars.analytics.expr import ZERO_MONEY, count_where, percent, ratio
from regulars.analytics.transactions import purchases, revenue_lines

# The output columns, in order.
COLUMNS = (
    "period_start",
    "period_end",
    "customers_start",
    "customers_new",
    "customers_end",
    "retained",
    "lost",
    "reactivated",
    "crr",
    "churn_rate",
    "repeat_retained",
    "repeat_lost",
    "repeat_customers_end",
    "repeat_crr",
    "repeat_churn_rate",
    "orders",
    "unique_customers",
    "repeat_buyers",
    "revenue",
    "repeat_purchase_rate",
    "aov",
    "purchase_frequency",
)
_COUNTS = (
    "customers_start",
    "customers_new",
    "customers_end",
    "joined_at_end",
    "reactivated",
    "repeat_retained",
    "orders",
    "unique_customers",
    "repeat_buyers",
)


def _periods(bounds: Sequence[tuple[date, date]], window_days: int) -> ir.Table:
    """``period_start, period_end`` with the activity windows' starts for both ends,
    computed in Python so the engine only compares dates."""
    window = timedelta(days=window_days)
    return ibis.memtable(
        pa.table(
            {
                "period_start": pa.array([s for s, _ in bounds], pa.date32()),
                "period_end": pa.array([e for _, e in bounds], pa.date32()),
                "start_window": pa.array([s - window for s, _ in bounds], pa.date32()),
                "end_window": pa.array([e - window for _, e in bounds], pa.date32()),
            }
        )
    )


def _in_period(dated: ir.Table, periods: ir.Table) -> ir.Table:
    """Join rows with an ``order_date`` to the period that contains it."""
    return dated.join(
        periods,
        [dated.order_date >= periods.period_start, dated.order_date < periods.period_end],
    )


def _buyers(bought: ir.Table, periods: ir.Table) -> ir.Table:
    """One row per customer and period with purchases in it: ``purchases``, ``is_new``
    (first-ever purchase in the period), ``at_start``/``at_end`` (active then)."""
    previous = bought.order_date.lag().over(group_by=bought.customer_id, order_by=bought.order_date)
    joined = _in_period(bought.mutate(previous_date=previous), periods)
    rows = joined.group_by("customer_id", "period_start", "start_window", "end_window").agg(
        purchases=joined.count(),
        # Only the customer's very first purchase has no previous one.
        is_new=count_where(joined.previous_date.isnull()) > 0,
        # The earliest "previous purchase" is the one before the period (if any).
        before_period=joined.previous_date.min(),
        last_in_period=joined.order_date.max(),
    )
    at_start = ~rows.is_new & (rows.before_period >= rows.start_window)
    return rows.mutate(at_start=at_start, at_end=rows.last_in_period >= rows.end_window)


def _buyer_counts(buyers: ir.Table) -> ir.Table:
    return buyers.group_by("period_start").agg(
        customers_new=count_where(buyers.is_new),
        reactivated=count_where(~buyers.is_new & ~buyers.at_start),
        repeat_retained=count_where(buyers.at_start),
        # active at the end without having been active at the start: new or reactivated
        joined_at_end=count_where(buyers.at_end & ~buyers.at_start),
        orders=buyers.purchases.sum(),
        unique_customers=buyers.count(),
        repeat_buyers=count_where(buyers.purchases >= 2),
    )


def _active_counts(
    bought: ir.Table, bounds: Sequence[tuple[date, date]], periods: ir.Table, window_days: int
) -> tuple[ir.Table, ir.Table]:
    """S and E per period: customers active at its start and at its end."""
    counts = active_counts(bought, [m for b in bounds for m in b], window_days)
    at_start = counts.join(periods, counts.moment == periods.period_start)
    at_end = counts.join(periods, counts.moment == periods.period_end)
    return (
        at_start.select("period_start", customers_start=at_start.active),
        at_end.select("period_start", customers_end=at_end.active),
    )


def _period_revenue(orders: ir.Table, periods: ir.Table) -> ir.Table:
    joined = _in_period(revenue_lines(orders), periods)
    return joined.group_by("period_start").agg(revenue=joined.net_amount.sum())


def _with_rates(counts: ir.Table) -> ir.Table:
    """Add the derived counts and rates (see the module docstring)."""
    retained = counts.customers_end - counts.joined_at_end
    lost = counts.customers_start - retained
    repeat_lost = counts.customers_start - counts.repeat_retained
    return counts.mutate(
        retained=retained,
        lost=lost,
        crr=percent(retained, counts.customers_start),
        churn_rate=percent(lost, counts.customers_start),
        repeat_lost=repeat_lost,
        repeat_customers_end=counts.repeat_retained + counts.customers_new + counts.reactivated,
        repeat_crr=percent(counts.repeat_retained, counts.customers_start),
        repeat_churn_rate=percent(repeat_lost, counts.customers_start),
        repeat_purchase_rate=percent(counts.repeat_buyers, counts.unique_customers),
        aov=ratio(counts.revenue, counts.orders),
        purchase_frequency=ratio(counts.orders, counts.unique_customers),
    ).select(*COLUMNS)


def period_metrics(
    orders: ir.Table, bounds: Sequence[tuple[date, date]], window_days: int
) -> ir.Table:
    """One row per ``(period_start, period_end)`` in ``bounds`` with every count and rate
    of the module docstring, ordered by ``period_start``."""
    periods = _periods(bounds, window_days)
    bought = purchases(orders)
    parts = (
        *_active_counts(bought, bounds, periods, window_days),
        _buyer_counts(_buyers(bought, periods)),
        _period_revenue(orders, periods),
    )
    joined = periods.select("period_start", "period_end")
    for part in parts:
        joined = joined.left_join(part, "period_start")
    filled = joined.select(
        "period_start",
        "period_end",
        *(joined[c].coalesce(0).cast("int64").name(c) for c in _COUNTS),
        revenue=joined.revenue.coalesce(ZERO_MONEY),
    )
    return _with_rates(filled).order_by("period_start")
