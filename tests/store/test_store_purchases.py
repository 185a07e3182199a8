"""The purchase rule in SQL (``regulars.store.purchases``) is the Python one."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, select

from regulars.data.purchase import counts_as_purchase
from regulars.store.purchases import is_purchase
from regulars.store.session import session_scope
from regulars.store.tables import Customer, Order


def test_the_sql_purchase_rule_is_the_python_one(store_engine: Engine) -> None:
    amounts = ("10.00", "0.00", "-5.00")
    refunds = ("0.00", "4.00", "10.00")
    statuses = ("completed", "partially_refunded", "refunded", "cancelled")
    cases = list(itertools.product(amounts, refunds, statuses))
    with session_scope(store_engine) as session:
        session.add(Customer(customer_id="x"))
        for n, (amount, refunded, status) in enumerate(cases):
            session.add(
                Order(
                    order_id=str(n),
                    customer_id="x",
                    amount=Decimal(amount),
                    refunded_amount=Decimal(refunded),
                    status=status,
                    ordered_at=datetime(2026, 1, 1, tzinfo=UTC),
                )
            )
        session.flush()
        counted = set(session.scalars(select(Order.order_id).where(is_purchase())))
    expected = {
        str(n) for n, (a, r, s) in enumerate(cases) if counts_as_purchase(Decimal(a), Decimal(r), s)
    }
    assert counted == expected
