"""Customer lifecycle per calendar period ("growth accounting").

For each period P with previous period P−1, every customer who bought in P or P−1 is
exactly one of:

* ``new`` — first-ever purchase in P;
* ``returning`` — bought in P−1 and in P;
* ``resurrected`` — bought in P, not in P−1, but at some time before P−1;
* ``dormant`` — bought in P−1, not in P.

``active = new + returning + resurrected`` (customers who bought in P), and
``active(P−1) = returning(P) + dormant(P)``. History before ``start`` is used to
classify the first period.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from regulars.analytics.expr import count_where
from regulars.analytics.periods import (
    PeriodUnit,
    calendar_periods,
    previous_period_start,
    truncate,
)
from regulars.analytics.transactions import purchases

_COUNTS = ("new", "returning", "resurrected", "dormant")


def _periods_with_previous(start: date, end: date, unit: PeriodUnit) -> ir.Table:
    bounds = calendar_periods(start, end, unit)
    starts = [b[0] for b in bounds]
    return ibis.memtable(
        pa.table(
            {
                "period_start": pa.array(starts, pa.date32()),
                "previous_start": pa.array(
                    [previous_period_start(s, unit) for s in starts], pa.date32()
                ),
            }
        )
    )


def _buying_periods(orders: ir.Table, unit: PeriodUnit) -> ir.Table:
    """``customer_id, bought_in, prior, following``: each period a customer bought in,
    with the customer's previous and next such period (NULL when none)."""
    bought = purchases(orders)
    periods = bought.select("customer_id", bought_in=truncate(bought.order_date, unit)).distinct()
    by_customer = ibis.window(group_by=periods.customer_id, order_by=periods.bought_in)
    return periods.mutate(
        prior=periods.bought_in.lag().over(by_customer),
        following=periods.bought_in.lead().over(by_customer),
    )


def _buyer_counts(buying: ir.Table, periods: ir.Table) -> ir.Table:
    joined = buying.join(periods, buying.bought_in == periods.period_start)
    returning = joined.prior == joined.previous_start
    return joined.group_by("period_start").agg(
        new=count_where(joined.prior.isnull()),
        returning=count_where(returning),
        resurrected=count_where(joined.prior.notnull() & ~returning),
    )


def _dormant_counts(buying: ir.Table, periods: ir.Table) -> ir.Table:
    joined = buying.join(periods, buying.bought_in == periods.previous_start)
    stopped = joined.following.isnull() | (joined.following != joined.period_start)
    return joined.group_by("period_start").agg(dormant=count_where(stopped))


def lifecycle(orders: ir.Table, *, period: PeriodUnit, start: date, end: date) -> ir.Table:
    """``period_start, new, returning, resurrected, dormant, active`` for every calendar
    period intersecting ``[start, end)``, ordered by ``period_start``."""
    periods = _periods_with_previous(start, end, period)
    buying = _buying_periods(orders, period)
    joined = periods.left_join(_buyer_counts(buying, periods), "period_start").left_join(
        _dormant_counts(buying, periods), "period_start"
    )
    filled = joined.select(
        "period_start", *(joined[c].coalesce(0).cast("int64").name(c) for c in _COUNTS)
    )
    return filled.mutate(active=filled.new + filled.returning + filled.resurrected).order_by(
        "period_start"
    )
