"""Retention goals."""

from __future__ import annotations

from datetime import date

import pytest

from regulars.analytics import (
    AnalysisArgumentError,
    kpi_series,
    period_kpis,
    retention_goal,
    suggest_target,
)

Q1_START, Q1_END = date(2024, 1, 1), date(2024, 4, 1)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (86.7, 89.4),  # churn 13.3 → cut by a fifth: +2.66 → 89.36 → 89.4
        (50.0, 60.0),  # +10 (a fifth of 50)
        (20.0, 30.0),  # a fifth of 80 is 16 → capped at +10
        (99.5, 100.0),  # at least +1, but never above 100
        (97.0, 98.0),  # a fifth of 3 is 0.6 → at least +1
        (100.0, 100.0),
    ],
)
def test_suggest_target_rule(current: float, target: float) -> None:
    assert suggest_target(current) == target


def test_suggest_target_from_several_periods_uses_the_median() -> None:
    assert suggest_target([80.0, None, 90.0, 85.0]) == 88.0  # median 85 → +3


def test_goal_for_the_product_example(make_orders, product_example_rows):  # type: ignore[no-untyped-def]
    kpis = period_kpis(make_orders(product_example_rows()), Q1_START, Q1_END)
    target = suggest_target(kpis)
    assert target == 89.3  # 86.667 + 13.333 / 5 = 89.333 → 89.3
    goal = retention_goal(kpis, target)
    # keep ceil(89.3 % × 600) = ceil(535.8) = 536 customers instead of 520 → 16 more
    assert goal.target_retained == 536
    assert goal.extra_customers_to_keep == 16
    assert goal.gap_points == pytest.approx(89.3 - 520 / 6)
    assert goal.target_churn_rate == pytest.approx(10.7)
    assert retention_goal(kpis, 80.0).extra_customers_to_keep == 0  # already above


def test_goal_from_a_series_table(make_orders, product_example_rows):  # type: ignore[no-untyped-def]
    series = kpi_series(
        make_orders(product_example_rows()),
        period="quarter",
        start=date(2024, 1, 1),
        end=date(2024, 4, 1),
    )
    assert suggest_target(series) == 89.3  # one quarter: the same CRR as above


def test_goal_errors(make_orders, product_example_rows):  # type: ignore[no-untyped-def]
    kpis = period_kpis(make_orders(product_example_rows()), Q1_START, Q1_END)
    with pytest.raises(AnalysisArgumentError):
        retention_goal(kpis, 120.0)
    empty = period_kpis(make_orders(product_example_rows()), date(2010, 1, 1), date(2010, 2, 1))
    with pytest.raises(AnalysisArgumentError):
        retention_goal(empty, 90.0)
    with pytest.raises(AnalysisArgumentError):
        suggest_target(empty)
