"""Per-customer purchase summary as of a date: the base of RFM, kinds and stages.

Only counted purchases (see :mod:`regulars.analytics.transactions`) dated before
``as_of`` are used.
"""

from __future__ import annotations

from datetime import date

import ibis.expr.types as ir

from regulars.analytics.expr import date_literal, days_between
from regulars.analytics.transactions import purchases


def purchases_before(orders: ir.Table, as_of: date) -> ir.Table:
    """Counted purchases dated before ``as_of``."""
    bought = purchases(orders)
    return bought.filter(bought.order_date < as_of)


def customer_summary(orders: ir.Table, *, as_of: date) -> ir.Table:
    """One row per customer who bought before ``as_of``:

    ``customer_id, first_purchase, last_purchase, purchases, revenue`` (Σ net amount),
    ``recency_days = as_of − last_purchase`` (≥ 1) and
    ``tenure_days = as_of − first_purchase``.
    """
    bought = purchases_before(orders, as_of)
    summary = bought.group_by("customer_id").agg(
        first_purchase=bought.order_date.min(),
        last_purchase=bought.order_date.max(),
        purchases=bought.count(),
        revenue=bought.net_amount.sum(),
    )
    return summary.mutate(
        recency_days=days_between(date_literal(as_of), summary.last_purchase),
        tenure_days=days_between(date_literal(as_of), summary.first_purchase),
    )
