"""``--engine``, ``--engine-url``, ``--from-store`` and ``--table`` on report, metrics and fit:
the same numbers from every source and engine, and one-line errors for every mistake."""

from __future__ import annotations

import json
import os
import random
import sys
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from regulars.cli import app
from regulars.engine import SPARK_EXTRA, connect
from regulars.errors import RegularsError
from regulars.store.session import make_engine

runner = CliRunner()
POSTGRES_URL = os.environ.get("REGULARS_TEST_POSTGRES_URL")

ORDERS_CSV = """order_id,customer_id,ordered_at,amount
1,alice,2025-01-10,10.00
2,bob,2025-02-10,20.00
3,alice,2025-06-05,30.00
4,carol,2025-06-20,40.00
5,bob,2025-06-21,50.25
6,alice,2025-06-28,5.10
"""
PERIOD = ["--start", "2025-06-01", "--end", "2025-07-01", "--json"]


@pytest.fixture
def orders_csv(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS_CSV)
    return path


@pytest.fixture
def history_csv(tmp_path: Path) -> Path:
    """Two years of orders of 80 customers: enough repeat buyers for a BG/NBD fit."""
    rng = random.Random(12)
    lines = ["order_id,customer_id,ordered_at,amount"]
    for customer in range(80):
        first = date(2024, 1, 1) + timedelta(days=rng.randint(0, 300))
        for n in range(rng.randint(1, 6)):
            day = first + timedelta(days=n * rng.randint(20, 90))
            lines.append(f"{len(lines)},c{customer},{day},{rng.randint(5, 120)}.{n}0")
    path = tmp_path / "history.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _metrics(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["metrics", *args, *PERIOD])
    assert result.exit_code == 0, result.output
    values: dict[str, Any] = json.loads(result.output)
    return values


def _error(*args: str) -> str:
    """The message of a command that must fail with a user error (which the console
    script prints as one line, exit status 2)."""
    result = runner.invoke(app, list(args))
    assert isinstance(result.exception, RegularsError), result.output
    message = str(result.exception)
    assert "\n" not in message
    return message


