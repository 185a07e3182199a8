"""The customer table: one row per customer with every per-customer figure and label.

Columns: ``customer_id, first_purchase, last_purchase, orders, revenue, aov,
recency_days, tenure_days, active`` (see :mod:`regulars.analytics.summary`;
``aov = revenue / orders`` as float64; ``active`` = bought within the activity window
before ``as_of``), ``r_score, f_score, m_score, rfm_cell, segment``
(:mod:`regulars.analytics.rfm`), ``kind, regularity`` (:mod:`regulars.analytics.kinds`)
and ``stage`` (:mod:`regulars.analytics.stages`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import ibis.expr.types as ir

from regulars.analytics.activity import DEFAULT_ACTIVITY_WINDOW_DAYS
from regulars.analytics.expr import ratio
from regulars.analytics.kinds import KindConfig, customer_kinds
from regulars.analytics.rfm import rfm_scores
from regulars.analytics.stages import StageConfig, customer_stage
from regulars.analytics.summary import customer_summary
from regulars.analytics.validation import require_positive

_RFM_COLUMNS = ("r_score", "f_score", "m_score", "rfm_cell", "segment")


def customer_table(
    orders: ir.Table,
    *,
    as_of: date,
    activity_window_days: int = DEFAULT_ACTIVITY_WINDOW_DAYS,
    kind_config: KindConfig | None = None,
    stage_config: StageConfig | None = None,
) -> ir.Table:
    """Every customer who bought before ``as_of``, ordered by ``customer_id``.

    ``activity_window_days`` sets ``active`` and the stage rules' activity window.
    """
    require_positive("activity_window_days", activity_window_days)
    stages_config = replace(
        stage_config or StageConfig(), activity_window_days=activity_window_days
    )
    summary = customer_summary(orders, as_of=as_of)
    base = summary.select(
        "customer_id",
        "first_purchase",
        "last_purchase",
        orders=summary.purchases.cast("int64"),
        revenue=summary.revenue,
        aov=ratio(summary.revenue, summary.purchases),
        recency_days=summary.recency_days,
        tenure_days=summary.tenure_days,
        active=summary.recency_days <= activity_window_days,
    )
    rfm = rfm_scores(orders, as_of=as_of).select("customer_id", *_RFM_COLUMNS)
    kinds = customer_kinds(orders, as_of=as_of, config=kind_config)
    stages = customer_stage(orders, as_of=as_of, config=stages_config)
    joined = base.join(rfm, "customer_id").join(kinds, "customer_id").join(stages, "customer_id")
    return joined.order_by("customer_id")
