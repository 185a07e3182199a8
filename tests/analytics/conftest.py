"""Builders for small hand-written order tables, loaded on each backend under test."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal

import ibis
import pyarrow as pa
import pytest

from regulars.data.schema import MONEY

# (customer_id, day, amount[, refunded_amount[, status]]); day is "YYYY-MM-DD", a date
# or a datetime.
OrderRow = tuple[object, ...]


def _timestamp(day: object) -> datetime:
    if isinstance(day, datetime):
        return day
    if isinstance(day, date):
        return datetime(day.year, day.month, day.day, 12)
    return datetime.fromisoformat(str(day)).replace(hour=12)


def orders_arrow(rows: Sequence[OrderRow]) -> pa.Table:
    """An Arrow orders table in the canonical columns; order ids are o1, o2, …"""
    return pa.table(
        {
            "customer_id": pa.array([str(r[0]) for r in rows], pa.string()),
            "order_id": pa.array([f"o{i + 1}" for i in range(len(rows))], pa.string()),
            "ordered_at": pa.array([_timestamp(r[1]) for r in rows], pa.timestamp("us")),
            "amount": pa.array([Decimal(str(r[2])) for r in rows], MONEY),
            "refunded_amount": pa.array(
                [Decimal(str(r[3])) if len(r) > 3 else Decimal(0) for r in rows], MONEY
            ),
            "status": pa.array(
                [str(r[4]) if len(r) > 4 else "completed" for r in rows], pa.string()
            ),
        }
    )


@pytest.fixture
def make_orders(
    load: Callable[[pa.Table], ibis.Table],
) -> Callable[[Sequence[OrderRow]], ibis.Table]:
    """Build an orders table from compact rows on the backend under test."""

    def _make(rows: Sequence[OrderRow]) -> ibis.Table:
        return load(orders_arrow(rows))

    return _make


def _product_example_rows(reactivated: int = 0) -> list[OrderRow]:
    """The worked example of docs/metrics.md for Q1 2024 with a 365-day window: 600 customers at the
    start, 80 of them lost, 250 new (plus optional reactivated customers)."""
    rows: list[OrderRow] = []
    for i in range(520):  # active at start (2023-06-01 ≥ 2023-01-01) and at end
        rows.append((f"kept{i}", "2023-06-01", "10"))
        if i < 300:  # 300 of them also buy inside the period
            rows.append((f"kept{i}", "2024-02-01", "10"))
    for i in range(80):  # active at start, not at end: 2023-03-01 < 2024-04-01 − 365 d
        rows.append((f"lost{i}", "2023-03-01", "10"))
    for i in range(250):  # first purchase inside the period
        rows.append((f"new{i}", "2024-02-15", "10"))
    for i in range(reactivated):  # lapsed at the start, back in the period
        rows.append((f"back{i}", "2022-06-01", "10"))
        rows.append((f"back{i}", "2024-03-01", "10"))
    return rows


@pytest.fixture
def product_example_rows() -> Callable[..., list[OrderRow]]:
    """The 600 / 250 / 80 example of docs/metrics.md as rows (see :func:`_product_example_rows`)."""
    return _product_example_rows


@pytest.fixture(scope="session")
def arrow_orders() -> Callable[[Sequence[OrderRow]], pa.Table]:
    """:func:`orders_arrow`, for tests that load the same rows on several engines."""
    return orders_arrow
