"""The activity-window definition of "a customer at a moment".

A customer is *active* (counts as a customer) at moment ``m`` — the start of day ``m``
— when they made a purchase within ``[m − W, m)``, ``W`` being the activity window in
days (default 365). Equivalently: their last purchase day before ``m`` is at most ``W``
days before ``m``.

Counting active customers without a customer × moment grid: a purchase on day ``d``,
followed by the customer's next purchase on day ``n``, is the customer's *last purchase
before m* exactly for ``d < m ≤ n``, and keeps them active for ``m ≤ d + W``. So each
purchase day contributes one interval of days ``[d + 1, min(n, d + W)]`` during which
its customer is active, and a customer's intervals never overlap. The number of active
customers at ``m`` is then the running sum of +1 at each interval's first day and −1
after its last day, evaluated at ``m``: one pass over purchase days, however many
moments are asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from regulars.analytics.expr import date_literal, days_between

DEFAULT_ACTIVITY_WINDOW_DAYS = 365
_EPOCH = date(1970, 1, 1)


def day_number(day: ir.DateValue) -> ir.IntegerValue:
    """Days since 1970-01-01: dates as integers, so interval ends are exact sums."""
    return days_between(day, date_literal(_EPOCH))


def purchase_days(purchases: ir.Table) -> ir.Table:
    """``customer_id, order_date, next_date``: each day a customer bought, with the next
    day they bought (NULL after the last one)."""
    days = purchases.select("customer_id", "order_date").distinct()
    following = days.order_date.lead().over(group_by=days.customer_id, order_by=days.order_date)
    return days.mutate(next_date=following)


def _activity_changes(purchases: ir.Table, window_days: int) -> ir.Table:
    """``day, change``: net change in the number of active customers on each day."""
    days = purchase_days(purchases)
    bought = day_number(days.order_date)
    until = ibis.least(
        day_number(days.next_date).coalesce(bought + window_days), bought + window_days
    )
    starts = days.select(day=bought + 1, change=ibis.literal(1, type="int64"))
    ends = days.select(day=until + 1, change=ibis.literal(-1, type="int64"))
    changes = ibis.union(starts, ends, distinct=False)
    return changes.group_by("day").agg(change=changes.change.sum())


def active_counts(purchases: ir.Table, moments: Iterable[date], window_days: int) -> ir.Table:
    """``moment, active``: the number of customers active at each moment."""
    ordered = sorted(set(moments))
    points = ibis.memtable(
        pa.table(
            {
                "moment": pa.array(ordered, pa.date32()),
                "moment_day": pa.array([(m - _EPOCH).days for m in ordered], pa.int64()),
            }
        )
    )
    changes = _activity_changes(purchases, window_days)
    joined = points.left_join(changes, changes.day <= points.moment_day)
    return joined.group_by("moment").agg(active=joined.change.sum().coalesce(0))
