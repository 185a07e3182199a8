"""Which rows count as purchases, and net revenue."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa

from regulars.analytics import net_revenue, purchases, return_documents
from regulars.data.purchase import counts_as_purchase

ROWS = [
    ("a", "2024-01-05", "100.00"),  # o1 completed: counts, net 100
    ("a", "2024-01-06", "80.00", "30.00", "partially_refunded"),  # o2 counts, net 50
    ("b", "2024-01-07", "60.00", "60.00", "refunded"),  # o3 fully refunded: no
    ("b", "2024-01-08", "40.00", "40.00", "partially_refunded"),  # o4 refund = amount: no
    ("c", "2024-01-09", "70.00", "0", "cancelled"),  # o5 cancelled: no
    ("c", "2024-01-10", "-25.00"),  # o6 return document: no purchase, −25 revenue
    ("d", "2024-01-11", "0.00"),  # o7 zero value (free sample): counts, net 0
    ("d", "2024-02-01", "90.00"),  # o8 counts, but outside January
    ("c", "2024-01-12", "-15.00", "0", "cancelled"),  # o9 cancelled return: ignored
]


def test_purchases_keep_only_counted_orders(make_orders):  # type: ignore[no-untyped-def]
    rows = purchases(make_orders(ROWS)).order_by("order_id").to_pyarrow()
    assert rows.column("order_id").to_pylist() == ["o1", "o2", "o7", "o8"]
    assert rows.column("net_amount").to_pylist() == [
        Decimal("100.00"),
        Decimal("50.00"),  # 80 − 30
        Decimal("0.00"),
        Decimal("90.00"),
    ]
    assert rows.column("order_date").to_pylist() == [
        date(2024, 1, 5),
        date(2024, 1, 6),
        date(2024, 1, 11),
        date(2024, 2, 1),
    ]
    assert rows.column_names == [
        "customer_id",
        "order_id",
        "ordered_at",
        "order_date",
        "net_amount",
    ]


def test_return_documents(make_orders):  # type: ignore[no-untyped-def]
    rows = return_documents(make_orders(ROWS)).to_pyarrow()
    assert rows.column("order_id").to_pylist() == ["o6"]
    assert rows.column("net_amount").to_pylist() == [Decimal("-25.00")]


def test_net_revenue_adds_purchases_and_returns(make_orders):  # type: ignore[no-untyped-def]
    orders = make_orders(ROWS)
    # January: 100 + 50 (purchases) − 25 (return document) = 125; o3/o4 net 0, o5/o9
    # cancelled, o8 is in February.
    assert net_revenue(orders, date(2024, 1, 1), date(2024, 2, 1)).execute() == Decimal("125")
    assert net_revenue(orders, date(2024, 2, 1), date(2024, 3, 1)).execute() == Decimal("90")
    assert net_revenue(orders, date(2025, 1, 1), date(2025, 2, 1)).execute() == 0


def test_missing_optional_columns_mean_completed_and_no_refund(load):  # type: ignore[no-untyped-def]
    table = pa.table(
        {
            "customer_id": ["a", "b"],
            "order_id": ["1", "2"],
            "ordered_at": pa.array(
                [datetime(2024, 1, 1), datetime(2024, 1, 2)], pa.timestamp("us")
            ),
            "amount": pa.array([Decimal("10.00"), Decimal("-3.00")], pa.decimal128(18, 2)),
        }
    )
    orders = load(table)
    assert purchases(orders).count().execute() == 1
    # 10 − 3 = 7
    assert net_revenue(orders, date(2024, 1, 1), date(2024, 2, 1)).execute() == Decimal("7")


def test_python_rule_agrees_with_the_engine(make_orders):  # type: ignore[no-untyped-def]
    counted = set(purchases(make_orders(ROWS)).order_id.to_pyarrow().to_pylist())
    for i, row in enumerate(ROWS, start=1):
        amount = Decimal(row[2])
        refunded = Decimal(row[3]) if len(row) > 3 else None
        status = row[4] if len(row) > 4 else None
        assert counts_as_purchase(amount, refunded, status) == (f"o{i}" in counted), row
