"""Compute everything a retention report shows, once, as small materialised tables.

Each step is an Ibis query run by the engine; only aggregates (and the per-customer
table, written to Parquet) come back to Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import ibis
import pyarrow as pa

from regulars.analytics.goal import RetentionGoal
from regulars.analytics.kpis import PeriodKPIs
from regulars.analytics.lifetime import LifetimeValue
from regulars.analytics.periods import last_complete_period, shift_periods
from regulars.analytics.rfm import SEGMENTS
from regulars.analytics.transactions import purchases
from regulars.config import Period
from regulars.engine import table_from_arrow
from regulars.report.future import Future, compute_future, with_scores
from regulars.shop import Shop

Progress = Callable[[str], None]

KIND_ORDER = ("one-time", "occasional", "regular")
TREND_PERIODS = {"week": 26, "month": 24, "quarter": 12, "year": 6}
COHORT_GRAIN: dict[Period, str] = {
    "week": "week",
    "month": "month",
    "quarter": "quarter",
    "year": "quarter",
}


@dataclass(frozen=True)
class Totals:
    customers: int
    orders: int
    revenue: str  # Decimal as text: exact in JSON
    first_order: date
    last_order: date


@dataclass
class ReportData:
    """Everything the HTML, JSON and Parquet outputs are rendered from."""

    as_of: date
    period: Period
    totals: Totals
    current: PeriodKPIs
    previous: PeriodKPIs | None
    lifetime: LifetimeValue  # as of ``as_of``: the same whatever the period
    series: pa.Table
    lifecycle: pa.Table
    cohorts: pa.Table
    cohorts_cumulative: pa.Table
    segments: pa.Table
    rfm_grid: pa.Table
    kinds: pa.Table
    regularity: pa.Table
    stages: pa.Table
    goal: RetentionGoal | None  # None when the period had no customers to retain (S = 0)
    customers: pa.Table
    future: Future | None = None  # None when run without the predictive models


def _totals(shop: Shop, as_of: date) -> Totals:
    bought = purchases(shop.orders)
    bought = bought.filter(bought.order_date < as_of)
    row = (
        bought.aggregate(
            customers=bought.customer_id.nunique(),
            orders=bought.count(),
            revenue=bought.net_amount.sum(),
            first_order=bought.order_date.min(),
            last_order=bought.order_date.max(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    return Totals(
        customers=int(row["customers"]),
        orders=int(row["orders"]),
        revenue=str(row["revenue"]),
        first_order=row["first_order"],
        last_order=row["last_order"],
    )


def _segment_summary(customers: ibis.Table) -> pa.Table:
    """Size, revenue and shares per RFM segment, in the segments' display order."""
    total_customers = customers.count()
    total_revenue = customers.revenue.sum()
    summary = customers.group_by("segment").aggregate(
        customers=customers.count(),
        revenue=customers.revenue.sum(),
        avg_recency_days=customers.recency_days.mean(),
        avg_orders=customers.orders.mean(),
    )
    summary = summary.mutate(
        customer_share=summary.customers.cast("float64") / total_customers.as_scalar() * 100,
        revenue_share=summary.revenue.cast("float64")
        / total_revenue.as_scalar().cast("float64")
        * 100,
    )
    table = summary.to_pyarrow()
    order = {name: i for i, name in enumerate(SEGMENTS)}
    ranks = [order.get(s, len(order)) for s in table.column("segment").to_pylist()]
    return table.take(sorted(range(table.num_rows), key=ranks.__getitem__))


def _rfm_grid(customers: ibis.Table) -> pa.Table:
    return (
        customers.group_by(["r_score", "f_score"])
        .aggregate(customers=customers.count(), avg_revenue=customers.revenue.mean())
        .order_by(["r_score", "f_score"])
        .to_pyarrow()
    )


def _kinds(customers: ibis.Table) -> tuple[pa.Table, pa.Table]:
    kinds = (
        customers.group_by("kind")
        .aggregate(customers=customers.count(), revenue=customers.revenue.sum())
        .to_pyarrow()
    )
    rank = {name: i for i, name in enumerate(KIND_ORDER)}
    names = kinds.column("kind").to_pylist()
    kinds = kinds.take(sorted(range(kinds.num_rows), key=lambda i: rank.get(names[i], len(rank))))
    repeaters = customers.filter(customers.orders >= 2)
    bucket = (repeaters.regularity // 10 * 10).cast("int64").name("regularity_bucket")
    regularity = (
        repeaters.group_by(bucket)
        .aggregate(customers=repeaters.count())
        .order_by("regularity_bucket")
        .to_pyarrow()
    )
    return kinds, regularity


def compute_report(
    shop: Shop,
    *,
    as_of: date | None = None,
    period: Period | None = None,
    target_crr: float | None = None,
    models: bool = True,
    progress: Progress | None = None,
) -> ReportData:
    """Run every analysis of the report and bring the small results back."""
    step = progress or (lambda _name: None)
    as_of = as_of or shop.default_as_of()
    period = period or shop.settings.period
    start, end = last_complete_period(as_of, period)
    trend_start = shift_periods(end, period, -TREND_PERIODS[period])

    step("totals")
    totals = _totals(shop, as_of)
    step("period KPIs")
    current = shop.kpis(start, end)
    prev_start = shift_periods(start, period, -1)
    previous = shop.kpis(prev_start, start) if prev_start >= totals.first_order else None
    lifetime = shop.lifetime_value(as_of)
    step("KPI trends")
    series = shop.kpi_series(max(trend_start, totals.first_order), end, period).to_pyarrow()
    step("lifecycle")
    lifecycle = shop.lifecycle(max(trend_start, totals.first_order), end, period).to_pyarrow()
    step("cohorts")
    grain = COHORT_GRAIN[period]
    cohorts = shop.cohorts(grain, "exact", as_of).to_pyarrow()  # type: ignore[arg-type]
    cumulative = shop.cohorts(grain, "cumulative", as_of).to_pyarrow()  # type: ignore[arg-type]
    step("customers, RFM, kinds and stages")
    customers_expr = shop.customers(as_of)
    customers = customers_expr.to_pyarrow()
    # The per-customer table feeds four summaries: compute it once, then reuse it.
    cached = table_from_arrow(shop.con, customers)
    segments = _segment_summary(cached)
    grid = _rfm_grid(cached)
    kinds, regularity = _kinds(cached)
    stages = shop.stages(as_of).to_pyarrow()
    step("goal")
    goal = shop.goal(current, target_crr) if current.window.crr is not None else None
    future = None
    if models:
        step("predictive models")
        future = compute_future(shop.orders, first=totals.first_order, as_of=as_of)
        customers = with_scores(customers, future)
    return ReportData(
        as_of=as_of,
        period=period,
        totals=totals,
        current=current,
        previous=previous,
        lifetime=lifetime,
        series=series,
        lifecycle=lifecycle,
        cohorts=cohorts,
        cohorts_cumulative=cumulative,
        segments=segments,
        rfm_grid=grid,
        kinds=kinds,
        regularity=regularity,
        stages=stages,
        goal=goal,
        customers=customers,
        future=future,
    )
