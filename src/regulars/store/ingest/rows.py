"""Writing a batch row by row with bulk ``INSERT … ON CONFLICT`` (SQLite)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from sqlalchemy import (
    Connection,
    Table,
    and_,
    delete,
    select,
)

from regulars.clock import utcnow
from regulars.data.schema import LINE_FIELDS, ORDER_FACTS
from regulars.store.ingest.counts import IngestCounts
from regulars.store.ingest.sources import ORDER_LINES, ORDERS
from regulars.store.upsert import dialect_insert


def insert_new_rows(conn: Connection, table: Table, key: str, batch: pa.Table) -> int:
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


def write_orders_rows(
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
