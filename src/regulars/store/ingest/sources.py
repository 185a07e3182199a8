"""What an import brings, as the store's rows: customers, products, orders with their
defaults, and the order lines of a batch of orders."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    Table,
)

from regulars.data.importers import ImportResult
from regulars.data.schema import LINE_FIELDS
from regulars.store.staging import exact_values
from regulars.store.tables import Customer, Order, OrderLine, Product

_CUSTOMER_FIELDS = ("name", "email", "phone", "birthday", "acquisition_channel")

CUSTOMERS: Table = Customer.__table__  # type: ignore[assignment]
PRODUCTS: Table = Product.__table__  # type: ignore[assignment]
ORDERS: Table = Order.__table__  # type: ignore[assignment]
ORDER_LINES: Table = OrderLine.__table__  # type: ignore[assignment]


def sizes(result: ImportResult) -> dict[str, int]:
    return {
        "customers": customers(result).num_rows,
        "products": products(result).num_rows,
        "orders": result.orders.num_rows,
    }


def customers(result: ImportResult) -> pa.Table:
    """The import's customers, plus a bare row for each order's customer not among them."""
    ids = pc.unique(result.orders.column("customer_id"))
    if result.customers is None:
        return pa.table({"customer_id": ids})
    table = result.customers
    present = [name for name in ("customer_id", *_CUSTOMER_FIELDS) if name in table.column_names]
    table = table.select(present)
    missing = pc.filter(ids, pc.invert(pc.is_in(ids, table.column("customer_id"))))
    if len(missing):
        extra = pa.table({"customer_id": missing}).cast(
            pa.schema([pa.field("customer_id", table.schema.field("customer_id").type)])
        )
        table = pa.concat_tables([table, extra], promote_options="default")
    return _first_per_key(table, "customer_id")


def products(result: ImportResult) -> pa.Table:
    lines = result.order_lines
    if lines is None or "sku" not in lines.column_names:
        return pa.table({"sku": pa.array([], pa.string())})
    present = [c for c in ("sku", "product_name", "category") if c in lines.column_names]
    table = lines.select(present).filter(pc.is_valid(lines.column("sku")))
    table = _first_per_key(table, "sku")
    if "product_name" in table.column_names:
        table = table.rename_columns(
            ["name" if c == "product_name" else c for c in table.column_names]
        )
    return table


def _first_per_key(table: pa.Table, key: str) -> pa.Table:
    """The first row for each value of ``key``, in order of first appearance."""
    table = table.append_column("__row", pa.array(range(table.num_rows), pa.int64()))
    first = table.group_by(key, use_threads=False).aggregate([("__row", "min")])
    keep = pc.sort_indices(first.column("__row_min"))
    return table.take(pc.take(first.column("__row_min"), keep)).drop_columns(["__row"])


def with_order_defaults(orders: pa.Table) -> pa.Table:
    """Missing refund and status filled in as the store has them (``0.00``, completed)."""
    for name, default in (("refunded_amount", Decimal("0.00")), ("status", "completed")):
        index = orders.schema.get_field_index(name)
        column = orders.column(index)
        orders = orders.set_column(
            index, name, pc.fill_null(column, pa.scalar(default, column.type))
        )
    return orders


def sorted_lines(lines: pa.Table | None, orders: pa.Table) -> pa.Table | None:
    """The lines of the imported orders, by ``order_id`` then file order (``line_no``)."""
    if lines is None or lines.num_rows == 0:
        return None
    lines = exact_values(lines)
    lines = lines.append_column("line_no", pa.array(range(lines.num_rows), pa.int64()))
    lines = lines.filter(pc.is_in(lines.column("order_id"), orders.column("order_id")))
    return lines.select(["order_id", *LINE_FIELDS, "line_no"]).sort_by(
        [("order_id", "ascending"), ("line_no", "ascending")]
    )


def batches(table: pa.Table, size: int) -> Iterator[pa.Table]:
    for start in range(0, table.num_rows, size):
        yield table.slice(start, size)


class _Keys(Sequence[str]):
    """An Arrow string column seen as a sequence of ``str``, for :mod:`bisect`."""

    def __init__(self, column: pa.ChunkedArray) -> None:
        self._array = column.combine_chunks()

    def __len__(self) -> int:
        return len(self._array)

    def __getitem__(self, index: Any) -> Any:
        return self._array[index].as_py()


def lines_for(lines: pa.Table | None, orders: pa.Table) -> pa.Table | None:
    """The lines of a batch of orders; both sorted by ``order_id`` (UTF-8 byte order, the
    same as Python's code point order, so :mod:`bisect` finds the range)."""
    if lines is None or orders.num_rows == 0:
        return None
    keys = _Keys(lines.column("order_id"))
    start = bisect_left(keys, orders.column("order_id")[0].as_py())
    stop = bisect_right(keys, orders.column("order_id")[-1].as_py())
    return lines.slice(start, stop - start)
