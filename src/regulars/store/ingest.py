"""Load an import (:class:`~regulars.data.importers.ImportResult`) into the store.

``ingest(engine, result)`` writes customers, products, orders and order lines in batches
(one transaction per batch) with SQLAlchemy Core bulk statements and the dialect's
``INSERT … ON CONFLICT`` upserts, keyed on the natural keys. It is idempotent: loading the
same import twice changes nothing. See "Importing exports" in ``docs/store.md``.

Rules:

* **customers** (key ``customer_id``): new ones are inserted from the import's customers
  table (else bare, from the orders' ``customer_id``); existing profiles are never touched —
  the store owns them (edits through the API, merges).
* **products** (key ``sku``): the distinct SKUs of the order lines; existing ones untouched.
* **orders** (key ``(shop_id, order_id)``): new ones inserted; an existing order whose
  :data:`UPDATABLE_ORDER_FIELDS` differ from the import is updated (a later refund, a
  cancellation…); ``customer_id`` and ``created_at`` are never changed by an import.
* **order lines** have no natural key of their own: the lines of an order are replaced as a
  whole when the import's lines for that order differ from the stored ones. An order with no
  lines in the import keeps its stored lines.

Nothing customer-facing happens: no points, no messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, Table, and_, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from regulars.data.importers import ImportResult
from regulars.errors import RegularsError
from regulars.store.migrate import current_revision, head_revision
from regulars.store.models import DEFAULT_SHOP, Customer, Order, OrderLine, Product
from regulars.store.session import display_url
from regulars.store.types import utcnow

DEFAULT_BATCH_SIZE = 10_000

UPDATABLE_ORDER_FIELDS = (
    "ordered_at",
    "amount",
    "refunded_amount",
    "status",
    "currency",
    "channel",
)
"""Order fields a re-import may change: the shop's facts about the order."""

_LINE_FIELDS = ("sku", "product_name", "category", "quantity", "unit_price", "line_amount")
_CUSTOMER_FIELDS = ("name", "email", "phone", "birthday", "acquisition_channel")

CUSTOMERS: Table = Customer.__table__  # type: ignore[assignment]
PRODUCTS: Table = Product.__table__  # type: ignore[assignment]
ORDERS: Table = Order.__table__  # type: ignore[assignment]
ORDER_LINES: Table = OrderLine.__table__  # type: ignore[assignment]

Progress = Callable[[str], None]


