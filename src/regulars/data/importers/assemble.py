"""Staged rows of every file → canonical orders, order lines and customers (DuckDB SQL).

Steps, all set-based:

1. **Group** rows into orders. In a line-item file the rows of one file that share an
   order id are one order; elsewhere every row is an order. Order-level values are the
   first non-empty value of the group (Shopify fills them on the first row only).
2. **Check** required values per order; any order-level problem on any row drops the
   whole order, and every row of it is reported.
3. **Identify** customers: own id, else the id seen with the same email or phone, else
   email, else phone (see :mod:`.identity`).
4. **De-duplicate** order ids across rows and files: the first occurrence wins; a later
   one that agrees on customer, date and amount is an identical copy (counted once),
   otherwise a conflict (rejected with the differences named).
5. **Derive** statuses and refunds, lines, and one customer row per customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from regulars.data import schema
from regulars.data.importers import rejects

_ORDER_VALUES = (
    "order_id",
    "customer_id",
    "email",
    "phone",
    "name",
    "birthday",
    "created_at",
    "acquisition_channel",
    "ordered_at",
    "_utc_offset",
    "amount",
    "refunded_amount",
    "status",
    "currency",
    "channel",
)

#: Per file: how its columns are called, for messages, and whether it has an order total.
META_SCHEMA = pa.schema(
    [
        ("_file", pa.int32()),
        ("label", pa.string()),
        ("order_id_col", pa.string()),
        ("customer_col", pa.string()),
        ("ordered_at_col", pa.string()),
        ("amount_col", pa.string()),
        ("has_amount", pa.bool_()),
    ]
)


@dataclass
class Assembled:
    """The canonical tables (None when not asked for) and every problem found."""

    orders: pa.Table
    order_lines: pa.Table | None
    customers: pa.Table | None
    problems: pa.Table
    duplicate_orders: int
    utc_offsets: pa.Array | None  # per row of orders; None when no time had an offset


def _first_values() -> str:
    return ",\n".join(
        f"arg_min({c}, _seq) FILTER (WHERE {c} IS NOT NULL) AS {c}" for c in _ORDER_VALUES
    )


_COLUMNS = ", ".join(_ORDER_VALUES)

_STEPS = f"""
-- 1. Line-item files: the rows of one file sharing an order id form one order, keyed by
--    its first row. Rows of order-level files are their own group (_grp = _row).
CREATE TEMP TABLE line_keyed AS
SELECT s.*, g._grp FROM stage s
JOIN (SELECT _file, order_id, min(_row) AS _grp FROM stage
      WHERE _line_level AND order_id IS NOT NULL GROUP BY _file, order_id) g
USING (_file, order_id)
WHERE s._line_level;

-- Views, not tables, over the staged rows: the Arrow data is scanned where it lies
-- instead of being copied into DuckDB (millions of rows, order ids included).
CREATE TEMP VIEW all_rows AS
SELECT _file, _row, _grp, order_id FROM line_keyed
UNION ALL
SELECT _file, _row, _row, order_id FROM stage WHERE NOT (_line_level AND order_id IS NOT NULL);

CREATE TEMP TABLE prob AS
SELECT p.*, coalesce(k._grp, p._row) AS _grp
FROM problems p LEFT JOIN line_keyed k USING (_file, _row);

CREATE TEMP TABLE good_lines AS
SELECT k.* FROM line_keyed k
WHERE _has_line AND line_amount IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM prob p WHERE p._file = k._file AND p._row = k._row
                  AND p.scope IN ('line', 'order'));

-- 2. One row per order: first non-empty value of each order-level field. Only the groups
--    of line-item files are computed into a table; rows that are orders stay in `stage`.
CREATE TEMP TABLE line_grouped AS
SELECT g.*, m.has_amount, coalesce(b.bad_lines, 0),
       CASE WHEN m.has_amount THEN g.amount
            WHEN coalesce(b.bad_lines, 0) = 0 THEN l.line_total END
FROM (SELECT _file, _grp, min(_seq) AS _seq, {_first_values()}
      FROM line_keyed GROUP BY _file, _grp) g
JOIN meta m USING (_file)
LEFT JOIN (SELECT _file, _grp, sum(line_amount) AS line_total FROM good_lines
           GROUP BY _file, _grp) l USING (_file, _grp)
LEFT JOIN (SELECT _file, _grp, count(*) AS bad_lines FROM prob WHERE scope = 'line'
           GROUP BY _file, _grp) b USING (_file, _grp);

CREATE TEMP VIEW grouped AS
SELECT _file, _row AS _grp, _seq, {_COLUMNS}, TRUE AS has_amount, 0 AS bad_lines,
       amount AS amount_final
FROM stage WHERE NOT (_line_level AND order_id IS NOT NULL)
UNION ALL
SELECT * FROM line_grouped;

