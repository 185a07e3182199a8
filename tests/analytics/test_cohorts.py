"""Acquisition cohorts by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from regulars.analytics import AnalysisArgumentError, cohort_matrix

ROWS = [
    ("a", "2024-01-05", "10"),  # January cohort, buys in periods 0 and 2
    ("a", "2024-03-10", "20"),
    ("b", "2024-01-20", "30"),  # January cohort, periods 0 and 1
    ("b", "2024-02-02", "5"),
    ("c", "2024-01-31", "40"),  # January cohort, period 0 only
    ("d", "2024-02-15", "50"),  # February cohort, periods 0 and 2
    ("d", "2024-04-01", "25"),
    ("e", "2024-01-10", "70", "0", "cancelled"),  # not a purchase: no cohort
]


def _cells(table):  # type: ignore[no-untyped-def]
    return {
        (r["cohort_start"].month, r["period_number"]): r for r in table.to_pyarrow().to_pylist()
    }


def test_exact_cohorts_by_hand(make_orders):  # type: ignore[no-untyped-def]
    cells = _cells(cohort_matrix(make_orders(ROWS), as_of=date(2024, 4, 15)))
    # January cohort {a, b, c}: periods Jan..Apr; February cohort {d}: Feb..Apr.
    assert sorted(cells) == [(1, 0), (1, 1), (1, 2), (1, 3), (2, 0), (2, 1), (2, 2)]
    jan = [cells[(1, n)] for n in range(4)]
    assert [c["cohort_size"] for c in jan] == [3, 3, 3, 3]
    assert [c["customers"] for c in jan] == [3, 1, 1, 0]  # all; b in Feb; a in Mar
    assert [c["customer_share"] for c in jan] == [
        100.0,
        pytest.approx(100 / 3),
        pytest.approx(100 / 3),
        0.0,
    ]
    # revenue: period 0 = 10 + 30 + 40 = 80; then 5 (b), 20 (a), 0
    assert [c["revenue"] for c in jan] == [Decimal(80), Decimal(5), Decimal(20), Decimal(0)]
    assert [c["revenue_share"] for c in jan] == [100.0, 6.25, 25.0, 0.0]  # 5/80, 20/80
    feb = [cells[(2, n)] for n in range(3)]
    assert [c["customers"] for c in feb] == [1, 0, 1]
    assert [c["revenue_share"] for c in feb] == [100.0, 0.0, 50.0]  # 25 / 50


def test_cumulative_cohorts_by_hand(make_orders):  # type: ignore[no-untyped-def]
    cells = _cells(cohort_matrix(make_orders(ROWS), mode="cumulative", as_of=date(2024, 4, 15)))
    # Customers whose last purchase is in period N or later: a (last 2), b (1), c (0).
    assert [cells[(1, n)]["customers"] for n in range(4)] == [3, 2, 1, 0]
    assert [cells[(2, n)]["customers"] for n in range(3)] == [1, 1, 1]
    assert cells[(1, 1)]["customer_share"] == pytest.approx(200 / 3)
    # revenue stays per period in both modes
    assert cells[(1, 1)]["revenue"] == Decimal(5)


def test_as_of_cuts_history(make_orders):  # type: ignore[no-untyped-def]
    cells = _cells(cohort_matrix(make_orders(ROWS), mode="cumulative", as_of=date(2024, 3, 1)))
    # Only purchases before March: last observable period is February.
    assert sorted(cells) == [(1, 0), (1, 1), (2, 0)]
    assert cells[(1, 1)]["customers"] == 1  # b; a's March purchase is not seen yet


def test_default_as_of_uses_all_purchases(make_orders):  # type: ignore[no-untyped-def]
    cells = _cells(cohort_matrix(make_orders(ROWS)))
    assert max(n for (_, n) in cells) == 3  # January cohort to April (last purchase)


@pytest.mark.parametrize(
    ("unit", "second_day"), [("week", "2024-01-08"), ("quarter", "2024-04-01")]
)
def test_period_numbers_follow_calendar_boundaries(make_orders, unit, second_day):  # type: ignore[no-untyped-def]
    # 2024-01-07 is a Sunday; 2024-01-08 the next Monday (new ISO week);
    # 2024-03-31 ends Q1 and 2024-04-01 starts Q2.
    first_day = "2024-01-07" if unit == "week" else "2024-03-31"
    rows = [("x", first_day, "10"), ("x", second_day, "10")]
    table = cohort_matrix(make_orders(rows), cohort=unit)
    result = table.to_pyarrow().to_pylist()
    assert [(r["period_number"], r["customers"]) for r in result] == [(0, 1), (1, 1)]
    assert result[0]["cohort_start"] == date(2024, 1, 1)  # Monday of week 1 / start of Q1


def test_bad_arguments(make_orders):  # type: ignore[no-untyped-def]
    with pytest.raises(AnalysisArgumentError):
        cohort_matrix(make_orders(ROWS), cohort="year")  # type: ignore[arg-type]
    with pytest.raises(AnalysisArgumentError):
        cohort_matrix(make_orders(ROWS), mode="rolling")  # type: ignore[arg-type]
