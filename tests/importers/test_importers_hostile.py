"""The hostile-input corpus of order files (``regulars import`` / ``regulars report``): values
past the documented limits become a rejects row naming the reason, never an error and never
a silently changed value."""

from __future__ import annotations

from pathlib import Path

import pytest

from regulars.data.importers import read_orders

HEADER = "order_id,customer_id,ordered_at,amount,refunded_amount\n"


def _write(tmp_path: Path, rows: str, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("9999-12-31T23:59:59-05:00", "outside the accepted range"),
        ("0001-01-01T00:00:00+01:00", "outside the accepted range"),
        ("0001-01-01", "outside the accepted range"),
        ("1899-12-31 23:00", "outside the accepted range"),
        ("2024-03-05T10:00:00+25:00", "UTC offset beyond"),
        ("2024-03-05 10:00 +1500", "UTC offset beyond"),
    ],
)
def test_dates_past_the_limits_are_rejected_by_name(
    tmp_path: Path, written: str, reason: str
) -> None:
    rows = f"o1,c1,2024-03-05T10:00:00Z,10.00,0\no2,c2,{written},10.00,0\n"
    result = read_orders([_write(tmp_path, rows)])
    assert result.orders.column("order_id").to_pylist() == ["o1"]
    rejected = result.rejects.to_pylist()
    assert [(r["row"], r["column"], r["value"]) for r in rejected] == [(3, "ordered_at", written)]
    assert reason in rejected[0]["reason"]


def test_a_four_digit_year_is_never_read_as_two_digits(tmp_path: Path) -> None:
    """``0001-01-01`` was stored as 2001-01-01; two-digit years (``3/5/24``) stay 20xx."""
    rows = "o1,c1,0001-01-01,10.00,0\no2,c2,05.03.24,10.00,0\n"
    result = read_orders([_write(tmp_path, rows)])
    assert result.orders.column("order_id").to_pylist() == ["o2"]
    assert result.orders.column("ordered_at")[0].as_py().year == 2024


def test_the_edge_of_the_range_is_kept(tmp_path: Path) -> None:
    rows = "o1,c1,1900-01-01T00:00:00Z,10.00,0\no2,c2,2199-12-31T23:59:59Z,10.00,0\n"
    result = read_orders([_write(tmp_path, rows)])
    assert result.rejects.num_rows == 0
    assert [t.year for t in result.orders.column("ordered_at").to_pylist()] == [1900, 2199]


def test_a_refund_larger_than_the_order_is_rejected(tmp_path: Path) -> None:
    rows = "o1,c1,2024-03-05T10:00:00Z,10.00,10.00\no2,c2,2024-03-05T10:00:00Z,10.00,10.01\n"
    result = read_orders([_write(tmp_path, rows)])
    assert result.orders.column("order_id").to_pylist() == ["o1"]
    rejected = result.rejects.to_pylist()
    assert [(r["row"], r["column"]) for r in rejected] == [(3, "refunded_amount")]
    assert "more than the order's amount" in rejected[0]["reason"]


def test_an_amount_past_the_money_limit_is_rejected(tmp_path: Path) -> None:
    rows = "o1,c1,2024-03-05T10:00:00Z,10000000000000.00,0\no2,c2,2024-03-05,1.00,0\n"
    result = read_orders([_write(tmp_path, rows)])
    assert result.orders.column("order_id").to_pylist() == ["o2"]
    rejected = result.rejects.to_pylist()
    assert [(r["row"], r["column"]) for r in rejected] == [(2, "amount")]
