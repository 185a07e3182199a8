"""The canonical data model: the one set of tables every importer writes and every
analysis reads. ``docs/data-model.md`` documents the same thing for people.

Money is ``decimal128(18, 2)``: exact sums, no float drift. Timestamps are stored in UTC;
analyses work on the shop's local wall-clock time (see :func:`regulars.data.load.to_local`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

MONEY = pa.decimal128(18, 2)
UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    required: bool
    description: str


ORDERS: tuple[Column, ...] = (
    Column("order_id", pa.string(), True, "Shop's order number; unique per row."),
    Column(
        "customer_id",
        pa.string(),
        True,
        "Shop's customer id, else the normalised email, else the normalised phone.",
    ),
    Column("ordered_at", UTC_TIMESTAMP, True, "When the order was placed (paid), UTC."),
    Column(
        "amount",
        MONEY,
        True,
        "Order total in the shop currency. Negative for a standalone return document.",
    ),
    Column("refunded_amount", MONEY, False, "Part of the order refunded later (>= 0). Default 0."),
    Column(
        "status",
        pa.string(),
        False,
        "'completed' (default), 'refunded', 'partially_refunded' or 'cancelled'.",
    ),
    Column("currency", pa.string(), False, "ISO 4217 code; one currency per analysis."),
    Column("channel", pa.string(), False, "Sales / acquisition channel of the order."),
)

ORDER_LINES: tuple[Column, ...] = (
    Column("order_id", pa.string(), True, "The order this line belongs to."),
    Column("sku", pa.string(), False, "Product SKU; joins products.sku."),
    Column("product_name", pa.string(), False, "Product name as sold."),
    Column("category", pa.string(), False, "Product category."),
    Column("quantity", pa.int64(), True, "Units; negative for a returned line."),
    Column("unit_price", MONEY, True, "Price of one unit."),
    Column("line_amount", MONEY, True, "quantity × unit_price less line discounts."),
)

CUSTOMERS: tuple[Column, ...] = (
    Column("customer_id", pa.string(), True, "Same key as orders.customer_id."),
    Column("email", pa.string(), False, "Normalised (trimmed, lower-case) email."),
    Column("phone", pa.string(), False, "Normalised phone, digits with leading '+'."),
    Column("name", pa.string(), False, "Display name."),
    Column("birthday", pa.date32(), False, "Date of birth (year may be 1900 if unknown)."),
    Column("acquisition_channel", pa.string(), False, "Where the customer came from."),
    Column("created_at", UTC_TIMESTAMP, False, "When the customer record was created."),
)

PRODUCTS: tuple[Column, ...] = (
    Column("sku", pa.string(), True, "Product SKU, unique."),
    Column("name", pa.string(), False, "Product name."),
    Column("category", pa.string(), False, "Product category."),
    Column("price", MONEY, False, "Current list price."),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "orders": ORDERS,
    "order_lines": ORDER_LINES,
    "customers": CUSTOMERS,
    "products": PRODUCTS,
}


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a canonical table, every column included."""
    return pa.schema([pa.field(c.name, c.type, nullable=not c.required) for c in TABLES[table]])


def required_columns(table: str) -> list[str]:
    return [c.name for c in TABLES[table] if c.required]
