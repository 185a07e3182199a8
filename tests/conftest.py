"""Shared fixtures. ``backend`` runs an analytics test on DuckDB, on PostgreSQL when it
answers, and on Spark in local mode (one session for the whole run: Spark takes seconds to
start), so the analytics suite is one suite across engines. A test whose answer differs on
an engine says so with ``@pytest.mark.diverges("spark", reason=…)``: it is then expected to
fail there (strictly: it fails the run once it passes). ``empty_engine`` and
``store_engine`` run a store/API test on a SQLite file and, with PostgreSQL, on PostgreSQL
in a schema of its own (created for the test and dropped after it, so tests can run in
parallel and rerun).

PostgreSQL is ``REGULARS_TEST_POSTGRES_URL`` when set (empty: none), else the local
default :data:`DEFAULT_POSTGRES_URL` when a server answers there; without one, the
PostgreSQL tests are skipped and the run ends with one line saying how many and how to
enable them."""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ibis
import psycopg
import pyarrow as pa
import pytest
from sqlalchemy import Engine, text

import regulars.wiring  # noqa: F401  (every domain's tables in the store's metadata)
from regulars.engine import connect, table_from_arrow
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_SKIP = "no PostgreSQL for the tests"


def _postgres_url() -> str | None:
    """``REGULARS_TEST_POSTGRES_URL`` when set, else the default when a server answers."""
    if "REGULARS_TEST_POSTGRES_URL" in os.environ:
        return os.environ["REGULARS_TEST_POSTGRES_URL"] or None
    try:
        psycopg.connect(DEFAULT_POSTGRES_URL, connect_timeout=2).close()
    except psycopg.OperationalError:
        return None
    # Every test module and subprocess reads the variable: one answer for the whole run.
    os.environ["REGULARS_TEST_POSTGRES_URL"] = DEFAULT_POSTGRES_URL
    return DEFAULT_POSTGRES_URL


POSTGRES_URL = _postgres_url()

_ON_POSTGRES = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason=POSTGRES_SKIP),
]


def _spark_missing() -> str | None:
    """Why Spark cannot run here, or None. With ``REGULARS_TEST_SPARK=1`` (CI) a missing
    Spark fails the run instead of skipping its tests."""
    if importlib.util.find_spec("pyspark") is None:
        return "no pyspark for the Spark tests (pip install 'regulars[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java for the Spark tests (install openjdk-17-jre-headless)"
    return None


SPARK_MISSING = _spark_missing()
if SPARK_MISSING and os.environ.get("REGULARS_TEST_SPARK") == "1":
    raise pytest.UsageError(f"REGULARS_TEST_SPARK=1 but {SPARK_MISSING}")
_ON_SPARK = [
    pytest.mark.spark,
    pytest.mark.skipif(SPARK_MISSING is not None, reason=SPARK_MISSING or ""),
]
_BACKENDS = [
    "duckdb",
    pytest.param("postgres", marks=_ON_POSTGRES),
    pytest.param("spark", marks=_ON_SPARK),
]
# Tiny test tables: one shuffle partition, no whole-stage code generation (compiling Java
# for every query costs more than running it on a few hundred rows), no adaptive re-planning.
_SPARK_TEST_CONF = {
    "spark.sql.shuffle.partitions": "1",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
}


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One Spark session in local mode for the whole run (per xdist worker)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    con = connect("spark://local[1]")
    for key, value in _SPARK_TEST_CONF.items():
        con._session.conf.set(key, value)
    yield con
    con.disconnect()


@pytest.fixture(params=_BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    """An Ibis connection to each analytics engine under test."""
    if request.param == "spark":
        yield request.getfixturevalue("spark")  # shared: closed at the end of the run
        return
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


def _assert_same(got: Any, expected: Any) -> None:
    """Equal, floats to 1e-9 relative: engines may add a column's floats in another order."""
    if isinstance(expected, dict):
        assert got.keys() == expected.keys()
        for key in expected:
            _assert_same(got[key], expected[key])
    elif isinstance(expected, list | tuple):
        assert len(got) == len(expected)
        for item, wanted in zip(got, expected, strict=True):
            _assert_same(item, wanted)
    elif isinstance(expected, float):
        # NaN (a metric with nothing to compute it on) is the same as NaN.
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12, nan_ok=True)
    else:
        assert got == expected  # counts, money (Decimal), dates, labels: exact


@pytest.fixture(scope="session")
def assert_same() -> Callable[[Any, Any], None]:
    """The cross-engine comparison: exact for counts and money, 1e-9 for rates."""
    return _assert_same


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``diverges(engine, reason=…)``: a strict expected failure on that engine only."""
    for item in items:
        engine = getattr(getattr(item, "callspec", None), "params", {}).get("backend")
        for marker in item.iter_markers("diverges"):
            if engine in marker.args:
                reason = f"diverges on {engine}: {marker.kwargs['reason']}"
                item.add_marker(pytest.mark.xfail(strict=True, reason=reason))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per reason tests were skipped for (``-ra`` would list every location); for
    the PostgreSQL tests, how to run them."""
    reasons = Counter(_skip_reason(report) for report in terminalreporter.stats.get("skipped", []))
    how_to_run_them = (
        f"no PostgreSQL answers at {DEFAULT_POSTGRES_URL}; start one there or set "
        "REGULARS_TEST_POSTGRES_URL=postgresql://USER@HOST:PORT/DB to run them"
    )
    for reason, count in sorted(reasons.items()):
        shown = how_to_run_them if reason == POSTGRES_SKIP else reason
        terminalreporter.write_line(f"{count} skipped: {shown}")


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # (path, line, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)
