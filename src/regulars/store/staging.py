"""PostgreSQL staging tables filled from Arrow with ``COPY`` (the fast path of the import).

``stage(conn, name, data)`` creates a ``TEMPORARY`` table (dropped at commit) with the
columns of the Arrow table ``data``, streams the rows into it with ``COPY … FROM STDIN``
in CSV format (Arrow's C++ CSV writer renders them; no Python object per value). The
caller then writes the store with set-based ``INSERT … SELECT`` / ``UPDATE … FROM``
statements, after :func:`analyze` where it joins a staging table against the store.

Values keep their exact meaning on the way: decimals are checked to fit ``NUMERIC(18, 2)``
without rounding, timestamps must be timezone-aware and travel as UTC instants (``…Z``),
``NULL`` is an unquoted empty field while strings are always quoted (so ``""`` stays an
empty string).
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    DateTime,
    MetaData,
    Numeric,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from regulars.errors import RegularsError

MONEY_TYPE = pa.decimal128(18, 2)
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
_CSV = pacsv.WriteOptions(include_header=False, quoting_style="needed")


def stage(conn: Connection, name: str, data: pa.Table) -> Table:
    """A temporary table ``name`` holding the rows of ``data``; dropped at commit."""
    data = exact_values(data)
    table = Table(
        name,
        MetaData(),
        *(Column(field.name, _column_type(field)) for field in data.schema),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )
    table.create(conn)
    if data.num_rows:
        _copy(conn, table, data)
    return table


def analyze(conn: Connection, table: Table) -> None:
    """Refresh the planner's row counts and value statistics of ``table``: autovacuum never
    analyzes temporary tables, and a store table's statistics lag behind a bulk import."""
    # The identifier is quoted by psycopg; no value ever goes into the statement.
    conn.exec_driver_sql(sql.SQL("ANALYZE {}").format(sql.Identifier(table.name)).as_string(None))


def _copy(conn: Connection, table: Table, data: pa.Table) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table.name),
        sql.SQL(", ").join(sql.Identifier(name) for name in data.column_names),
    )
    buffer = io.BytesIO()
    pacsv.write_csv(data, buffer, _CSV)
    raw: Any = conn.connection.driver_connection  # the psycopg connection, same transaction
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(buffer.getbuffer())


def exact_values(data: pa.Table) -> pa.Table:
    """Money as ``decimal128(18, 2)`` and timestamps as UTC instants, or a
    :class:`RegularsError` naming the column: a decimal that would have to be rounded or
    does not fit, a naive timestamp."""
    return pa.Table.from_arrays(
        [_exact_column(f, c) for f, c in zip(data.schema, data.columns, strict=True)],
        names=data.column_names,
    )


def _exact_column(field: pa.Field, column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_decimal(field.type):
        return _cast(column, MONEY_TYPE, field.name)
    if pa.types.is_timestamp(field.type):
        if field.type.tz is None:
            raise RegularsError(
                f"column '{field.name}' has naive timestamps; the store keeps "
                "timezone-aware (UTC) times"
            )
        return _cast(column, TIMESTAMP_TYPE, field.name)
    return column


def _cast(column: pa.ChunkedArray, target: pa.DataType, name: str) -> pa.ChunkedArray:
    try:
        return pc.cast(column, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise RegularsError(f"column '{name}' does not fit {target} exactly: {exc}") from None


def _column_type(field: pa.Field) -> TypeEngine[Any]:
    kind = field.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return Text()
    if pa.types.is_decimal(kind):
        return Numeric(18, 2)
    if pa.types.is_timestamp(kind):
        return DateTime(timezone=True)
    if pa.types.is_integer(kind):
        return BigInteger()
    if pa.types.is_date(kind):
        return Date()
    raise RegularsError(f"column '{field.name}' of type {kind} cannot be staged")