def test_from_store_gives_the_files_numbers(orders_csv: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert runner.invoke(app, ["db", "upgrade", "--url", url]).exit_code == 0
    imported = runner.invoke(app, ["import", str(orders_csv), "--url", url, "--quiet"])
    assert imported.exit_code == 0, imported.output
    from_file = _metrics(str(orders_csv))
    from_store = _metrics("--from-store", "--store-url", url)
    assert from_store == from_file
    assert from_store["revenue"] == "125.35"

    out = tmp_path / "report"
    args = ["report", "--from-store", "--store-url", url, "--out", str(out), "--no-models"]
    result = runner.invoke(app, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["totals"]["customers"] == 3
    assert not (out / "rejects.csv").exists()  # nothing was imported, nothing rejected


@pytest.mark.filterwarnings("ignore::regulars.models.estimation.ModelConvergenceWarning")
def test_table_on_a_duckdb_file(
    history_csv: Path, tmp_path: Path, assert_same: Callable[[Any, Any], None]
) -> None:
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA sales")
        con.execute(
            "CREATE TABLE sales.orders AS SELECT order_id::VARCHAR AS order_id, customer_id, "
            "ordered_at::TIMESTAMP AS ordered_at, amount::DOUBLE AS amount "
            "FROM read_csv(?, all_varchar = true)",
            [str(history_csv)],
        )
    engine = ["--engine", "duckdb", "--engine-url", f"duckdb:///{database}"]
    assert _metrics(*engine, "--table", "sales.orders") == _metrics(str(history_csv))

    fit_args = ["fit", "--calibration-end", "2025-03-01", "--json"]
    from_table = runner.invoke(app, [*fit_args, *engine, "--table", "sales.orders"])
    assert from_table.exit_code == 0, from_table.output
    from_file = runner.invoke(app, [*fit_args, str(history_csv)])
    # Equal parameters; holdout sums may add customers in another order (1e-16 apart).
    assert_same(json.loads(from_table.output), json.loads(from_file.output))

    missing = _error("metrics", *engine, "--table", "sales.nothing", *PERIOD)
    assert "--table sales.nothing: no such table on the engine" in missing


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="no PostgreSQL for the tests")
def test_table_on_postgresql(orders_csv: Path) -> None:
    assert POSTGRES_URL
    schema = f"regulars_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        conn.execute(
            text(
                f'CREATE TABLE "{schema}".orders (order_id text, customer_id text, '
                "ordered_at timestamp, amount numeric(12, 2))"
            )
        )
        for line in ORDERS_CSV.splitlines()[1:]:
            order_id, customer, day, amount = line.split(",")
            conn.execute(
                text(f'INSERT INTO "{schema}".orders VALUES (:o, :c, CAST(:d AS date), :a)'),
                {"o": order_id, "c": customer, "d": day, "a": amount},
            )
    try:
        engine = ["--engine", "postgres", "--engine-url", POSTGRES_URL]
        assert _metrics(*engine, "--table", f"{schema}.orders") == _metrics(str(orders_csv))
        missing = _error("metrics", *engine, "--table", f"{schema}.orders_x", *PERIOD)
        assert "no such table on the engine" in missing
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_table_without_the_canonical_columns_names_them(tmp_path: Path) -> None:
    database = tmp_path / "w.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE TABLE orders AS SELECT 'a' AS customer_id, 'x' AS amount")
    engine = ["--engine-url", f"duckdb:///{database}", "--table", "orders"]
    message = _error("metrics", *engine, *PERIOD)
    assert "--table orders: missing column(s) order_id, ordered_at" in message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--engine", "oracle"], "--engine: 'oracle' is not one of duckdb, postgres, spark"),
        (["--engine", "postgres"], "--engine postgres needs --engine-url"),
        (["--engine", "spark", "--engine-url", "postgresql://x@h/db"], "starts with spark://"),
        (
            ["--engine", "postgres", "--engine-url", "postgresql://u:secret@127.0.0.1:1/db"],
            "cannot reach the engine at postgres://u:***@127.0.0.1:1/db",
        ),
        (
            ["--engine", "spark", "--engine-url", "spark://127.0.0.1:1"],
            "cannot reach Spark at spark://127.0.0.1:1",
        ),
        (["--engine", "spark", "--engine-url", "sc://127.0.0.1:1"], "cannot reach Spark at sc://"),
    ],
)
def test_engine_mistakes_are_one_line(orders_csv: Path, args: list[str], expected: str) -> None:
    message = _error("metrics", str(orders_csv), *args, *PERIOD)
    assert expected in message
    assert "secret" not in message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "give order files, or --from-store, or --table (exactly one)"),
        (["ORDERS", "--table", "t"], "exactly one"),
        (["--from-store", "--map", "amount=Total"], "--map and --mapping apply to order files"),
        (["ORDERS", "--store-url", "sqlite:///x.db"], "--store-url goes with --from-store"),
    ],
)
@pytest.mark.parametrize("command", ["report", "metrics", "fit"])
def test_one_source_exactly(orders_csv: Path, command: str, args: list[str], expected: str) -> None:
    given = [str(orders_csv) if a == "ORDERS" else a for a in args]
    required = {"report": [], "metrics": PERIOD, "fit": ["--calibration-end", "2025-06-01"]}
    assert expected in _error(command, *given, *required[command])


def test_spark_without_its_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark → ImportError
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(RegularsError, match=r"pip install 'regulars\[spark\]'"):
        connect("spark")
    assert "regulars[spark]" in SPARK_EXTRA


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore::regulars.models.estimation.ModelConvergenceWarning")
def test_metrics_and_fit_on_spark_match_duckdb(
    history_csv: Path, spark: Any, assert_same: Callable[[Any, Any], None]
) -> None:
    # The CLI's session is the test run's (getOrCreate): no second Spark start.
    on_spark = _metrics(str(history_csv), "--engine", "spark")
    assert on_spark == _metrics(str(history_csv))
    fit_args = ["fit", str(history_csv), "--calibration-end", "2025-03-01", "--json"]
    duck = runner.invoke(app, fit_args)
    spark_fit = runner.invoke(app, [*fit_args, "--engine", "spark"])
    assert spark_fit.exit_code == 0, spark_fit.output
    # Parameters equal; sums over customers may add in another order (1e-16 apart).
    assert_same(json.loads(spark_fit.output), json.loads(duck.output))
