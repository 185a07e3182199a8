"""Shared fixtures. ``backend`` runs a test on DuckDB and, when
REGULARS_TEST_POSTGRES_URL is set, on PostgreSQL too (CI sets it)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import ibis
import pyarrow as pa
import pytest

from regulars.engine import connect, table_from_arrow

POSTGRES_URL = os.environ.get("REGULARS_TEST_POSTGRES_URL")

_BACKENDS = [
    "duckdb",
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="REGULARS_TEST_POSTGRES_URL not set"),
        ],
    ),
]


@pytest.fixture(params=_BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    """An Ibis connection to each analytics engine under test."""
    if request.param == "duckdb":
        con = connect()
    else:
        url = POSTGRES_URL or ""
        con = connect(url.replace("postgresql://", "postgres://", 1))
    yield con
    con.disconnect()


@pytest.fixture
def load(backend: Any) -> Callable[[pa.Table], ibis.Table]:
    """Turn an Arrow table into an Ibis table on the backend under test."""

    def _load(table: pa.Table) -> ibis.Table:
        return table_from_arrow(backend, table)

    return _load
