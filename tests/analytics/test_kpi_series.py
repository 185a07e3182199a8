"""KPI series: consecutive calendar periods in one query."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from regulars.analytics import kpi_series, period_kpis
from regulars.analytics.periods import calendar_periods

ROWS = [
    ("a", "2023-12-15", "10"),
    ("a", "2024-01-10", "10"),
    ("a", "2024-03-05", "10"),
    ("b", "2024-01-20", "20"),
    ("c", "2024-02-10", "30"),
    ("c", "2024-02-11", "40"),
]
WINDOW = 31  # at least as long as any month, so E − N − reactivated = retained


def test_monthly_series_by_hand(make_orders):  # type: ignore[no-untyped-def]
    series = kpi_series(
        make_orders(ROWS),
        period="month",
        start=date(2024, 1, 15),  # mid-month: rows still cover whole months
        end=date(2024, 3, 20),
        activity_window_days=WINDOW,
    )
    rows = series.to_pyarrow().to_pylist()
    assert [r["period_start"] for r in rows] == [
        date(2024, 1, 1),
        date(2024, 2, 1),
        date(2024, 3, 1),
    ]
    assert rows[-1]["period_end"] == date(2024, 4, 1)
    counts = [
        (r["customers_start"], r["customers_new"], r["customers_end"], r["retained"],
         r["lost"], r["reactivated"])
        for r in rows
    ]  # fmt: skip
    assert counts == [
        # Jan: S = {a} (12-15 in [12-01, 01-01)); N = {b}; E = {a, b}; a retained.
        (1, 1, 2, 1, 0, 0),
        # Feb: S = {a, b}; N = {c}; E window [01-30, 03-01) holds only c → both lost.
        (2, 1, 1, 0, 2, 0),
        # Mar: S = {c}; E = {a} (03-05); a was lapsed at 03-01 → reactivated; c lost.
        (1, 0, 1, 0, 1, 1),
    ]
    assert [r["crr"] for r in rows] == [pytest.approx(100.0), 0.0, 0.0]
    assert [r["orders"] for r in rows] == [2, 2, 1]
    assert [r["repeat_purchase_rate"] for r in rows] == [0.0, 100.0, 0.0]  # c bought twice
    assert [r["revenue"] for r in rows] == [Decimal(30), Decimal(70), Decimal(10)]
    assert [r["aov"] for r in rows] == [15.0, 35.0, 10.0]
    # Repeat-based: Jan a bought again (1 of 1); Feb nobody of {a, b}; Mar c did not.
    assert [r["repeat_retained"] for r in rows] == [1, 0, 0]
    assert [r["repeat_customers_end"] for r in rows] == [2, 1, 1]


def test_series_rows_equal_period_kpis(make_orders):  # type: ignore[no-untyped-def]
    orders = make_orders(ROWS)
    series = kpi_series(
        orders, period="month", start=date(2024, 1, 1), end=date(2024, 4, 1),
        activity_window_days=WINDOW,
    ).to_pyarrow().to_pylist()  # fmt: skip
    for row in series:
        kpis = period_kpis(
            orders, row["period_start"], row["period_end"], activity_window_days=WINDOW
        )
        assert kpis.window.to_dict() == {
            k: row[k]
            for k in ("customers_start", "customers_new", "customers_end", "retained",
                      "lost", "reactivated", "crr", "churn_rate")
        }  # fmt: skip
        assert kpis.repeat.retained == row["repeat_retained"]
        assert (kpis.orders, kpis.revenue, kpis.aov) == (row["orders"], row["revenue"], row["aov"])


@pytest.mark.parametrize(
    ("unit", "start", "end", "expected"),
    [
        ("week", date(2024, 1, 3), date(2024, 1, 9),
         [(date(2024, 1, 1), date(2024, 1, 8)), (date(2024, 1, 8), date(2024, 1, 15))]),
        ("month", date(2024, 2, 29), date(2024, 3, 1), [(date(2024, 2, 1), date(2024, 3, 1))]),
        ("quarter", date(2024, 5, 5), date(2024, 7, 2),
         [(date(2024, 4, 1), date(2024, 7, 1)), (date(2024, 7, 1), date(2024, 10, 1))]),
        ("year", date(2023, 12, 31), date(2024, 1, 1), [(date(2023, 1, 1), date(2024, 1, 1))]),
    ],
)  # fmt: skip
def test_calendar_periods_are_whole_and_aligned(
    unit: str, start: date, end: date, expected: list[tuple[date, date]]
) -> None:
    assert calendar_periods(start, end, unit) == expected  # type: ignore[arg-type]


def test_weekly_series_starts_on_monday(make_orders):  # type: ignore[no-untyped-def]
    series = kpi_series(
        make_orders(ROWS), period="week", start=date(2024, 1, 3), end=date(2024, 1, 24)
    )
    rows = series.to_pyarrow().to_pylist()
    assert [r["period_start"] for r in rows] == [
        date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15), date(2024, 1, 22)
    ]  # fmt: skip
    # a bought on Wed 2024-01-10 (week 2), b on Sat 2024-01-20 (week 3).
    assert [r["orders"] for r in rows] == [0, 1, 1, 0]
