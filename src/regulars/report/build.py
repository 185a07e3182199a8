"""Compute everything a retention report shows, once, as small materialised tables.

Each step is an Ibis query run by the engine; only aggregates (and the per-customer
table, written to Parquet) come back to Python.

**The headline period** is the last complete period before ``as_of``. A history shorter
than that (a file whose orders all fall in the current month) gets the period so far,
``[start of its period, as_of)``, marked ``partial``: the report still shows it, and says
so, instead of failing on an empty period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from regulars.analytics.goal import RetentionGoal
from regulars.analytics.kpis import PeriodKPIs
from regulars.analytics.lifetime import LifetimeValue
from regulars.analytics.periods import last_complete_period, period_floor, shift_periods
from regulars.analytics.rfm import SEGMENTS, rfm_grid
from regulars.analytics.summary import purchases_before
from regulars.analytics.transactions import revenue_lines
from regulars.clock import LocalDays
from regulars.config import Period
from regulars.engine import table_from_arrow
from regulars.report.future import Future, compute_future, customers_at_risk, with_scores
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
#: Contact columns taken from the import's customers table, when it has them.
CONTACT_COLUMNS = ("email", "phone", "name")


@dataclass(frozen=True)
class Totals:
    """The whole history before ``as_of``: customers and orders count purchases;
    ``revenue`` is net revenue (purchases net of refunds, plus return documents), as
    defined in docs/metrics.md."""

    customers: int
    orders: int
    revenue: str  # Decimal as text: exact in JSON
    first_order: date
    last_order: date


@dataclass
class ReportData:
    """Everything the HTML, JSON, Parquet and CSV outputs are rendered from."""

    as_of: date
    period: Period
    partial: bool  # the headline period is the period so far (too little history)
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
    contacts: pa.Table | None  # customer_id, email, phone, name (when imported)
    repeat_buyers: int
    local_days: LocalDays | None
    locale: str
    currency: str | None
    future: Future | None = None  # None when run without the predictive models
    at_risk: pa.Table | None = None  # None without forecasts one may act on

    @property
    def lapse_possible_from(self) -> date:
        """The first day anyone can have lapsed: a window after the first order."""
        return self.totals.first_order + timedelta(days=self.current.activity_window_days)


def _totals(shop: Shop, as_of: date) -> Totals:
    bought = purchases_before(shop.orders, as_of)
    row = (
        bought.aggregate(
            customers=bought.customer_id.nunique(),
            orders=bought.count(),
            first_order=bought.order_date.min(),
            last_order=bought.order_date.max(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    lines = revenue_lines(shop.orders)
    revenue = lines.filter(lines.order_date < as_of).net_amount.sum().to_pyarrow().as_py()
    return Totals(
        customers=int(row["customers"]),
        orders=int(row["orders"]),
        revenue=str(revenue),
        first_order=row["first_order"],
        last_order=row["last_order"],
    )


def currency(shop: Shop) -> str | None:
    """The settings' currency, else the orders' most frequent currency code."""
    if shop.settings.currency:
        return shop.settings.currency.upper()
    if "currency" not in shop.orders.columns:
        return None
    known = shop.orders.filter(shop.orders.currency.notnull())
    top = (
        known.group_by("currency")
        .aggregate(n=known.count())
        .order_by([ibis.desc("n"), "currency"])
        .limit(1)
        .to_pyarrow()
    )
    return str(top.column("currency")[0].as_py()).upper() if top.num_rows else None


def _segment_summary(customers: ibis.Table) -> pa.Table:
    """Size, revenue and shares per RFM segment — with the mean P(alive) and the value
    at risk when the customers were scored — in the segments' display order."""
    total_customers = customers.count()
    total_revenue = customers.revenue.sum()
    scored = (
        {
            "avg_p_alive": customers.p_alive.mean(),
            "value_at_risk": customers.value_at_risk.sum(),
        }
        if "p_alive" in customers.columns
        else {}
    )
    summary = customers.group_by("segment").aggregate(
        customers=customers.count(),
        revenue=customers.revenue.sum(),
        avg_recency_days=customers.recency_days.mean(),
        avg_orders=customers.orders.mean(),
        **scored,
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


def _contacts(shop: Shop) -> pa.Table | None:
    """``customer_id`` with email, phone and name, when the import had them (for the
    contact lists; kept out of customers.parquet, which holds figures, not addresses)."""
    found = shop.import_result.customers if shop.import_result is not None else None
    return None if found is None else found.select(["customer_id", *CONTACT_COLUMNS])


@dataclass
class ScoredCustomers:
    """The per-customer table (with the score columns when the models ran), what the
    lists need besides, and the predictions."""

    customers: pa.Table
    contacts: pa.Table | None
    repeat_buyers: int
    future: Future | None
    at_risk: pa.Table | None


def scored_customers(
    shop: Shop, *, as_of: date, models: bool = True, progress: Progress | None = None
) -> ScoredCustomers:
    """Every customer who bought before ``as_of``, scored by the models when ``models``
    (the report's Future section, ``regulars segments export``)."""
    step = progress or (lambda _name: None)
    step("customers, RFM, kinds and stages")
    customers = shop.customers(as_of).to_pyarrow()
    repeat_buyers = int(pc.sum(pc.greater_equal(customers.column("orders"), 2)).as_py() or 0)
    future = None
    if models and customers.num_rows:
        step("predictive models")
        future = compute_future(
            shop.orders,
            first=pc.min(customers.column("first_purchase")).as_py(),
            as_of=as_of,
            customers=customers.num_rows,
            repeat_buyers=repeat_buyers,
        )
        customers = with_scores(customers, future)
    at_risk = customers_at_risk(customers, future)
    return ScoredCustomers(customers, _contacts(shop), repeat_buyers, future, at_risk)


def headline_period(as_of: date, period: Period, first_order: date) -> tuple[date, date, bool]:
    """``(start, end, partial)``: the last complete period, or the period so far when
    no complete period holds an order yet (see the module docstring)."""
    start, end = last_complete_period(as_of, period)
    if end > first_order:
        return start, end, False
    return period_floor(as_of - timedelta(days=1), period), as_of, True


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

    step("totals")
    totals = _totals(shop, as_of)
    start, end, partial = headline_period(as_of, period, totals.first_order)
    first_trend = shift_periods(start, period, 1 - TREND_PERIODS[period])
    trend_start = max(first_trend, totals.first_order)
    step("period KPIs")
    current = shop.kpis(start, end)
    prev_start = shift_periods(start, period, -1)
    previous = shop.kpis(prev_start, start) if prev_start >= totals.first_order else None
    lifetime = shop.lifetime_value(as_of)
    step("KPI trends")
    series = shop.kpi_series(trend_start, end, period).to_pyarrow()
    step("lifecycle")
    lifecycle = shop.lifecycle(trend_start, end, period).to_pyarrow()
    step("cohorts")
    grain = COHORT_GRAIN[period]
    cohorts = shop.cohorts(grain, "exact", as_of).to_pyarrow()  # type: ignore[arg-type]
    cumulative = shop.cohorts(grain, "cumulative", as_of).to_pyarrow()  # type: ignore[arg-type]
    stages = shop.stages(as_of).to_pyarrow()
    goal = shop.goal(current, target_crr) if current.window.crr is not None else None
    scored = scored_customers(shop, as_of=as_of, models=models, progress=step)
    # The per-customer table feeds four summaries: compute it once, then reuse it.
    cached = table_from_arrow(shop.con, scored.customers)
    kinds, regularity = _kinds(cached)
    return ReportData(
        as_of=as_of,
        period=period,
        partial=partial,
        totals=totals,
        current=current,
        previous=previous,
        lifetime=lifetime,
        series=series,
        lifecycle=lifecycle,
        cohorts=cohorts,
        cohorts_cumulative=cumulative,
        segments=_segment_summary(cached),
        rfm_grid=rfm_grid(cached).to_pyarrow(),
        kinds=kinds,
        regularity=regularity,
        stages=stages,
        goal=goal,
        customers=scored.customers,
        contacts=scored.contacts,
        repeat_buyers=scored.repeat_buyers,
        local_days=shop.local_days,
        locale=shop.settings.locale,
        currency=currency(shop),
        future=scored.future,
        at_risk=scored.at_risk,
    )
