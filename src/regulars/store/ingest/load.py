"""``ingest``: an import into the store, batch by batch (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from sqlalchemy import (
    Connection,
    Engine,
    Table,
)

from regulars.data.importers import ImportResult
from regulars.errors import RegularsError
from regulars.store.ingest.counts import IngestCounts, Progress
from regulars.store.ingest.rows import insert_new_rows, write_orders_rows
from regulars.store.ingest.sources import (
    CUSTOMERS,
    ORDER_LINES,
    ORDERS,
    PRODUCTS,
    batches,
    customers,
    lines_for,
    products,
    sizes,
    sorted_lines,
    with_order_defaults,
)
from regulars.store.ingest.staged import insert_new_staged, write_orders_staged
from regulars.store.migrate import current_revision, head_revision
from regulars.store.session import display_url
from regulars.store.staging import analyze, exact_values
from regulars.store.tables import DEFAULT_SHOP

DEFAULT_BATCH_SIZE = 10_000
POSTGRES_BATCH_SIZE = 100_000
"""PostgreSQL copies a batch into staging tables: larger batches pay its fixed costs less
often (a 1 M-order re-import: 40 s at 10,000 a batch, 23 s at 100,000; docs/benchmarks.md)."""


def default_batch_size(engine: Engine) -> int:
    """Rows per transaction when the user names none: larger on PostgreSQL."""
    return POSTGRES_BATCH_SIZE if engine.dialect.name == "postgresql" else DEFAULT_BATCH_SIZE


def require_head(engine: Engine) -> None:
    """Raise a :class:`RegularsError` unless the database is migrated to head."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "not migrated" if current is None else f"at revision {current}, not {head}"
        raise RegularsError(
            f"database {display_url(engine.url)} is {state}; run 'regulars db upgrade' first"
        )


def count_batches(result: ImportResult, batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """How many times ``ingest`` will call ``progress`` for ``result``."""
    return sum(-(-n // batch_size) for n in sizes(result).values())


def ingest(
    engine: Engine,
    result: ImportResult,
    *,
    shop_id: str = DEFAULT_SHOP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> IngestCounts:
    """Write ``result`` into the store (migrated to head); returns the counts.

    On PostgreSQL each batch is copied into temporary staging tables and written with
    set-based statements (:func:`write_orders_staged`); elsewhere (SQLite) with bulk
    ``INSERT … ON CONFLICT`` of the rows (:func:`write_orders_rows`). Same rules, same
    counts.
    """
    if batch_size < 1:
        raise RegularsError("batch size must be at least 1")
    require_head(engine)
    step = progress or (lambda _description: None)
    counts = IngestCounts()
    staged = engine.dialect.name == "postgresql"
    insert_new = insert_new_staged if staged else insert_new_rows
    write_orders = write_orders_staged if staged else write_orders_rows
    # Checked before anything is written: exact money, aware timestamps.
    orders = exact_values(with_order_defaults(result.orders)).sort_by("order_id")
    lines = sorted_lines(result.order_lines, orders)

    with engine.connect() as conn:
        new, total = _insert_all(
            conn, insert_new, CUSTOMERS, "customer_id", customers(result), batch_size, step
        )
        counts.customers_inserted, counts.customers_existing = new, total - new
        new, total = _insert_all(
            conn, insert_new, PRODUCTS, "sku", products(result), batch_size, step
        )
        counts.products_inserted, counts.products_existing = new, total - new
        if staged:
            with conn.begin():  # statistics of the rows the batches will be joined against
                analyze(conn, ORDERS)
                analyze(conn, ORDER_LINES)
        done = 0
        for rows in batches(orders, batch_size):
            with conn.begin():
                write_orders(conn, shop_id, rows, lines_for(lines, rows), counts)
            done += rows.num_rows
            step(f"orders {done:,}/{orders.num_rows:,}")
    return counts


def _insert_all(
    conn: Connection,
    insert_new: Callable[[Connection, Table, str, pa.Table], int],
    table: Table,
    key: str,
    rows: pa.Table,
    batch_size: int,
    step: Progress,
) -> tuple[int, int]:
    """Insert the new ``rows`` batch by batch; how many were new, how many in all."""
    inserted = 0
    for start in range(0, rows.num_rows, batch_size):
        with conn.begin():
            inserted += insert_new(conn, table, key, rows.slice(start, batch_size))
        step(f"{table.name} {min(start + batch_size, rows.num_rows):,}/{rows.num_rows:,}")
    return inserted, rows.num_rows
