"""Acquisition cohorts: who keeps buying, and how much, period after period.

* ``cohort_start`` — the start of the week/month/quarter of a customer's first purchase.
* ``period_number`` — whole periods from the cohort's period to the purchase's period
  (0 = the acquisition period itself).
* ``customers`` — ``"exact"`` mode: cohort customers who bought in period N;
  ``"cumulative"`` mode: cohort customers who bought in period N *or later* (up to
  ``as_of``), a non-increasing curve.
* ``customer_share = customers / cohort_size × 100`` (period 0 is 100 % in both modes:
  everybody bought in their acquisition period).
* ``revenue`` — net purchase revenue (``amount − refunded_amount`` of counted
  purchases) of the cohort in period N, in both modes; standalone return documents are
  not attributed to cohorts. ``revenue_share = revenue / period-0 revenue × 100``
  (null when the period-0 revenue is 0: a cohort of zero-value orders only).

Only purchases before ``as_of`` count (default: all of them). Each cohort has a row for
every period from 0 to the period that contains the last observed day, zeros included.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal, get_args

import ibis
import ibis.expr.types as ir

from regulars.analytics.expr import ZERO_MONEY, percent
from regulars.analytics.periods import periods_between, truncate
from regulars.analytics.transactions import purchases
from regulars.analytics.validation import require_choice

CohortUnit = Literal["week", "month", "quarter"]
CohortMode = Literal["exact", "cumulative"]
COHORT_UNITS: tuple[str, ...] = get_args(CohortUnit)
COHORT_MODES: tuple[str, ...] = get_args(CohortMode)


def _cohort_purchases(bought: ir.Table, unit: CohortUnit) -> ir.Table:
    """Purchases with ``cohort_start`` and ``period_number``."""
    first_date = bought.order_date.min().over(group_by=bought.customer_id)
    dated = bought.mutate(
        cohort_start=truncate(first_date, unit),
        purchase_period=truncate(bought.order_date, unit),
    )
    return dated.mutate(
        period_number=periods_between(dated.purchase_period, dated.cohort_start, unit)
    )


def _grid(
    cohort_rows: ir.Table, bought: ir.Table, unit: CohortUnit, as_of: date | None
) -> ir.Table:
    """``cohort_start, cohort_size, period_number`` for every observable period."""
    sizes = cohort_rows.group_by("cohort_start").agg(cohort_size=cohort_rows.customer_id.nunique())
    if as_of is None:
        last_day: ir.Value = bought.order_date.max().as_scalar()
    else:
        last_day = ibis.literal(as_of - timedelta(days=1))
    last_number = periods_between(truncate(last_day, unit), sizes.cohort_start, unit)
    return sizes.select(
        "cohort_start",
        "cohort_size",
        period_number=ibis.range(0, last_number + 1).unnest(),
    )


def _exact_customers(cohort_rows: ir.Table, grid: ir.Table) -> ir.Table:
    """The grid with ``customers``: cohort customers who bought in period N."""
    buyers = cohort_rows.group_by("cohort_start", "period_number").agg(
        customers=cohort_rows.customer_id.nunique()
    )
    joined = grid.left_join(buyers, ["cohort_start", "period_number"])
    return joined.select(
        "cohort_start",
        "cohort_size",
        "period_number",
        customers=joined.customers.coalesce(0).cast("int64"),
    )


def _customers_still_buying(cohort_rows: ir.Table, grid: ir.Table) -> ir.Table:
    """The grid with ``customers``: cohort customers whose last purchase period is N or
    later.

    Each customer is counted once at their last period, then summed from the latest
    period backwards: a cumulative count without a customer × period cross join.
    """
    last = cohort_rows.group_by("customer_id", "cohort_start").agg(
        last_number=cohort_rows.period_number.max()
    )
    ends = last.group_by("cohort_start", period_number=last.last_number).agg(ending=last.count())
    joined = grid.left_join(ends, ["cohort_start", "period_number"])
    ending = joined.ending.coalesce(0)
    backwards = ibis.cumulative_window(
        group_by=joined.cohort_start, order_by=ibis.desc(joined.period_number)
    )
    return joined.select(
        "cohort_start",
        "cohort_size",
        "period_number",
        customers=ending.sum().over(backwards).cast("int64"),
    )


def cohort_matrix(
    orders: ir.Table,
    *,
    cohort: CohortUnit = "month",
    mode: CohortMode = "exact",
    as_of: date | None = None,
) -> ir.Table:
    """Long cohort table: ``cohort_start, period_number, cohort_size, customers,
    customer_share, revenue, revenue_share`` ordered by cohort and period."""
    require_choice("cohort", cohort, COHORT_UNITS)
    require_choice("mode", mode, COHORT_MODES)
    bought = purchases(orders)
    if as_of is not None:
        bought = bought.filter(bought.order_date < as_of)
    cohort_rows = _cohort_purchases(bought, cohort)
    grid = _grid(cohort_rows, bought, cohort, as_of)
    if mode == "exact":
        counted = _exact_customers(cohort_rows, grid)
    else:
        counted = _customers_still_buying(cohort_rows, grid)
    revenue = cohort_rows.group_by("cohort_start", "period_number").agg(
        revenue=cohort_rows.net_amount.sum()
    )
    keys = ["cohort_start", "period_number"]
    joined = counted.left_join(revenue, keys)
    filled = joined.select(
        "cohort_start",
        "period_number",
        "cohort_size",
        "customers",
        revenue=joined.revenue.coalesce(ZERO_MONEY),
    )
    first_revenue = (
        ibis.ifelse(filled.period_number == 0, filled.revenue, None)
        .max()
        .over(group_by=filled.cohort_start)
    )
    return filled.mutate(
        customer_share=percent(filled.customers, filled.cohort_size),
        revenue_share=percent(filled.revenue, first_revenue),
    ).order_by(keys)
