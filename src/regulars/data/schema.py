"""The canonical data model: the one set of tables every importer writes and every
analysis reads. ``docs/data-model.md`` documents the same thing for people.

Money is ``decimal128(18, 2)``: exact sums, no float drift. Timestamps are stored in UTC;
analyses work on the shop's local wall-clock time (:func:`regulars.clock.to_local_time`).

The field lists (:data:`ORDER_FIELDS`, :data:`LINE_FIELDS`, :data:`CUSTOMER_FIELDS`) are
the ones the importers, the store and the API use. This module loads PyArrow only when an
Arrow type is asked for (:data:`MONEY`, :data:`UTC_TIMESTAMP`, :func:`arrow_schema`): the
API reads the field lists and must start without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pyarrow as pa

    MONEY: pa.DataType
    UTC_TIMESTAMP: pa.DataType

Kind = Literal["string", "money", "utc_timestamp", "int64", "date"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool
    description: str

    @property
    def type(self) -> pa.DataType:
        """The column's Arrow type."""
        return arrow_type(self.kind)


ORDERS: tuple[Column, ...] = (
    Column("order_id", "string", True, "Shop's order number; unique per row."),
    Column(
        "customer_id",
        "string",
        True,
        "Shop's customer id, else the normalised email, else the normalised phone.",
    ),
    Column("ordered_at", "utc_timestamp", True, "When the order was placed (paid), UTC."),
    Column(
        "amount",
        "money",
        True,
        "Order total in the shop currency. Negative for a standalone return document.",
    ),
    Column(
        "refunded_amount", "money", False, "Part of the order refunded later (>= 0). Default 0."
    ),
    Column(
        "status",
        "string",
        False,
        "'completed' (default), 'refunded', 'partially_refunded' or 'cancelled'.",
    ),
    Column("currency", "string", False, "ISO 4217 code; one currency per analysis."),
    Column("channel", "string", False, "Sales / acquisition channel of the order."),
)

ORDER_LINES: tuple[Column, ...] = (
    Column("order_id", "string", True, "The order this line belongs to."),
    Column("sku", "string", False, "Product SKU; joins products.sku."),
    Column("product_name", "string", False, "Product name as sold."),
    Column("category", "string", False, "Product category."),
    Column("quantity", "int64", True, "Units; negative for a returned line."),
    Column("unit_price", "money", True, "Price of one unit."),
    Column("line_amount", "money", True, "quantity × unit_price less line discounts."),
)

CUSTOMERS: tuple[Column, ...] = (
    Column("customer_id", "string", True, "Same key as orders.customer_id."),
    Column("email", "string", False, "Normalised (trimmed, lower-case) email."),
    Column("phone", "string", False, "Normalised phone, digits with leading '+'."),
    Column("name", "string", False, "Display name."),
    Column("birthday", "date", False, "Date of birth (year may be 1900 if unknown)."),
    Column("acquisition_channel", "string", False, "Where the customer came from."),
    Column("created_at", "utc_timestamp", False, "When the customer record was created."),
)

PRODUCTS: tuple[Column, ...] = (
    Column("sku", "string", True, "Product SKU, unique."),
    Column("name", "string", False, "Product name."),
    Column("category", "string", False, "Product category."),
    Column("price", "money", False, "Current list price."),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "orders": ORDERS,
    "order_lines": ORDER_LINES,
    "customers": CUSTOMERS,
    "products": PRODUCTS,
}

ORDER_FIELDS = tuple(c.name for c in ORDERS)
"""Every column of an order, ``order_id`` first."""
ORDER_FACTS = tuple(name for name in ORDER_FIELDS if name not in ("order_id", "customer_id"))
"""What the shop says about an order besides its key and its customer: the fields a
re-import may change."""
LINE_FIELDS = tuple(c.name for c in ORDER_LINES if c.name != "order_id")
"""The columns of an order line besides the order it belongs to."""
CUSTOMER_FIELDS = tuple(c.name for c in CUSTOMERS if c.name != "customer_id")
"""The columns of a customer besides their id."""


def arrow_type(kind: Kind) -> pa.DataType:
    """The Arrow type of a column kind (money is ``decimal128(18, 2)``, time UTC µs)."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "money": pa.decimal128(18, 2),
        "utc_timestamp": pa.timestamp("us", tz="UTC"),
        "int64": pa.int64(),
        "date": pa.date32(),
    }
    return types[kind]


def __getattr__(name: str) -> Any:
    # The Arrow constants load PyArrow on first use (PEP 562), not at import.
    if name == "MONEY":
        return arrow_type("money")
    if name == "UTC_TIMESTAMP":
        return arrow_type("utc_timestamp")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a canonical table, every column included."""
    import pyarrow as pa

    return pa.schema([pa.field(c.name, c.type, nullable=not c.required) for c in TABLES[table]])


def required_columns(table: str) -> list[str]:
    return [c.name for c in TABLES[table] if c.required]
