"""Regenerate the binary files of the importer test corpus (XLSX, Parquet, garbage).

Run from the repository root: ``.venv/bin/python tests/importers/make_binary_files.py``.
The CSV files next to them are written by hand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq

FILES = Path(__file__).parent / "files"


def write_xlsx(path: Path) -> None:
    """A workbook as Excel users make it: real dates, float money, an empty row, a bad row."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Orders"
    sheet.append(["Customer ID", "Order ID", "Order Date", "Amount", "Email"])
    sheet.append(["C1", 5001, dt.datetime(2024, 5, 1, 9, 30), 1234.56, "eva@example.com"])
    sheet.append(["C2", 5002, dt.datetime(2024, 5, 2), 19.9, None])
    sheet.append([])
    sheet.append(["C3", 5003, "2024-05-03 12:00", "€ 7,50", None])
    sheet.append(["C4", 5004, "not a date", 10, None])
    workbook.save(path)


def write_parquet(path: Path) -> None:
    """Typed columns: an integer order id, a zoned timestamp, decimal and float money."""
    table = pa.table(
        {
            "customer_id": pa.array(["C1", "C2", None, "C4"]),
            "order_id": pa.array([7001, 7002, 7003, 7004], pa.int64()),
            "ordered_at": pa.array(
                [
                    dt.datetime(2024, 6, 1, 8, 0, tzinfo=dt.UTC),
                    dt.datetime(2024, 6, 2, 9, 15, tzinfo=dt.UTC),
                    dt.datetime(2024, 6, 3, 10, 0, tzinfo=dt.UTC),
                    None,
                ],
                pa.timestamp("ns", tz="UTC"),
            ),
            "amount": pa.array(
                [Decimal("10.10"), Decimal("1234.56"), Decimal("5.00"), Decimal("1.00")],
                pa.decimal128(12, 2),
            ),
            "refunded_amount": pa.array([0.0, 34.56, None, None], pa.float64()),
        }
    )
    pq.write_table(table, path)


def write_garbage(path: Path) -> None:
    """Deterministic binary bytes (every byte value, NULs included) named .csv."""
    path.write_bytes(bytes(range(256)) * 16)


if __name__ == "__main__":
    write_xlsx(FILES / "orders.xlsx")
    write_xlsx(FILES / "excel_saved_as.csv")
    write_parquet(FILES / "orders.parquet")
    write_garbage(FILES / "garbage.csv")
    (FILES / "not_really.xlsx").write_text("customer_id,order_id\n", encoding="utf-8")