CREATE TEMP TABLE missing AS
WITH found AS (
  SELECT _file, _grp, 'order_id' AS field, 'order id is missing' AS reason
  FROM grouped WHERE order_id IS NULL
  UNION ALL
  SELECT _file, _grp, 'customer_id', 'no customer id, email or phone'
  FROM grouped WHERE customer_id IS NULL AND email IS NULL AND phone IS NULL
  UNION ALL
  SELECT _file, _grp, 'ordered_at', 'order date is missing'
  FROM grouped WHERE ordered_at IS NULL
  UNION ALL
  SELECT _file, _grp, 'amount',
         CASE WHEN has_amount THEN 'amount is missing'
              WHEN bad_lines > 0 THEN 'order total unknown: a line of this order is invalid'
              ELSE 'order has no line with a price' END
  FROM grouped WHERE amount_final IS NULL
)
SELECT f._file, f._grp AS _row, f.field,
       CASE f.field WHEN 'order_id' THEN m.order_id_col WHEN 'customer_id' THEN m.customer_col
            WHEN 'ordered_at' THEN m.ordered_at_col ELSE m.amount_col END AS "column",
       NULL::VARCHAR AS value, f.reason, 'order' AS scope, NULL::VARCHAR AS raw, f._grp
FROM found f JOIN meta m USING (_file)
WHERE NOT EXISTS (SELECT 1 FROM prob p WHERE p._file = f._file AND p._grp = f._grp
                  AND p.field = f.field AND p.scope = 'order');

-- 3. Orders with any order-level problem are dropped as a whole.
CREATE TEMP TABLE rejected AS
SELECT _file, _grp, min(_row) AS cause_row FROM (
  SELECT _file, _grp, _row FROM prob WHERE scope = 'order'
  UNION ALL SELECT _file, _grp, _row FROM missing
) GROUP BY _file, _grp;

-- 4. Customer identity: own id, else the id linked through email or phone, else those.
--    Links are looked up only for the emails and phones of orders without an id.
CREATE TEMP VIEW resolved AS
WITH guests AS (
  SELECT g.* FROM grouped g ANTI JOIN rejected r USING (_file, _grp)
  WHERE g.customer_id IS NULL
), by_email AS (
  SELECT email, arg_min(customer_id, _seq) AS linked FROM grouped
  WHERE customer_id IS NOT NULL AND email IN (SELECT email FROM guests) GROUP BY email
), by_phone AS (
  SELECT phone, arg_min(customer_id, _seq) AS linked FROM grouped
  WHERE customer_id IS NOT NULL AND phone IN (SELECT phone FROM guests) GROUP BY phone
)
SELECT g.*, g.customer_id AS customer FROM grouped g ANTI JOIN rejected r USING (_file, _grp)
WHERE g.customer_id IS NOT NULL
UNION ALL
SELECT v.*, coalesce(e.linked, p.linked, v.email, v.phone)
FROM guests v LEFT JOIN by_email e USING (email) LEFT JOIN by_phone p USING (phone);

-- 5. Duplicate order ids: the first in input order is kept.
CREATE TEMP TABLE firsts AS
SELECT order_id, min(_seq) AS first_seq FROM resolved GROUP BY order_id HAVING count(*) > 1;

CREATE TEMP TABLE duplicates AS
SELECT d.order_id, d._file, d._grp, w._grp AS w_row, wm.label AS w_label,
       d.customer IS NOT DISTINCT FROM w.customer
       AND d.ordered_at IS NOT DISTINCT FROM w.ordered_at
       AND d.amount_final IS NOT DISTINCT FROM w.amount_final AS identical,
       concat_ws(', ',
         CASE WHEN d.customer IS DISTINCT FROM w.customer THEN 'customer' END,
         CASE WHEN d.ordered_at IS DISTINCT FROM w.ordered_at THEN 'date' END,
         CASE WHEN d.amount_final IS DISTINCT FROM w.amount_final THEN 'amount' END
       ) AS differences
FROM firsts f
JOIN resolved d ON d.order_id = f.order_id AND d._seq <> f.first_seq
JOIN resolved w ON w._seq = f.first_seq
JOIN meta wm ON wm._file = w._file;

CREATE TEMP VIEW kept AS
SELECT r.* FROM resolved r ANTI JOIN duplicates d USING (_file, _grp);
"""

_PROBLEMS = """
SELECT _file, _row, field, "column", value, reason, scope, raw FROM prob
UNION ALL
SELECT _file, _row, field, "column", value, reason, scope, raw FROM missing
UNION ALL
SELECT k._file, k._row, 'order_id', m.order_id_col, k.order_id,
       CASE WHEN d.identical
            THEN 'duplicate order id ' || d.order_id || ' (identical, counted once; first seen in '
                 || d.w_label || ' row ' || d.w_row || ')'
            ELSE 'duplicate order id ' || d.order_id || ' with a different ' || d.differences
                 || ' than ' || d.w_label || ' row ' || d.w_row || '; the first one was kept' END,
       CASE WHEN d.identical THEN 'duplicate' ELSE 'order' END, NULL
FROM duplicates d JOIN all_rows k USING (_file, _grp) JOIN meta m ON m._file = k._file
UNION ALL
SELECT k._file, k._row, 'order_id', m.order_id_col, k.order_id,
       'dropped with its order ' || coalesce(k.order_id, '') || ', rejected because of row '
       || r.cause_row, 'order', NULL
