"""The hostile-input corpus of order files (``regulars import`` / ``regulars report``): values
past the documented limits become a rejects row naming the reason, never an error and never
a silently changed value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from regulars.data.importers import read_orders, readers

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


def test_a_cp1251_row_in_a_utf8_file_is_rejected_naming_the_encoding(tmp_path: Path) -> None:
    """Mixed encodings are not guessed row by row: the odd row is refused by name, the
    others keep their exact text."""
    path = tmp_path / "mixed.csv"
    good = "o1,Крылова,2024-03-05T10:00:00Z,10.00,0\n".encode()
    bad = "o2,Петров,2024-03-05T10:00:00Z,10.00,0\n".encode("cp1251")
    path.write_bytes(HEADER.encode() + good + bad)
    result = read_orders([path])
    assert result.orders.column("customer_id").to_pylist() == ["Крылова"]
    rejected = result.rejects.to_pylist()
    assert [r["row"] for r in rejected] == [3]
    assert "UTF-8" in rejected[0]["reason"]


def test_a_utf8_row_in_a_cp1251_file_is_rejected_naming_the_encoding(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    rows = [f"o{i},Петров{i},2024-03-05T10:00:00Z,10.00,0\n".encode("cp1251") for i in range(5)]
    odd = "o9,Крылова,2024-03-05T10:00:00Z,10.00,0\n".encode()
    path.write_bytes(HEADER.encode() + b"".join(rows) + odd)
    result = read_orders([path])
    assert result.orders.column("customer_id").to_pylist() == [f"Петров{i}" for i in range(5)]
    rejected = result.rejects.to_pylist()
    assert [r["row"] for r in rejected] == [7]
    assert "UTF-8 while the rest of the file is cp1251" in rejected[0]["reason"]
    assert rejected[0]["raw"].startswith("o9,Крылова")


def test_a_cp1251_row_past_the_sample_of_a_utf8_file(tmp_path: Path, monkeypatch: Any) -> None:
    """The sample says UTF-8; a row further down is not: that row alone is refused."""
    monkeypatch.setattr(readers, "SAMPLE_BYTES", 200)
    path = tmp_path / "late.csv"
    good = [f"o{i},Крылова{i},2024-03-05T10:00:00Z,10.00,0\n".encode() for i in range(20)]
    bad = "o99,Петров,2024-03-05T10:00:00Z,10.00,0\n".encode("cp1251")
    path.write_bytes(HEADER.encode() + b"".join(good) + bad)
    result = read_orders([path])
    assert result.orders.num_rows == 20
    assert [r["row"] for r in result.rejects.to_pylist()] == [22]