@dataclass
class IngestCounts:
    """What one ``ingest`` call did."""

    customers_inserted: int = 0
    customers_existing: int = 0
    products_inserted: int = 0
    products_existing: int = 0
    orders_inserted: int = 0
    orders_updated: int = 0
    orders_unchanged: int = 0
    lines_inserted: int = 0
    lines_deleted: int = 0

    def summary(self) -> str:
        return (
            f"Store: customers {self.customers_inserted:,} new, {self.customers_existing:,} "
            f"existing · products {self.products_inserted:,} new, {self.products_existing:,} "
            f"existing · orders {self.orders_inserted:,} new, {self.orders_updated:,} updated, "
            f"{self.orders_unchanged:,} unchanged · lines {self.lines_inserted:,} written, "
            f"{self.lines_deleted:,} replaced."
        )


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
    return sum(-(-n // batch_size) for n in _sizes(result).values())


def ingest(
    engine: Engine,
    result: ImportResult,
    *,
    shop_id: str = DEFAULT_SHOP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> IngestCounts:
    """Write ``result`` into the store (migrated to head); returns the counts."""
    if batch_size < 1:
        raise RegularsError("batch size must be at least 1")
    require_head(engine)
    step = progress or (lambda _description: None)
    counts = IngestCounts()
    sizes = _sizes(result)

    customers = _customers(result)
    done = 0
    for rows in _batches(customers, batch_size):
        with engine.begin() as conn:
            inserted = _insert_new(conn, CUSTOMERS, "customer_id", rows)
        counts.customers_inserted += inserted
        counts.customers_existing += len(rows) - inserted
        done += len(rows)
        step(f"customers {done:,}/{sizes['customers']:,}")

    done = 0
    for rows in _batches(_products(result), batch_size):
        with engine.begin() as conn:
            inserted = _insert_new(conn, PRODUCTS, "sku", rows)
        counts.products_inserted += inserted
        counts.products_existing += len(rows) - inserted
        done += len(rows)
        step(f"products {done:,}/{sizes['products']:,}")

    orders = result.orders.sort_by("order_id")
    lines = _sorted_lines(result.order_lines)
    line_ids: list[str] = lines.column("order_id").to_pylist() if lines is not None else []
    done = 0
    for rows in _batches(orders, batch_size):
        batch_lines = _lines_for(lines, line_ids, rows)
        with engine.begin() as conn:
            _write_orders(conn, shop_id, rows, batch_lines, counts)
        done += len(rows)
        step(f"orders {done:,}/{sizes['orders']:,}")
    return counts


# -- sources ------------------------------------------------------------------------------


def _sizes(result: ImportResult) -> dict[str, int]:
    return {
        "customers": _customers(result).num_rows,
        "products": _products(result).num_rows,
        "orders": result.orders.num_rows,
    }


def _customers(result: ImportResult) -> pa.Table:
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


def _products(result: ImportResult) -> pa.Table:
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


def _sorted_lines(lines: pa.Table | None) -> pa.Table | None:
    if lines is None or lines.num_rows == 0:
        return None
    return lines.append_column("__row", pa.array(range(lines.num_rows), pa.int64())).sort_by(
        [("order_id", "ascending"), ("__row", "ascending")]
    )


def _batches(table: pa.Table, size: int) -> Iterator[list[dict[str, Any]]]:
    for batch in table.to_batches(max_chunksize=size):
        if batch.num_rows:
            yield batch.to_pylist()


def _lines_for(
    lines: pa.Table | None, line_ids: Sequence[str], orders: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """The lines of a batch of orders (sorted by ``order_id``), grouped by order."""
    if lines is None or not orders:
        return {}
    from bisect import bisect_left, bisect_right

    start = bisect_left(line_ids, orders[0]["order_id"])
    stop = bisect_right(line_ids, orders[-1]["order_id"])
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in lines.slice(start, stop - start).to_pylist():
        grouped.setdefault(row["order_id"], []).append(row)
    return grouped


# -- writing ------------------------------------------------------------------------------


def _insert(conn: Connection, table: Table) -> Any:
    """The dialect's ``INSERT`` (which supports ``ON CONFLICT``)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise RegularsError(f"cannot import into a {conn.dialect.name} database")  # pragma: no cover


def _insert_new(conn: Connection, table: Table, key: str, rows: list[dict[str, Any]]) -> int:
    """Insert the rows whose ``key`` is not in ``table`` yet; returns how many were new."""
    keys = [row[key] for row in rows]
    existing = set(conn.scalars(select(table.c[key]).where(table.c[key].in_(keys))))
    now = utcnow()
    new = [
        {**row, "created_at": now, "updated_at": now} for row in rows if row[key] not in existing
    ]
    if new:
        conn.execute(_insert(conn, table).on_conflict_do_nothing(index_elements=[key]), new)
    return len(new)


def _order_values(row: dict[str, Any]) -> dict[str, Any]:
    """The updatable fields of an imported order, defaults filled in as the store has them."""
    values = {name: row.get(name) for name in UPDATABLE_ORDER_FIELDS}
    if values["refunded_amount"] is None:
        values["refunded_amount"] = Decimal("0.00")
    if values["status"] is None:
        values["status"] = "completed"
    return values


def _line_key(row: Mapping[Any, Any]) -> tuple[Any, ...]:
    return tuple(row.get(name) for name in _LINE_FIELDS)


def _write_orders(
    conn: Connection,
    shop_id: str,
    orders: list[dict[str, Any]],
    lines: dict[str, list[dict[str, Any]]],
    counts: IngestCounts,
) -> None:
    ids = [row["order_id"] for row in orders]
    columns = [ORDERS.c.order_id, *(ORDERS.c[name] for name in UPDATABLE_ORDER_FIELDS)]
    stored = {
        r.order_id: dict(r._mapping)
        for r in conn.execute(
            select(*columns).where(and_(ORDERS.c.shop_id == shop_id, ORDERS.c.order_id.in_(ids)))
        )
    }
    stored_lines = _stored_lines(conn, shop_id, [i for i in ids if i in stored and i in lines])
    now = utcnow()
    upserts: list[dict[str, Any]] = []
    replace: list[str] = []
    for row in orders:
        oid = row["order_id"]
        values = _order_values(row)
        incoming = lines.get(oid)
        before = stored.get(oid)
        order_changed = before is None or any(
            _differs(before[n], values[n]) for n in UPDATABLE_ORDER_FIELDS
        )
        lines_changed = bool(incoming) and stored_lines.get(oid, Counter()) != Counter(
            _line_key(line) for line in incoming or ()
        )
        if order_changed:
            upserts.append(
                {
                    "shop_id": shop_id,
                    "order_id": oid,
                    "customer_id": row["customer_id"],
                    **values,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if lines_changed:
            replace.append(oid)
        if before is None:
            counts.orders_inserted += 1
        elif order_changed or lines_changed:
            counts.orders_updated += 1
        else:
            counts.orders_unchanged += 1
    if upserts:
        statement = _insert(conn, ORDERS)
        statement = statement.on_conflict_do_update(
            index_elements=["shop_id", "order_id"],
            set_={
                **{name: statement.excluded[name] for name in UPDATABLE_ORDER_FIELDS},
                "updated_at": statement.excluded.updated_at,
            },
        )
        conn.execute(statement, upserts)
    if replace:
        _replace_lines(
            conn, shop_id, replace, [oid for oid in replace if oid in stored], lines, counts
        )


def _stored_lines(
    conn: Connection, shop_id: str, order_ids: list[str]
) -> dict[str, Counter[tuple[Any, ...]]]:
    """The stored lines of these orders, as a multiset per order."""
    found: dict[str, Counter[tuple[Any, ...]]] = {}
    if not order_ids:
        return found
    query = select(ORDER_LINES.c.order_id, *(ORDER_LINES.c[n] for n in _LINE_FIELDS)).where(
        and_(ORDER_LINES.c.shop_id == shop_id, ORDER_LINES.c.order_id.in_(order_ids))
    )
    for r in conn.execute(query):
        found.setdefault(r.order_id, Counter())[_line_key(r._mapping)] += 1
    return found


def _replace_lines(
    conn: Connection,
    shop_id: str,
    order_ids: list[str],
    existing: list[str],
    lines: dict[str, list[dict[str, Any]]],
    counts: IngestCounts,
) -> None:
    """Delete the stored lines of ``existing`` orders, write the imported lines of all."""
    if existing:
        gone = conn.execute(
            delete(ORDER_LINES).where(
                and_(ORDER_LINES.c.shop_id == shop_id, ORDER_LINES.c.order_id.in_(existing))
            )
        )
        counts.lines_deleted += gone.rowcount
    rows = [
        {"shop_id": shop_id, "order_id": oid, **{n: line.get(n) for n in _LINE_FIELDS}}
        for oid in order_ids
        for line in lines[oid]
    ]
    conn.execute(_insert(conn, ORDER_LINES), rows)
    counts.lines_inserted += len(rows)


def _differs(stored: Any, incoming: Any) -> bool:
    """Aware datetimes compare as instants, Decimals by value (``0`` equals ``0.00``)."""
    return bool(stored != incoming)
