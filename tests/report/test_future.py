"""The Future section's table helpers, on hand-made per-customer rows."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from regulars.models.selection import ModelChoice, assess_reliability
from regulars.report.future import Future, p_alive_grid, with_scores

CUSTOMERS = pa.table(
    {
        "customer_id": ["a", "b", "c", "d"],
        "segment": ["Champions", "At risk", "Lost", "New"],
        "orders": [12, 3, 1, 1],
        "revenue": pa.array(
            [Decimal("900.00"), Decimal("120.00"), Decimal("10.00"), Decimal("25.00")],
            pa.decimal128(18, 2),
        ),
        "recency_days": [5, 200, 400, 3],
    }
)
SCORES = pa.table(
    {
        "customer_id": ["a", "b", "c"],  # d could not be scored
        "p_alive": [0.95, 0.40, 0.10],
        "expected_purchases_90d": [2.5, 0.2, 0.01],
        "expected_purchases_365d": [9.0, 0.6, 0.02],
        "expected_spend": [80.0, 40.0, 10.0],
        "clv_12m": [700.0, 30.0, 0.2],
        "churn_risk": [10.0, 80.0, 95.0],
    }
)


def _future(scores: pa.Table | None, problems: list[str] | None = None) -> Future:
    choice = ModelChoice("mbgnbd", "no_holdout", {}, {})
    return Future(scores, choice, assess_reliability(1000, 400, None), None, problems or [])


def test_scores_join_customers_and_leave_gaps_null() -> None:
    joined = with_scores(CUSTOMERS, _future(SCORES))
    assert joined.column("customer_id").to_pylist() == ["a", "b", "c", "d"]
    assert joined.column("clv_12m").to_pylist() == [700.0, 30.0, 0.2, None]
    assert joined.column("churn_risk").to_pylist() == [10.0, 80.0, 95.0, None]


def test_without_models_the_columns_exist_and_are_null() -> None:
    joined = with_scores(CUSTOMERS, _future(None, ["value model: no repeat buyers"]))
    assert joined.column("p_alive").null_count == 4
    assert joined.column("value_at_risk").null_count == 4


def test_value_at_risk_is_churn_probability_times_clv() -> None:
    joined = with_scores(CUSTOMERS, _future(SCORES))
    # a: 10 % × 700 = 70; b: 80 % × 30 = 24; c: 95 % × 0.2 = 0.19; d: not scored.
    assert joined.column("value_at_risk").to_pylist() == pytest.approx([70.0, 24.0, 0.19, None])


def test_totals_add_expected_purchases_times_spend() -> None:
    totals = _future(SCORES).totals()
    assert totals["expected_purchases_90d"] == pytest.approx(2.71)
    # 2.5 × 80 + 0.2 × 40 + 0.01 × 10 = 208.1
    assert totals["expected_revenue_90d"] == pytest.approx(208.1)
    assert totals["clv_12m_total"] == pytest.approx(730.2)
    assert totals["expected_active_customers"] == pytest.approx(1.45)


def test_p_alive_grid_averages_per_cell() -> None:
    joined = with_scores(CUSTOMERS, _future(SCORES))
    grid = {(r["orders"], r["recency_months"]): r for r in p_alive_grid(joined).to_pylist()}
    assert grid[(10, 0)]["p_alive"] == pytest.approx(0.95)  # 12 orders → the 10+ row
    assert grid[(3, 6)]["p_alive"] == pytest.approx(0.40)  # 200 days → month 6
    assert grid[(1, 13)]["customers"] == 1  # 400 days → month 13


def test_demo_report_has_scores_and_future(demo_report: Path) -> None:
    customers = pq.read_table(demo_report / "customers.parquet")
    for column in ("p_alive", "expected_purchases_90d", "clv_12m", "churn_risk"):
        assert customers.column(column).null_count < customers.num_rows, column
    risk = customers.column("churn_risk").drop_null().to_pylist()
    assert all(0 <= r <= 100 for r in risk)
    future = json.loads((demo_report / "metrics.json").read_text())["future"]
    assert future["expected_purchases_90d"] > 0
    assert future["churn_evaluation"]["roc_auc"] > 0.5
    assert future["holdout"]["total_actual"] > 0
