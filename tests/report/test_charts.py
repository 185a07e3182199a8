"""The report's charts on hand-made tables: no empty RFM columns, numbers in the cohort
cells, the average retention curve, a gauge without a red "drop", titles in the page."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from regulars.report import charts


def test_rfm_grid_drops_frequency_scores_nobody_has() -> None:
    # Many one-time buyers: ties share F = 1, so F = 2 and 3 are empty.
    grid = pa.table(
        {
            "r_score": [1, 1, 5, 5],
            "f_score": [1, 4, 1, 5],
            "customers": [30, 2, 10, 7],
            "avg_revenue": [1.0, 2.0, 3.0, 4.0],
        }
    )
    heat = charts.rfm_grid(grid).data[0]
    assert list(heat.x) == ["1", "4", "5"]
    assert list(heat.z[0]) == [30, 2, 0]  # R = 1
    assert list(heat.z[4]) == [10, 0, 7]  # R = 5


COHORTS = pa.table(
    {
        "cohort_start": [date(2024, 1, 1)] * 3 + [date(2024, 2, 1)] * 2,
        "period_number": [0, 1, 2, 0, 1],
        "cohort_size": [10, 10, 10, 30, 30],
        "customers": [10, 4, 2, 30, 3],
        "revenue": [100.0, 20.0, 10.0, 300.0, 30.0],
        "customer_share": [100.0, 40.0, 20.0, 100.0, 10.0],
        "revenue_share": [100.0, 20.0, 10.0, 100.0, 10.0],
    }
)


def test_cohort_cells_show_their_numbers() -> None:
    heat = charts.cohort_heatmap(COHORTS, "month", "customer_share", "t").data[0]
    assert heat.texttemplate == "%{z:.0f}"
    assert [list(row) for row in heat.z] == [[40.0, 20.0], [10.0, None]]


def test_average_retention_curve_weights_cohorts_by_size() -> None:
    curve = charts.average_retention(COHORTS, COHORTS, "month").data[0]
    # period 1: (4 + 3) / (10 + 30) = 17.5 %; period 2: only January is observed: 2 / 10.
    assert list(curve.x) == [1, 2]
    assert list(curve.y) == pytest.approx([17.5, 20.0])


def test_goal_gauge_shows_no_delta() -> None:
    gauge = charts.goal_gauge(95.2, 96.3).data[0]
    assert "delta" not in gauge.mode
    assert gauge.gauge.threshold.value == 96.3


def test_first_year_crr_is_drawn_apart() -> None:
    series = pa.table(
        {
            "period_start": [date(2024, 1, 1), date(2024, 7, 1), date(2025, 1, 1)],
            "period_end": [date(2024, 7, 1), date(2025, 1, 1), date(2025, 7, 1)],
            "crr": [100.0, 100.0, 90.0],
            "churn_rate": [0.0, 0.0, 10.0],
            "repeat_purchase_rate": [5.0, 6.0, 7.0],
        }
    )
    fig = charts.kpi_trend(series, "quarter", None, lapse_possible_from=date(2025, 1, 1))
    first_year, crr = fig.data[0], fig.data[1]
    assert "first year" in first_year.name
    assert list(first_year.y) == [100.0, 100.0]
    assert list(crr.y) == [None, None, 90.0]


def test_titles_are_in_the_page_not_in_the_plot() -> None:
    fig = charts.goal_gauge(50.0, 60.0)
    html = charts.figure_html("goal", fig)
    assert html.startswith('<figure class="chart"><figcaption>Customer retention rate vs goal')
    assert not fig.layout.title.text  # taken out of the plot: the toolbar cannot cover it
