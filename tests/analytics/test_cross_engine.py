"""The same analyses on DuckDB, PostgreSQL and Spark return identical numbers: counts and
money exactly, rates to 1e-9 (an engine may add floats in another order)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import ibis
import pyarrow as pa
import pytest

from regulars.analytics import (
    cohort_matrix,
    customer_kinds,
    customer_table,
    kpi_series,
    lifecycle,
    lifetime_value,
    loyalty_stages,
    period_kpis,
    rfm_scores,
)
from regulars.engine import connect, table_from_arrow
from regulars.models.summary import btyd_summary

AS_OF = date(2025, 1, 1)


def _history() -> list[tuple[object, ...]]:
    """400 orders of 60 customers over three years, with refunds and cancellations."""
    rng = random.Random(20240101)
    rows: list[tuple[object, ...]] = []
    for _ in range(400):
        amount = rng.choice([-20, 5, 9, 12, 19.99, 25, 49.5, 120])
        status = rng.choice(["completed"] * 8 + ["cancelled", "partially_refunded"])
        refunded = 2 if status == "partially_refunded" and amount > 2 else 0
        day = date(2022, 1, 1) + timedelta(days=rng.randint(0, 3 * 365))
        rows.append((f"c{rng.randint(1, 60)}", day, amount, refunded, status))
    return rows


@pytest.fixture(scope="module")
def reference(
    arrow_orders: Callable[[list[tuple[object, ...]]], pa.Table],
) -> dict[str, Any]:
    """Every analysis on DuckDB, the default engine."""
    con = connect()
    orders = table_from_arrow(con, arrow_orders(_history()))
    results = {name: run(orders) for name, run in ANALYSES.items()}
    con.disconnect()
    return results


def _rows(table: ibis.Table, *keys: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pyarrow().to_pylist()
    # sort here: the engines' string collations may differ
    return sorted(rows, key=lambda r: tuple(r[k] for k in keys))


ANALYSES: dict[str, Callable[[ibis.Table], Any]] = {
    "period_kpis": lambda t: period_kpis(t, date(2024, 1, 1), date(2024, 7, 1)).to_dict(),
    "lifetime": lambda t: lifetime_value(t, as_of=AS_OF, activity_window_days=180).to_dict(),
    "kpi_series": lambda t: _rows(
        kpi_series(t, period="month", start=date(2022, 6, 1), end=AS_OF), "period_start"
    ),
    "cohorts": lambda t: _rows(
        cohort_matrix(t, mode="cumulative", as_of=AS_OF), "cohort_start", "period_number"
    ),
    "lifecycle": lambda t: _rows(
        lifecycle(t, period="week", start=date(2023, 1, 1), end=AS_OF), "period_start"
    ),
    "customers": lambda t: _rows(customer_table(t, as_of=AS_OF), "customer_id"),
    "stages": lambda t: _rows(loyalty_stages(t, as_of=AS_OF, visitors=5000), "customers"),
    "rfm": lambda t: _rows(rfm_scores(t, as_of=AS_OF), "customer_id"),
    "kinds": lambda t: _rows(customer_kinds(t, as_of=AS_OF), "customer_id"),
    "btyd_summary": lambda t: _rows(
        btyd_summary(t, calibration_end=date(2024, 6, 1), observation_end=AS_OF), "customer_id"
    ),
}


def test_identical_results_on_every_engine(load, reference, arrow_orders, assert_same):  # type: ignore[no-untyped-def]
    orders = load(arrow_orders(_history()))
    for name, run in ANALYSES.items():
        assert_same(run(orders), reference[name])
