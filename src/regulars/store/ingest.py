"""Load an import (:class:`~regulars.data.importers.ImportResult`) into the store.

``ingest(engine, result)`` writes customers, products, orders and order lines in batches
(one transaction per batch), keyed on the natural keys. On PostgreSQL each batch is
``COPY``-ed into temporary staging tables (:mod:`regulars.store.staging`) and written with a
few set-based statements; on SQLite with SQLAlchemy Core bulk ``INSERT … ON CONFLICT`` of
the rows. It is idempotent: loading the same import twice changes nothing. See "Importing
exports" in ``docs/store.md``.

Rules:

* **customers** (key ``customer_id``): new ones are inserted from the import's customers
  table (else bare, from the orders' ``customer_id``); existing profiles are never touched —
  the store owns them (edits through the API, merges).
* **products** (key ``sku``): the distinct SKUs of the order lines; existing ones untouched.
* **orders** (key ``(shop_id, order_id)``): new ones inserted; an existing order whose
  :data:`ORDER_FACTS` differ from the import is updated (a later refund, a
  cancellation…); ``customer_id`` and ``created_at`` are never changed by an import.
* **order lines** have no natural key of their own: the lines of an order are replaced as a
  whole when the import's lines for that order differ from the stored ones. An order with no
  lines in the import keeps its stored lines.

Nothing customer-facing happens: no points, no messages.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    Connection,
    Engine,
    String,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    except_all,
    func,
    insert,
    literal,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ColumnElement, Executable

from regulars.clock import utcnow
from regulars.data.importers import ImportResult
from regulars.data.schema import LINE_FIELDS, ORDER_FACTS
from regulars.errors import RegularsError
from regulars.store.migrate import current_revision, head_revision
from regulars.store.session import display_url
from regulars.store.staging import analyze, exact_values, stage
from regulars.store.tables import DEFAULT_SHOP, Customer, Order, OrderLine, Product
from regulars.store.upsert import dialect_insert

DEFAULT_BATCH_SIZE = 10_000
POSTGRES_BATCH_SIZE = 100_000
"""PostgreSQL copies a batch into staging tables: larger batches pay its fixed costs less
often (a 1 M-order re-import: 40 s at 10,000 a batch, 23 s at 100,000; docs/benchmarks.md)."""


def default_batch_size(engine: Engine) -> int:
    """Rows per transaction when the user names none: larger on PostgreSQL."""
    return POSTGRES_BATCH_SIZE if engine.dialect.name == "postgresql" else DEFAULT_BATCH_SIZE


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
    """Write ``result`` into the store (migrated to head); returns the counts.

    On PostgreSQL each batch is copied into temporary staging tables and written with
    set-based statements (:func:`_write_orders_staged`); elsewhere (SQLite) with bulk
    ``INSERT … ON CONFLICT`` of the rows (:func:`_write_orders_rows`). Same rules, same
    counts.
    """
    if batch_size < 1:
        raise RegularsError("batch size must be at least 1")
    require_head(engine)
    step = progress or (lambda _description: None)
    counts = IngestCounts()
    staged = engine.dialect.name == "postgresql"
    insert_new = _insert_new_staged if staged else _insert_new_rows
    write_orders = _write_orders_staged if staged else _write_orders_rows
    # Checked before anything is written: exact money, aware timestamps.
    orders = exact_values(_with_order_defaults(result.orders)).sort_by("order_id")
    lines = _sorted_lines(result.order_lines, orders)

    with engine.connect() as conn:
        new, total = _insert_all(
            conn, insert_new, CUSTOMERS, "customer_id", _customers(result), batch_size, step
        )
        counts.customers_inserted, counts.customers_existing = new, total - new
        new, total = _insert_all(
            conn, insert_new, PRODUCTS, "sku", _products(result), batch_size, step
        )
        counts.products_inserted, counts.products_existing = new, total - new
        if staged:
            with conn.begin():  # statistics of the rows the batches will be joined against
                analyze(conn, ORDERS)
                analyze(conn, ORDER_LINES)
        done = 0
        for rows in _batches(orders, batch_size):
            with conn.begin():
                write_orders(conn, shop_id, rows, _lines_for(lines, rows), counts)
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


def _with_order_defaults(orders: pa.Table) -> pa.Table:
    """Missing refund and status filled in as the store has them (``0.00``, completed)."""
    for name, default in (("refunded_amount", Decimal("0.00")), ("status", "completed")):
        index = orders.schema.get_field_index(name)
        column = orders.column(index)
        orders = orders.set_column(
            index, name, pc.fill_null(column, pa.scalar(default, column.type))
        )
    return orders


def _sorted_lines(lines: pa.Table | None, orders: pa.Table) -> pa.Table | None:
    """The lines of the imported orders, by ``order_id`` then file order (``line_no``)."""
    if lines is None or lines.num_rows == 0:
        return None
    lines = exact_values(lines)
    lines = lines.append_column("line_no", pa.array(range(lines.num_rows), pa.int64()))
    lines = lines.filter(pc.is_in(lines.column("order_id"), orders.column("order_id")))
    return lines.select(["order_id", *LINE_FIELDS, "line_no"]).sort_by(
        [("order_id", "ascending"), ("line_no", "ascending")]
    )


def _batches(table: pa.Table, size: int) -> Iterator[pa.Table]:
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


def _lines_for(lines: pa.Table | None, orders: pa.Table) -> pa.Table | None:
    """The lines of a batch of orders; both sorted by ``order_id`` (UTF-8 byte order, the
    same as Python's code point order, so :mod:`bisect` finds the range)."""
    if lines is None or orders.num_rows == 0:
        return None
    keys = _Keys(lines.column("order_id"))
    start = bisect_left(keys, orders.column("order_id")[0].as_py())
    stop = bisect_right(keys, orders.column("order_id")[-1].as_py())
    return lines.slice(start, stop - start)


# -- writing row by row (SQLite) ----------------------------------------------------------


def _insert_new_rows(conn: Connection, table: Table, key: str, batch: pa.Table) -> int:
    """Insert the rows whose ``key`` is not in ``table`` yet; returns how many were new."""
    rows = batch.to_pylist()
    keys = [row[key] for row in rows]
    existing = set(conn.scalars(select(table.c[key]).where(table.c[key].in_(keys))))
    now = utcnow()
    new = [
        {**row, "created_at": now, "updated_at": now} for row in rows if row[key] not in existing
    ]
    if new:
        conn.execute(dialect_insert(conn, table).on_conflict_do_nothing(index_elements=[key]), new)
    return len(new)


def _line_key(row: Mapping[Any, Any]) -> tuple[Any, ...]:
    return tuple(row.get(name) for name in LINE_FIELDS)


def _write_orders_rows(
    conn: Connection,
    shop_id: str,
    batch: pa.Table,
    batch_lines: pa.Table | None,
    counts: IngestCounts,
) -> None:
    orders = batch.to_pylist()
    lines: dict[str, list[dict[str, Any]]] = {}
    for line in batch_lines.to_pylist() if batch_lines is not None else ():
        lines.setdefault(line["order_id"], []).append(line)
    ids = [row["order_id"] for row in orders]
    columns = [ORDERS.c.order_id, *(ORDERS.c[name] for name in ORDER_FACTS)]
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
        values = {name: row[name] for name in ORDER_FACTS}
        incoming = lines.get(oid)
        before = stored.get(oid)
        order_changed = before is None or any(_differs(before[n], values[n]) for n in ORDER_FACTS)
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
        statement = dialect_insert(conn, ORDERS)
        statement = statement.on_conflict_do_update(
            index_elements=["shop_id", "order_id"],
            set_={
                **{name: statement.excluded[name] for name in ORDER_FACTS},
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
    query = select(ORDER_LINES.c.order_id, *(ORDER_LINES.c[n] for n in LINE_FIELDS)).where(
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
        {"shop_id": shop_id, "order_id": oid, **{n: line.get(n) for n in LINE_FIELDS}}
        for oid in order_ids
        for line in lines[oid]
    ]
    conn.execute(dialect_insert(conn, ORDER_LINES), rows)
    counts.lines_inserted += len(rows)


def _differs(stored: Any, incoming: Any) -> bool:
    """Aware datetimes compare as instants, Decimals by value (``0`` equals ``0.00``)."""
    return bool(stored != incoming)


# -- writing set-based from staging tables (PostgreSQL) -----------------------------------
#
# Each batch is COPYed into temporary tables (regulars.store.staging) and written with a
# handful of statements whatever its size. The rules are those of the row path above,
# expressed in SQL: IS DISTINCT FROM for the order fields (NULL-safe, numbers by value,
# timestamps as instants) and EXCEPT ALL both ways for the lines (a multiset comparison).
#
# New rows go in first with INSERT … ON CONFLICT DO NOTHING, which finds the existing ones
# through the unique index whatever the planner believes about the tables' sizes (their
# statistics lag far behind during a large import). When every order of a batch was new,
# which is the bulk of a first import, nothing needs comparing: their lines are written as
# they are. Only a batch with existing orders joins the staged rows against the store.
# ON CONFLICT draws an id from the sequence for each existing row, so a re-import leaves
# gaps in the ids of rows it adds later; no stored row or id changes.


def _insert_new_staged(conn: Connection, table: Table, key: str, batch: pa.Table) -> int:
    """Insert the staged rows whose ``key`` is not in ``table`` yet; returns how many."""
    staged = stage(conn, f"regulars_stage_{table.name}", batch)
    names = batch.column_names
    statement = (
        postgresql.insert(table)
        # include_defaults (the default): created_at, updated_at, attributes as the models
        .from_select(names, select(*(staged.c[n] for n in names)))
        .on_conflict_do_nothing(index_elements=[key])
    )
    return _rowcount(conn, statement)


def _write_orders_staged(
    conn: Connection,
    shop_id: str,
    batch: pa.Table,
    batch_lines: pa.Table | None,
    counts: IngestCounts,
) -> None:
    staged = stage(conn, "regulars_stage_orders", batch)
    staged_lines = None
    if batch_lines is not None and batch_lines.num_rows:
        staged_lines = stage(conn, "regulars_stage_order_lines", batch_lines)
    new = _insert_new_orders(conn, shop_id, staged)
    inserted = _count(conn, new)
    touched: set[str] = set()  # existing orders whose fields or lines change
    replace = new  # orders whose staged lines are to be written
    if inserted < batch.num_rows:
        ids = batch.column("order_id").to_pylist()
        touched, replace = _reconcile_existing(
            conn, shop_id, ids, staged, staged_lines, new, counts
        )
    if staged_lines is not None:
        _insert_staged_lines(conn, shop_id, staged_lines, replace, counts)
    counts.orders_inserted += inserted
    counts.orders_updated += len(touched)
    counts.orders_unchanged += batch.num_rows - inserted - len(touched)


def _reconcile_existing(
    conn: Connection,
    shop_id: str,
    ids: list[str],
    staged: Table,
    staged_lines: Table | None,
    new: Table,
    counts: IngestCounts,
) -> tuple[set[str], Table]:
    """Update the existing orders that changed and delete their lines where these differ.

    Returns the ids of the existing orders touched and a staged table of the orders whose
    lines are to be written (the new ones and those whose lines differ).

    Every join against the store also names the batch's order ids (``= ANY(array)``): the
    unique index then finds them in time proportional to the batch, where a plain join
    may scan the whole table for each batch (its statistics lag behind a large import).
    """
    for table in (staged, new, staged_lines):  # joins ahead: the planner needs row counts
        if table is not None:
            analyze(conn, table)
    touched = set(_update_changed_orders(conn, shop_id, ids, staged))
    if staged_lines is None:
        return touched, new
    changed = _lines_that_differ(conn, shop_id, ids, staged_lines, new)
    touched.update(conn.scalars(select(changed.c.order_id)))
    _delete_lines(conn, shop_id, ids, changed, counts)
    return touched, _union(conn, new, changed)


def _order_ids(conn: Connection, name: str) -> Table:
    """An empty staging table of order ids."""
    return stage(conn, name, pa.table({"order_id": pa.array([], pa.string())}))


def _insert_new_orders(conn: Connection, shop_id: str, staged: Table) -> Table:
    """Insert the staged orders that are not in the store; a staged table of their ids."""
    names = ["order_id", "customer_id", *ORDER_FACTS]
    added = (
        postgresql.insert(ORDERS)
        # include_defaults (the default): created_at, updated_at
        .from_select(
            ["shop_id", *names],
            select(literal(shop_id, String()), *(staged.c[n] for n in names)),
        )
        .on_conflict_do_nothing(index_elements=["shop_id", "order_id"])
        .returning(ORDERS.c.order_id)
        .cte("added")
    )
    new = _order_ids(conn, "regulars_stage_new")
    conn.execute(insert(new).from_select(["order_id"], select(added.c.order_id)))
    return new


def _among(column: ColumnElement[Any], ids: list[str]) -> ColumnElement[bool]:
    """``column = ANY(:ids)``, the ids sent as one array parameter."""
    return column == any_(bindparam(None, ids, type_=postgresql.ARRAY(String())))


def _update_changed_orders(
    conn: Connection, shop_id: str, ids: list[str], staged: Table
) -> list[str]:
    """Update the orders whose updatable fields differ from the staged ones; their ids.

    The orders just inserted equal their staged rows, so they are never among them.
    """
    differs = or_(*(ORDERS.c[n].is_distinct_from(staged.c[n]) for n in ORDER_FACTS))
    statement = (
        update(ORDERS)
        .where(
            ORDERS.c.shop_id == shop_id,
            _among(ORDERS.c.order_id, ids),
            ORDERS.c.order_id == staged.c.order_id,
            differs,
        )
        .values({**{n: staged.c[n] for n in ORDER_FACTS}, "updated_at": utcnow()})
        .returning(ORDERS.c.order_id)
    )
    return list(conn.scalars(statement))


def _lines_that_differ(
    conn: Connection, shop_id: str, ids: list[str], staged_lines: Table, new: Table
) -> Table:
    """A staged table of the existing orders whose staged lines differ (as multisets) from
    the stored ones: an order id left by ``staged EXCEPT ALL stored`` or the reverse."""
    existing = staged_lines.c.order_id.not_in(select(new.c.order_id))
    incoming = select(staged_lines.c.order_id, *(staged_lines.c[n] for n in LINE_FIELDS)).where(
        existing
    )
    stored = select(ORDER_LINES.c.order_id, *(ORDER_LINES.c[n] for n in LINE_FIELDS)).where(
        ORDER_LINES.c.shop_id == shop_id,
        _among(ORDER_LINES.c.order_id, ids),
        ORDER_LINES.c.order_id.in_(select(staged_lines.c.order_id).where(existing)),
    )
    difference = union(except_all(incoming, stored), except_all(stored, incoming)).subquery()
    changed = _order_ids(conn, "regulars_stage_changed")
    conn.execute(
        insert(changed).from_select(["order_id"], select(difference.c.order_id).distinct())
    )
    analyze(conn, changed)
    return changed


def _union(conn: Connection, first: Table, second: Table) -> Table:
    both = _order_ids(conn, "regulars_stage_replace")
    conn.execute(
        insert(both).from_select(
            ["order_id"], union(select(first.c.order_id), select(second.c.order_id))
        )
    )
    analyze(conn, both)
    return both


def _delete_lines(
    conn: Connection, shop_id: str, ids: list[str], orders: Table, counts: IngestCounts
) -> None:
    gone = conn.execute(
        delete(ORDER_LINES).where(
            ORDER_LINES.c.shop_id == shop_id,
            _among(ORDER_LINES.c.order_id, ids),
            ORDER_LINES.c.order_id.in_(select(orders.c.order_id)),
        )
    )
    counts.lines_deleted += gone.rowcount


def _insert_staged_lines(
    conn: Connection, shop_id: str, staged_lines: Table, orders: Table, counts: IngestCounts
) -> None:
    """Insert the staged lines of ``orders``, in file order (the ids follow it)."""
    names = ["order_id", *LINE_FIELDS]
    rows = (
        select(literal(shop_id, String()), *(staged_lines.c[n] for n in names))
        .where(staged_lines.c.order_id.in_(select(orders.c.order_id)))
        .order_by(staged_lines.c.order_id, staged_lines.c.line_no)
    )
    statement = postgresql.insert(ORDER_LINES).from_select(["shop_id", *names], rows)
    counts.lines_inserted += _rowcount(conn, statement)


def _count(conn: Connection, table: Table) -> int:
    return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def _rowcount(conn: Connection, statement: Executable) -> int:
    """Rows an ``INSERT … SELECT`` wrote (SQLAlchemy keeps it only for UPDATE/DELETE
    unless asked)."""
    return int(conn.execute(statement.execution_options(preserve_rowcount=True)).rowcount)
