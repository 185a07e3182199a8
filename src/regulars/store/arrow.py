"""The store's orders as Arrow, for the analytics plane.

:func:`read_store_orders` reads the ``orders`` table in batches straight into a canonical
Arrow orders table (:mod:`regulars.data.schema`). Money is read as integer cents (SQLite
keeps it so; PostgreSQL's exact ``numeric`` is multiplied by 100 in SQL) and becomes
``decimal128(18, 2)`` without passing through a float (:func:`cents_to_money`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import BigInteger, Engine, String, Table, cast, select, type_coerce

from regulars.data.schema import arrow_schema
from regulars.store.tables import Order

ORDERS: Table = Order.__table__  # type: ignore[assignment]

READ_BATCH = 100_000


def _order_columns(dialect: str) -> list[Any]:
    """The canonical order columns, money as integer cents, ``ordered_at`` as the driver
    gives it fastest (ISO text on SQLite, aware datetimes on PostgreSQL)."""
    o = ORDERS.c
    if dialect == "sqlite":

        def cents(column: Any) -> Any:
            return type_coerce(column, BigInteger)  # stored as cents: skip the Decimal step

        ordered_at: Any = type_coerce(o.ordered_at, String)
    else:

        def cents(column: Any) -> Any:
            return cast(column * 100, BigInteger)  # numeric(18, 2) × 100 is exact

        ordered_at = o.ordered_at
    return [
        o.order_id,
        o.customer_id,
        ordered_at.label("ordered_at"),
        cents(o.amount).label("amount"),
        cents(o.refunded_amount).label("refunded_amount"),
        o.status,
        o.currency,
        o.channel,
    ]


def cents_to_money(cents: pa.Array) -> pa.Array:
    """Integer cents → ``decimal128(18, 2)``, exactly (``12345`` → ``123.45``)."""
    scaled = pc.multiply(
        cents.cast(pa.decimal128(19, 0)), pa.scalar(Decimal("0.01"), pa.decimal128(2, 2))
    )
    return scaled.cast(pa.decimal128(18, 2))


def _timestamps(values: list[Any], dialect: str) -> pa.Array:
    utc = pa.timestamp("us", tz="UTC")
    if dialect == "sqlite":  # "YYYY-MM-DD HH:MM:SS.ffffff", UTC (store.types.UTCDateTime)
        return pa.array(values, pa.string()).cast(pa.timestamp("us")).cast(utc)
    return pa.array(values, utc)


def _record_batch(rows: Sequence[Any], dialect: str, schema: pa.Schema) -> pa.RecordBatch:
    order_id, customer_id, ordered_at, amount, refunded, status, currency, channel = (
        list(column) for column in zip(*rows, strict=True)
    )
    arrays = [
        pa.array(order_id, pa.string()),
        pa.array(customer_id, pa.string()),
        _timestamps(ordered_at, dialect),
        cents_to_money(pa.array(amount, pa.int64())),
        cents_to_money(pa.array(refunded, pa.int64())),
        pa.array(status, pa.string()),
        pa.array(currency, pa.string()),
        pa.array(channel, pa.string()),
    ]
    return pa.record_batch(arrays, schema=schema)


def read_store_orders(
    engine: Engine, *, shop_id: str | None = None, batch_size: int = READ_BATCH
) -> pa.Table:
    """The store's orders as a canonical Arrow orders table (``ordered_at`` in UTC).

    All shops unless ``shop_id`` is given. Rows stream from the database ``batch_size``
    at a time (a server-side cursor on PostgreSQL), so memory holds Arrow, not Python rows.
    """
    dialect = engine.dialect.name
    schema = arrow_schema("orders")
    query = select(*_order_columns(dialect)).order_by(ORDERS.c.id)
    if shop_id is not None:
        query = query.where(ORDERS.c.shop_id == shop_id)
    batches: list[pa.RecordBatch] = []
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(query)
        for part in result.partitions():
            batches.append(_record_batch(part, dialect, schema))
    return pa.Table.from_batches(batches, schema=schema)
