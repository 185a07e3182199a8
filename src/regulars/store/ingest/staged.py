"""Writing a batch set-based from staging tables (PostgreSQL).

Each batch is COPYed into temporary tables (:mod:`regulars.store.staging`) and written
with a handful of statements whatever its size. The rules are those of the row path
(:mod:`regulars.store.ingest.rows`), expressed in SQL: IS DISTINCT FROM for the order
fields (NULL-safe, numbers by value, timestamps as instants) and EXCEPT ALL both ways for
the lines (a multiset comparison).

New rows go in first with INSERT … ON CONFLICT DO NOTHING, which finds the existing ones
through the unique index whatever the planner believes about the tables' sizes (their
statistics lag far behind during a large import). When every order of a batch was new,
which is the bulk of a first import, nothing needs comparing: their lines are written as
they are. Only a batch with existing orders joins the staged rows against the store.
ON CONFLICT draws an id from the sequence for each existing row, so a re-import leaves
gaps in the ids of rows it adds later; no stored row or id changes.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlalchemy import (
    Connection,
    String,
    Table,
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
from regulars.data.schema import LINE_FIELDS, ORDER_FACTS
from regulars.store.ingest.counts import IngestCounts
from regulars.store.ingest.sources import ORDER_LINES, ORDERS
from regulars.store.staging import analyze, stage


def insert_new_staged(conn: Connection, table: Table, key: str, batch: pa.Table) -> int:
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


def write_orders_staged(
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
