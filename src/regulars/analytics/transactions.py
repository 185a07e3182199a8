"""Which order rows count, and for how much.

**Purchase** (a counted purchase): an order row whose status is neither ``cancelled`` nor
``refunded`` and whose net amount ``amount − refunded_amount`` is positive — or a
zero-value order (``amount = 0``, nothing refunded). That excludes

* cancelled orders (no sale happened),
* fully refunded orders: status ``refunded``, or refunds that reach the whole amount
  (a partial refund that leaves money with the shop still counts),
* standalone return documents (``amount < 0``).

Zero-value orders (a gift voucher covering everything, a free sample) count: the customer
came back and bought, which is what retention measures. The buy-till-you-die literature
counts them too: CDNOW's published summaries include customers whose only purchase was
$0.00.

A missing ``status`` means ``completed`` and a missing ``refunded_amount`` means 0.
Every customer metric (activity, retention, RFM, cohorts…) is built on purchases.

**Net revenue** of a period is the sum of ``amount − refunded_amount`` over the
purchases in the period plus the (negative) standalone return documents dated in the
period that are not cancelled. Cancelled and fully refunded orders contribute 0.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from regulars.analytics.expr import MONEY, ZERO_MONEY
from regulars.data.purchase import NOT_COUNTED_STATUSES

_COLUMNS = ("customer_id", "order_id", "ordered_at", "order_date", "net_amount")


def _status(orders: ir.Table) -> ir.StringValue:
    if "status" not in orders.columns:
        return ibis.literal("completed")
    return orders.status.coalesce("completed")


def _net_amount(orders: ir.Table) -> ir.DecimalValue:
    refunded = orders.refunded_amount.coalesce(0) if "refunded_amount" in orders.columns else 0
    return (orders.amount - refunded).cast(MONEY)


def _order_date(orders: ir.Table) -> ir.DateValue:
    ordered_at = orders.ordered_at
    return ordered_at if ordered_at.type().is_date() else ordered_at.date()


def _classified(orders: ir.Table) -> ir.Table:
    """Orders with ``order_date``, ``net_amount`` and the two flags ``is_purchase`` and
    ``is_return`` (see the module docstring)."""
    status = _status(orders)
    net_amount = _net_amount(orders)
    return orders.mutate(
        order_date=_order_date(orders),
        net_amount=net_amount,
        is_purchase=~status.isin(NOT_COUNTED_STATUSES)
        & ((net_amount > 0) | ((orders.amount == 0) & (net_amount == 0))),
        is_return=(orders.amount < 0) & (status != "cancelled"),
    )


def purchases(orders: ir.Table) -> ir.Table:
    """Counted purchases: ``customer_id, order_id, ordered_at, order_date, net_amount``.

    See the module docstring for the rule; ``net_amount = amount − refunded_amount``.
    """
    rows = _classified(orders)
    return rows.filter(rows.is_purchase).select(*_COLUMNS)


def return_documents(orders: ir.Table) -> ir.Table:
    """Standalone return documents (``amount < 0``, not cancelled), same columns as
    :func:`purchases`; ``net_amount`` is negative."""
    rows = _classified(orders)
    return rows.filter(rows.is_return).select(*_COLUMNS)


def revenue_lines(orders: ir.Table) -> ir.Table:
    """Every row that moves net revenue: purchases and return documents."""
    rows = _classified(orders)
    return rows.filter(rows.is_purchase | rows.is_return).select(*_COLUMNS)


def net_revenue(orders: ir.Table, start: date, end: date) -> ir.DecimalScalar:
    """Net revenue of ``[start, end)``: Σ ``net_amount`` of :func:`revenue_lines` dated in
    the period (0.00 when there are none)."""
    lines = revenue_lines(orders)
    in_period = lines.filter(lines.order_date >= start, lines.order_date < end)
    return in_period.net_amount.sum().coalesce(ZERO_MONEY)
