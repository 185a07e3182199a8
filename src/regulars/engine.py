"""Where analytics run: one Ibis connection, DuckDB in-process by default.

Analyses are written once as Ibis expressions; this module only decides which engine
executes them and how an Arrow table becomes an Ibis table there.
"""

from __future__ import annotations

import itertools
from typing import Any

import ibis
import pyarrow as pa

_names = itertools.count()


def connect(url: str | None = None) -> Any:
    """An Ibis backend: in-memory DuckDB when ``url`` is None, else ``ibis.connect(url)``
    (``postgres://…``, ``duckdb://file.db``, …)."""
    if url is None:
        return ibis.duckdb.connect()
    return ibis.connect(url)


def table_from_arrow(con: Any, table: pa.Table, name: str | None = None) -> ibis.Table:
    """Register an Arrow table on ``con`` as a temporary table and return it.

    Names are unique per process, so no ``overwrite`` (which Ibis 12 cannot combine
    with ``temp`` on DuckDB or PostgreSQL).
    """
    tmp_name = name or f"regulars_tmp_{next(_names)}"
    # Wrapping in a memtable sidesteps an Ibis 12 / sqlglot 30 bug: create_table on a raw
    # Arrow table emits "DROP VIEW IF EXISTS" without a name.
    return con.create_table(tmp_name, ibis.memtable(table), temp=True)