FROM all_rows k JOIN rejected r USING (_file, _grp) JOIN meta m ON m._file = k._file
WHERE NOT EXISTS (SELECT 1 FROM prob p WHERE p._file = k._file AND p._row = k._row
                  AND p.scope = 'order')
  AND NOT EXISTS (SELECT 1 FROM missing x WHERE x._file = k._file AND x._row = k._row)
ORDER BY _file, _row, field, reason
"""

_ORDERS = """
SELECT order_id, customer AS customer_id, ordered_at, amount_final AS amount,
  CASE WHEN status = 'refunded' AND coalesce(refunded_amount, 0) = 0 AND amount_final > 0
       THEN amount_final ELSE coalesce(refunded_amount, 0) END AS refunded_amount,
  CASE WHEN status IN ('cancelled', 'refunded', 'partially_refunded') THEN status
       WHEN coalesce(refunded_amount, 0) > 0 AND amount_final > 0
            AND refunded_amount >= amount_final THEN 'refunded'
       WHEN coalesce(refunded_amount, 0) > 0 THEN 'partially_refunded'
       ELSE 'completed' END AS status,
  currency, channel
FROM kept ORDER BY _seq
"""

# The offset each order's time was written with, in the order of _ORDERS.
_OFFSETS = """
SELECT _utc_offset FROM kept ORDER BY _seq
"""

_LINES = """
SELECT l.order_id, l.sku, l.product_name, l.category, l.quantity, l.unit_price, l.line_amount
FROM good_lines l SEMI JOIN kept k USING (_file, _grp)
WHERE l.unit_price IS NOT NULL
ORDER BY l._seq
"""

_CUSTOMERS = """
SELECT customer AS customer_id,
  arg_max(email, _latest) FILTER (WHERE email IS NOT NULL) AS email,
  arg_max(phone, _latest) FILTER (WHERE phone IS NOT NULL) AS phone,
  arg_max(name, _latest) FILTER (WHERE name IS NOT NULL) AS name,
  arg_max(birthday, _latest) FILTER (WHERE birthday IS NOT NULL) AS birthday,
  coalesce(
    arg_min(acquisition_channel, _latest) FILTER (WHERE acquisition_channel IS NOT NULL),
    arg_min(channel, _latest) FILTER (WHERE channel IS NOT NULL)
  ) AS acquisition_channel,
  min(created_at) AS created_at
FROM (SELECT *, epoch_us(ordered_at)::HUGEINT * 10_000_000_000 + _seq AS _latest FROM kept)
GROUP BY customer ORDER BY min(_seq)
"""


def assemble(
    stage: pa.Table,
    problems: pa.Table,
    meta: pa.Table,
    *,
    with_lines: bool = True,
    with_customers: bool = True,
) -> Assembled:
    """Run the steps above on a fresh cursor of the shared in-memory DuckDB database."""
    connection = _cursor()
    try:
        connection.register("stage", stage)
        connection.register("problems", problems)
        connection.register("meta", meta)
        connection.execute(_STEPS)
        duplicate_orders = connection.sql(
            "SELECT count(*) FROM duplicates WHERE identical"
        ).fetchall()[0][0]
        return Assembled(
            orders=_fetch(connection, _ORDERS, schema.arrow_schema("orders")),
            order_lines=(
                _fetch(connection, _LINES, schema.arrow_schema("order_lines"))
                if with_lines
                else None
            ),
            customers=(
                _fetch(connection, _CUSTOMERS, schema.arrow_schema("customers"))
                if with_customers
                else None
            ),
            problems=_fetch(connection, _PROBLEMS, rejects.PROBLEM_SCHEMA),
            duplicate_orders=int(duplicate_orders),
            utc_offsets=_offsets(connection, stage),
        )
    finally:
        connection.close()  # drops this cursor's temporary tables


_database: Any = None


def _cursor() -> Any:
    """A new connection to one process-wide in-memory database.

    Opening a database costs ~60 ms, a cursor almost nothing; temporary tables belong to
    their cursor, so concurrent imports (threads) do not see each other's tables.
    """
    global _database  # noqa: PLW0603 - one lazily opened database per process
    if _database is None:
        _database = duckdb.connect(":memory:")
    cursor = _database.cursor()
    cursor.execute("SET enable_progress_bar = false")
    return cursor


def _offsets(connection: Any, stage: pa.Table) -> pa.Array | None:
    """The offsets of the kept orders' times, when any time was written with one."""
    if stage.column("_utc_offset").null_count == stage.num_rows:
        return None
    offsets = connection.sql(_OFFSETS).to_arrow_table().column("_utc_offset")
    return pc.cast(offsets.combine_chunks(), stage.schema.field("_utc_offset").type)


def _fetch(connection: Any, query: str, target: pa.Schema) -> pa.Table:
    """Run ``query`` and return it with exactly the ``target`` types."""
    table = connection.sql(query).to_arrow_table()
    arrays = [pc.cast(table.column(f.name), f.type) for f in target]
    return pa.Table.from_arrays(arrays, schema=target)
