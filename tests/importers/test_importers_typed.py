"""Typed Parquet (columns read without a detour through text) agrees with the CSV path."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from regulars.data import schema
from regulars.data.importers import ImportResult, read_orders

_ROWS = {
    "order_id": ["A1", " A2 ", "A3", "A1", "A5", "A6", "A7", "A8"],
    "customer_id": ["c1", "c2", None, "c1", "GUEST", "c6", " c7", "c8"],
    "ordered_at": [datetime(2024, 3, d % 3 or 1, 12, tzinfo=UTC) for d in range(1, 9)],
    "amount": [Decimal(f"{d % 3 or 1}.50") for d in range(1, 9)],
    "refunded_amount": [None, None, None, None, None, Decimal("1.00"), None, None],
    "status": ["paid", " Completed ", "paid", "paid", "paid", "wc-refunded", "bogus", None],
    "currency": ["eur", "EUR", "EUR", "eur", "EUR", " EUR", "EUR", None],
    "channel": ["web", "web", "shop", "web", None, "web", "  ", "shop"],
}


def _table() -> pa.Table:
    """The canonical types, every column nullable (a file may hold nulls anyway)."""
    target = schema.arrow_schema("orders")
    fields = [f.with_nullable(True) for f in target]
    arrays = [pa.array(_ROWS[f.name], f.type) for f in fields]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _comparable(result: ImportResult, path: Path) -> tuple[object, ...]:
    rejects = [
        {k: v for k, v in r.items() if k not in {"file", "raw"}}
        for r in result.rejects.to_pylist()
        if r["file"] == str(path)
    ]
    return (
        result.orders.to_pylist(),
        [{**r, "reason": r["reason"].replace(str(path), "FILE")} for r in rejects],
        result.rows_read,
        result.orders_imported,
        result.rows_rejected,
        result.duplicate_orders,
    )


def test_typed_parquet_rejects_like_csv(tmp_path: Path) -> None:
    parquet = tmp_path / "orders.parquet"
    pq.write_table(_table(), parquet)
    csv = tmp_path / "orders.csv"
    pacsv.write_csv(_table(), csv)

    typed = read_orders([parquet])
    text = read_orders([csv])

    assert typed.orders.schema == schema.arrow_schema("orders")
    assert _comparable(typed, parquet) == _comparable(text, csv)
    assert typed.duplicate_orders == 1  # A1 twice, identical: counted once
    reasons = {(r["row"], r["column"]): r["reason"] for r in typed.rejects.to_pylist()}
    assert reasons[(4, "customer_id")] == "no customer id, email or phone"
    assert reasons[(8, "status")].startswith("unknown status")
    assert "duplicate order id A1" in reasons[(5, "order_id")]
    orders = {o["order_id"]: o for o in typed.orders.to_pylist()}
    assert set(orders) == {"A1", "A2", "A6", "A8"}
    assert orders["A2"]["status"] == "completed"
    assert orders["A6"]["status"] == "refunded"
    assert orders["A1"]["currency"] == "EUR"
    assert orders["A8"]["channel"] == "shop"


def test_integer_and_wide_decimal_amounts(tmp_path: Path) -> None:
    """Whole-unit amounts typed int64, and decimals wider than the column, import as money;
    a value beyond NUMERIC(18, 2) is a rejected row, not a crash."""
    path = tmp_path / "orders.parquet"
    when = [datetime(2024, 3, d, 12, tzinfo=UTC) for d in (1, 2, 3)]
    ids = {"order_id": ["A1", "A2", "A3"], "customer_id": ["c1", "c2", "c3"], "ordered_at": when}
    for amounts in (
        pa.array([10, 20, 10**17], pa.int64()),
        pa.array([Decimal("10"), Decimal("20"), Decimal(10**17)], pa.decimal128(38, 2)),
    ):
        pq.write_table(pa.table({**ids, "amount": amounts}), path)
        result = read_orders([path])
        assert result.orders.column("amount").to_pylist() == [Decimal("10.00"), Decimal("20.00")]
        [reject] = result.rejects.to_pylist()
        assert (reject["row"], reject["column"]) == (4, "amount")
