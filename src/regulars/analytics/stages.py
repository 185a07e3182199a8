"""Loyalty stages: first visit → first purchase → repeat purchases → attachment → loyalty.

As of ``as_of``, over counted purchases before it; each stage is a subset of the one
before it and a customer's stage is the deepest one reached:

* ``first purchase`` — bought at least once.
* ``repeat purchases`` — bought at least twice.
* ``attachment`` — a repeat buyer who buys *markedly more often than first-time buyers*:
  purchases in the last ``rate_window_days`` (365) before ``as_of`` ≥
  ``attachment_multiple`` (3) × the baseline, where the baseline is the median number
  of purchases customers make in their first ``rate_window_days`` (their first purchase
  included), over the customers whose first year is complete (first purchase at least
  ``rate_window_days`` before ``as_of``); 1 when no customer is that old yet.
* ``loyalty`` — attached, still active (bought within the activity window before
  ``as_of``) and a customer for at least ``loyal_tenure_days`` (365).
* ``first visit`` — only in the funnel, and only when the number of visitors (from web
  analytics or footfall) is given; customers are not identified at that stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from regulars.analytics.activity import DEFAULT_ACTIVITY_WINDOW_DAYS
from regulars.analytics.expr import count_where, days_between, percent
from regulars.analytics.summary import purchases_before
from regulars.analytics.validation import AnalysisArgumentError

FIRST_VISIT = "first visit"
FIRST_PURCHASE = "first purchase"
REPEAT = "repeat purchases"
ATTACHMENT = "attachment"
LOYALTY = "loyalty"
CUSTOMER_STAGES: tuple[str, ...] = (FIRST_PURCHASE, REPEAT, ATTACHMENT, LOYALTY)
FUNNEL_STAGES: tuple[str, ...] = (FIRST_VISIT, *CUSTOMER_STAGES)


@dataclass(frozen=True)
class StageConfig:
    """Thresholds of the stage rules (see the module docstring)."""

    attachment_multiple: float = 3.0
    rate_window_days: int = 365
    loyal_tenure_days: int = 365
    activity_window_days: int = DEFAULT_ACTIVITY_WINDOW_DAYS

    def __post_init__(self) -> None:
        if (
            self.attachment_multiple <= 0
            or min(self.rate_window_days, self.loyal_tenure_days, self.activity_window_days) < 1
        ):
            raise AnalysisArgumentError("StageConfig values must be positive")


def _customer_facts(orders: ir.Table, as_of: date, config: StageConfig) -> ir.Table:
    """``customer_id, purchases, first_year_purchases, recent_purchases, first_purchase,
    last_purchase`` per customer."""
    bought = purchases_before(orders, as_of)
    first = bought.order_date.min().over(group_by=bought.customer_id)
    dated = bought.mutate(days_in=days_between(bought.order_date, first))
    recent_start = as_of - timedelta(days=config.rate_window_days)
    return dated.group_by("customer_id").agg(
        purchases=dated.count(),
        first_year_purchases=count_where(dated.days_in < config.rate_window_days),
        recent_purchases=count_where(dated.order_date >= recent_start),
        first_purchase=dated.order_date.min(),
        last_purchase=dated.order_date.max(),
    )


def _baseline(facts: ir.Table, as_of: date, config: StageConfig) -> ir.Table:
    """One row ``baseline``: the median first-year purchases of customers whose first
    year is complete (1 when there are none)."""
    complete = facts.filter(facts.first_purchase <= as_of - timedelta(days=config.rate_window_days))
    median = complete.first_year_purchases.cast("float64").median()
    return complete.aggregate(baseline=median.coalesce(1.0))


def customer_stage(orders: ir.Table, *, as_of: date, config: StageConfig | None = None) -> ir.Table:
    """``customer_id, stage`` for every customer who bought before ``as_of``."""
    config = config or StageConfig()
    facts = _customer_facts(orders, as_of, config)
    rows = facts.cross_join(_baseline(facts, as_of, config))
    repeat = rows.purchases >= 2
    attached = repeat & (rows.recent_purchases >= config.attachment_multiple * rows.baseline)
    active = rows.last_purchase >= as_of - timedelta(days=config.activity_window_days)
    long_tenure = rows.first_purchase <= as_of - timedelta(days=config.loyal_tenure_days)
    stage = ibis.cases(
        (attached & active & long_tenure, LOYALTY),
        (attached, ATTACHMENT),
        (repeat, REPEAT),
        else_=FIRST_PURCHASE,
    )
    return rows.select("customer_id", stage=stage)


def _stage_order(include_visits: bool) -> ir.Table:
    stages = FUNNEL_STAGES if include_visits else CUSTOMER_STAGES
    return ibis.memtable(
        pa.table(
            {
                "stage": pa.array(stages, pa.string()),
                "depth": pa.array([FUNNEL_STAGES.index(s) for s in stages], pa.int64()),
            }
        )
    )


def loyalty_stages(
    orders: ir.Table,
    *,
    as_of: date,
    visitors: int | None = None,
    config: StageConfig | None = None,
) -> ir.Table:
    """Funnel rows ``stage, customers, share_of_previous`` (percent; NULL on the first
    row), deepest stage last. ``customers`` counts everyone who reached the stage or a
    deeper one; the ``first visit`` row (``customers = visitors``) is present only when
    ``visitors`` is given."""
    if visitors is not None and visitors < 0:
        raise AnalysisArgumentError("visitors must be >= 0")
    staged = customer_stage(orders, as_of=as_of, config=config)
    depth = ibis.cases(*((staged.stage == s, FUNNEL_STAGES.index(s)) for s in CUSTOMER_STAGES))
    reached = staged.mutate(depth=depth)
    order = _stage_order(visitors is not None)
    counted = order.left_join(reached, reached.depth >= order.depth)
    customers = counted.group_by("stage", depth=counted.depth).agg(
        customers=counted.customer_id.count()
    )
    if visitors is not None:
        customers = customers.mutate(
            customers=ibis.ifelse(customers.depth == 0, visitors, customers.customers)
        )
    previous = customers.customers.lag().over(order_by=customers.depth)
    return (
        customers.mutate(share_of_previous=percent(customers.customers, previous))
        .order_by("depth")
        .select("stage", "customers", "share_of_previous")
    )
