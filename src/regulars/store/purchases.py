"""The purchase rule as SQL over ``orders`` (:func:`regulars.data.purchase.counts_as_purchase`;
a test checks they agree), for the queries that count purchases in the store: the
dashboard's KPIs and the customer list's last purchase and order count."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ColumnElement, and_, func, or_

from regulars.data.purchase import NOT_COUNTED_STATUSES
from regulars.store.tables import Order


def net_amount(orders: type[Order] = Order) -> ColumnElement[Decimal]:
    return orders.amount - func.coalesce(orders.refunded_amount, 0)


def is_purchase(orders: type[Order] = Order) -> ColumnElement[bool]:
    """Not cancelled or refunded, and a positive net amount or a zero-value order.
    ``orders`` is the table or an alias of it."""
    net = net_amount(orders)
    return and_(
        func.coalesce(orders.status, "completed").not_in(NOT_COUNTED_STATUSES),
        or_(net > 0, and_(orders.amount == 0, net == 0)),
    )
