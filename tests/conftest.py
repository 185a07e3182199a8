"""Shared fixtures. ``backend`` runs an analytics test on DuckDB and, when
REGULARS_TEST_POSTGRES_URL is set, on PostgreSQL too (CI sets it). ``empty_engine`` and
``store_engine`` run a store/API test on a SQLite file and, with the same variable, on
PostgreSQL in a schema of its own (created for the test and dropped after it, so tests can
run in parallel and rerun)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
from sqlalchemy import Engine, text

import regulars.wiring  # noqa: F401  (every domain's tables in the store's metadata)
from regulars.engine import connect, table_from_arrow
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine

POSTGRES_URL = os.environ.get("REGULARS_TEST_POSTGRES_URL")

_ON_POSTGRES = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="REGULARS_TEST_POSTGRES_URL not set"),
]
_BACKENDS = ["duckdb", pytest.param("postgres", marks=_ON_POSTGRES)]


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


_DATABASES = ["sqlite", pytest.param("postgresql", marks=_ON_POSTGRES)]


@pytest.fixture(params=_DATABASES)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database (no tables)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
        yield engine
        engine.dispose()
        return
    assert POSTGRES_URL
    schema = f"regulars_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    # A pool big enough for the API's concurrency tests (16 threads).
    engine = make_engine(
        POSTGRES_URL,
        connect_args={"options": f"-csearch_path={schema}"},
        pool_size=20,
        max_overflow=10,
    )
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store_engine(empty_engine: Engine) -> Engine:
    """An engine on a database migrated to head."""
    upgrade(empty_engine)
    return empty_engine
