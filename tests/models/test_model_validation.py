"""Holdout validation on CDNOW: calibration 1997-01-01…09-30, holdout the next 39 weeks."""

from __future__ import annotations

import json
from functools import cache

import btyd_data as cdnow
import numpy as np
import pyarrow as pa
import pytest

from regulars.engine import connect, table_from_arrow
from regulars.models import BetaGeoModel, HoldoutReport, btyd_summary, holdout_report
from regulars.models.validation import daily_activity


@cache
def _inputs() -> tuple[pa.Table, pa.Table]:
    orders = table_from_arrow(connect(), cdnow.orders())
    summary = btyd_summary(
        orders, calibration_end=cdnow.CALIBRATION_END, observation_end=cdnow.OBSERVATION_END
    ).to_pyarrow()
    activity = daily_activity(
        orders, calibration_end=cdnow.CALIBRATION_END, observation_end=cdnow.OBSERVATION_END
    ).to_pyarrow()
    return summary, activity


@cache
def _report() -> HoldoutReport:
    summary, activity = _inputs()
    model = BetaGeoModel().fit(
        summary.column("frequency").to_numpy(),
        summary.column("recency").to_numpy(),
        summary.column("T").to_numpy(),
    )
    return holdout_report(
        model,
        summary,
        calibration_end=cdnow.CALIBRATION_END,
        observation_end=cdnow.OBSERVATION_END,
        activity=activity,
    )


def test_totals_and_errors() -> None:
    report = _report()
    summary, _ = _inputs()
    assert report.n_customers == summary.num_rows == 2357
    assert report.duration == 39.0
    assert report.total_actual == 1882
    # BG/NBD fitted on the calibration weeks predicts 1,653 of the 1,882 holdout purchase
    # days (−12 %): it under-forecasts the 1–2-purchase customers (see by_frequency)
    assert report.total_predicted == pytest.approx(1653.4, abs=0.5)
    assert report.mae == pytest.approx(0.785, abs=1e-3)
    assert report.rmse == pytest.approx(1.608, abs=1e-3)


def test_conditional_expectations_by_frequency() -> None:
    buckets = _report().by_frequency
    assert [b.frequency for b in buckets] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(b.n_customers for b in buckets) == 2357
    predicted = [b.predicted_mean for b in buckets]
    actual = [b.actual_mean for b in buckets]
    assert all(np.diff(predicted) > 0)
    # the literature's conditional-expectation plot: close for the well-populated buckets
    for bucket in buckets[:4]:
        assert bucket.predicted_mean == pytest.approx(bucket.actual_mean, abs=0.35)
    assert actual[0] < actual[-1]


def test_tracking_curve() -> None:
    tracking = _report().tracking
    assert tracking is not None
    summary, _ = _inputs()
    assert len(tracking.actual) == 78
    assert tracking.calibration_periods == 39
    assert tracking.period_start[0].isoformat() == "1997-01-01"
    assert tracking.period_start[39].isoformat() == "1997-10-01"
    # the actual curve counts exactly the summary's repeat purchase days
    assert tracking.actual_cumulative[38] == sum(summary.column("frequency").to_pylist())
    assert tracking.actual_cumulative[-1] - tracking.actual_cumulative[38] == 1882
    np.testing.assert_allclose(np.cumsum(tracking.predicted), tracking.predicted_cumulative)
    # the model's cumulative curve at the end of calibration is Σ E[X(T_i)]
    model = BetaGeoModel.from_params(
        **BetaGeoModel()
        .fit(
            summary.column("frequency").to_numpy(),
            summary.column("recency").to_numpy(),
            summary.column("T").to_numpy(),
        )
        .params
    )
    at_calibration_end = model.expected_purchases_new_customer(summary.column("T").to_numpy()).sum()
    assert tracking.predicted_cumulative[38] == pytest.approx(at_calibration_end, rel=1e-12)
    assert tracking.predicted_cumulative[-1] == pytest.approx(
        tracking.actual_cumulative[-1], rel=0.05
    )


def test_report_serialises() -> None:
    payload = json.loads(json.dumps(_report().to_dict()))
    assert payload["tracking"]["period_start"][0] == "1997-01-01"
    assert payload["by_frequency"][-1]["frequency"] == "7+"
    assert payload["calibration_end"] == "1997-10-01"


def test_monthly_periods() -> None:
    summary, activity = _inputs()
    model = BetaGeoModel.from_params(r=0.243, alpha=4.414 * 7 / (365.25 / 12), a=0.793, b=2.426)
    report = holdout_report(
        model,
        summary,
        calibration_end=cdnow.CALIBRATION_END,
        observation_end=cdnow.OBSERVATION_END,
        unit="month",
        activity=activity,
    )
    assert report.tracking is not None
    assert len(report.tracking.actual) == 18  # 546 days / 30.4375
    assert sum(report.tracking.actual) == sum(summary.column("frequency").to_pylist()) + 1882
