"""Holdout validation of a transaction model, as in Fader, Hardie & Lee (2005, §4):

* **tracking curve** — cumulative repeat purchases of the calibration cohort per period,
  actual vs predicted, over calibration and holdout. The prediction for a customer
  acquired on day ``f`` at the end of a period whose last day is ``e`` is
  ``E[X((e − f)/unit)]`` (the new-customer expectation), summed over the cohort; the
  daily counts it needs are aggregated in the engine (:func:`daily_activity`);
* **conditional expectations** — mean holdout purchases by number of calibration repeat
  purchases (0, 1, …, ``max_frequency``+), actual vs ``E[Y(t) | x, t_x, T]``;
* **errors** per customer (MAE, RMSE) and the total predicted vs actual;
* **who comes back** — customers with at least one holdout purchase, actual vs
  ``Σ P(Y(t) > 0 | x, t_x, T)``, and the mean log loss of that probability against what
  happened (a proper score: it is lowest for the model whose probabilities are right, and
  P(alive) is what drives them — see
  :meth:`~regulars.models.base.TransactionModel.probability_no_purchases`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pyarrow as pa

from regulars.models.base import TransactionModel, days_per_unit
from regulars.models.inputs import FloatArray, unique_rows
from regulars.models.summary import purchase_days

__all__ = [
    "FrequencyBucket",
    "HoldoutReport",
    "TrackingCurve",
    "daily_activity",
    "holdout_report",
    "tracking_curve",
]


@dataclass(frozen=True)
class TrackingCurve:
    """Repeat purchases per period (index 0 starts on the cohort's first purchase day)."""

    period_start: list[date]
    actual: list[float]
    predicted: list[float]
    actual_cumulative: list[float]
    predicted_cumulative: list[float]
    calibration_periods: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "period_start": [d.isoformat() for d in self.period_start],
            "actual": self.actual,
            "predicted": self.predicted,
            "actual_cumulative": self.actual_cumulative,
            "predicted_cumulative": self.predicted_cumulative,
            "calibration_periods": self.calibration_periods,
        }


@dataclass(frozen=True)
class FrequencyBucket:
    """Customers with ``frequency`` calibration repeat purchases (the last bucket is "N+")."""

    frequency: str
    n_customers: int
    actual_mean: float
    predicted_mean: float


@dataclass(frozen=True)
class HoldoutReport:
    """Predicted vs actual purchases in ``[calibration_end, observation_end)``."""

    model: str
    unit: str
    calibration_end: date
    observation_end: date
    duration: float
    n_customers: int
    total_actual: float
    total_predicted: float
    mae: float
    rmse: float
    by_frequency: list[FrequencyBucket]
    tracking: TrackingCurve | None = field(default=None)
    returners_actual: int = 0
    returners_predicted: float = math.nan
    return_log_loss: float = math.nan

    @property
    def total_error(self) -> float | None:
        """(predicted − actual) / actual holdout purchases; None without any."""
        if not self.total_actual or not math.isfinite(self.total_predicted):
            return None
        return (self.total_predicted - self.total_actual) / self.total_actual

    def to_dict(self) -> dict[str, Any]:
        def clean(value: float) -> float | None:
            return float(value) if math.isfinite(value) else None

        return {
            "model": self.model,
            "unit": self.unit,
            "calibration_end": self.calibration_end.isoformat(),
            "observation_end": self.observation_end.isoformat(),
            "duration": clean(self.duration),
            "n_customers": self.n_customers,
            "total_actual": clean(self.total_actual),
            "total_predicted": clean(self.total_predicted),
            "mae": clean(self.mae),
            "rmse": clean(self.rmse),
            "total_error": self.total_error,
            "returners_actual": self.returners_actual,
            "returners_predicted": clean(self.returners_predicted),
            "return_log_loss": clean(self.return_log_loss),
            "by_frequency": [
                {
                    "frequency": b.frequency,
                    "n_customers": b.n_customers,
                    "actual_mean": clean(b.actual_mean),
                    "predicted_mean": clean(b.predicted_mean),
                }
                for b in self.by_frequency
            ],
            "tracking": None if self.tracking is None else self.tracking.to_dict(),
        }


def daily_activity(
    orders: ibis.Table, *, calibration_end: date, observation_end: date
) -> ibis.Table:
    """Per purchase day before ``observation_end``: ``new_customers`` (first purchases of
    the calibration cohort, i.e. before ``calibration_end``) and ``repeat_purchases``
    (later purchase days of that cohort). Aggregated in the engine."""
    days = purchase_days(orders)
    days = days.filter(days.day < ibis.literal(observation_end, type=dt.date))
    days = days.mutate(first_day=days.day.min().over(group_by=days.customer_id))
    days = days.filter(days.first_day < ibis.literal(calibration_end, type=dt.date))
    return days.group_by("day").aggregate(
        new_customers=days.customer_id.count(where=days.day == days.first_day),
        repeat_purchases=days.customer_id.count(where=days.day > days.first_day),
    )


def _as_numpy(table: pa.Table, name: str) -> FloatArray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


def tracking_curve(
    model: TransactionModel,
    activity: pa.Table,
    *,
    calibration_end: date,
    observation_end: date,
    unit: str = "week",
) -> TrackingCurve:
    """Actual vs predicted repeat purchases per period from :func:`daily_activity`."""
    u = days_per_unit(unit)
    days = np.asarray(
        activity.column("day").cast(pa.date32()).to_numpy(zero_copy_only=False),
        dtype="datetime64[D]",
    )
    new = _as_numpy(activity, "new_customers")
    repeat = _as_numpy(activity, "repeat_purchases")
    cohort = new > 0
    if not cohort.any():
        return TrackingCurve([], [], [], [], [], 0)
    origin_day = days[cohort].min()
    origin: date = origin_day.astype(date)
    offsets = (days - origin_day).astype(np.float64)
    end_offset = (observation_end - origin).days
    n_periods = max(math.ceil(end_offset / u), 1)
    period = np.floor(offsets / u).astype(np.intp)
    actual = np.bincount(period, weights=repeat, minlength=n_periods)[:n_periods]
    k = np.arange(n_periods, dtype=np.float64)
    last_day = np.minimum(np.ceil((k + 1.0) * u) - 1.0, end_offset - 1.0)
    first = offsets[cohort]
    elapsed = np.maximum(last_day[None, :] - first[:, None], 0.0) / u
    expected = model.expected_purchases_new_customer(elapsed)
    predicted_cumulative = new[cohort] @ expected
    predicted = np.diff(predicted_cumulative, prepend=0.0)
    calibration_offset = (calibration_end - origin).days
    starts = [origin + timedelta(days=math.ceil(i * u)) for i in range(n_periods)]
    return TrackingCurve(
        period_start=starts,
        actual=actual.tolist(),
        predicted=predicted.tolist(),
        actual_cumulative=np.cumsum(actual).tolist(),
        predicted_cumulative=predicted_cumulative.tolist(),
        calibration_periods=int(np.sum(last_day < calibration_offset)),
    )


def _log_loss(came_back: np.ndarray[Any, Any], probability: FloatArray) -> float:
    """Mean −log of the probability the model gave to what happened."""
    p = np.clip(probability, 1e-12, 1.0 - 1e-12)
    return float(-np.mean(np.where(came_back, np.log(p), np.log1p(-p))))


def holdout_report(
    model: TransactionModel,
    summary: pa.Table,
    *,
    calibration_end: date,
    observation_end: date,
    unit: str = "week",
    activity: pa.Table | None = None,
    max_frequency: int = 7,
) -> HoldoutReport:
    """Compare ``model``'s predictions with the holdout columns of a
    :func:`~regulars.models.summary.btyd_summary` computed with ``observation_end``."""
    x = _as_numpy(summary, "frequency")
    t_x = _as_numpy(summary, "recency")
    t_cal = _as_numpy(summary, "T")
    actual = _as_numpy(summary, "frequency_holdout")
    duration = (observation_end - calibration_end).days / days_per_unit(unit)
    if x.shape[0]:
        (ux, ut_x, ut), inverse = unique_rows(x, t_x, t_cal)
        predicted = model.expected_purchases(duration, ux, ut_x, ut)[inverse]
        returns = 1.0 - model.probability_no_purchases(duration, ux, ut_x, ut)[inverse]
    else:
        predicted = returns = np.zeros(0)
    error = predicted - actual
    bucket = np.minimum(x, max_frequency).astype(np.intp)
    counts = np.bincount(bucket, minlength=max_frequency + 1)
    sum_actual = np.bincount(bucket, weights=actual, minlength=max_frequency + 1)
    sum_predicted = np.bincount(bucket, weights=predicted, minlength=max_frequency + 1)
    buckets = [
        FrequencyBucket(
            frequency=f"{i}+" if i == max_frequency else str(i),
            n_customers=int(counts[i]),
            actual_mean=float(sum_actual[i] / counts[i]),
            predicted_mean=float(sum_predicted[i] / counts[i]),
        )
        for i in range(max_frequency + 1)
        if counts[i] > 0
    ]
    n = int(x.shape[0])
    return HoldoutReport(
        model=model.model_name,
        unit=unit,
        calibration_end=calibration_end,
        observation_end=observation_end,
        duration=duration,
        n_customers=n,
        total_actual=float(actual.sum()),
        total_predicted=float(predicted.sum()),
        mae=float(np.mean(np.abs(error))) if n else math.nan,
        rmse=float(np.sqrt(np.mean(error**2))) if n else math.nan,
        by_frequency=buckets,
        returners_actual=int(np.count_nonzero(actual > 0)),
        returners_predicted=float(returns.sum()) if n else math.nan,
        return_log_loss=_log_loss(actual > 0, returns) if n else math.nan,
        tracking=None
        if activity is None
        else tracking_curve(
            model,
            activity,
            calibration_end=calibration_end,
            observation_end=observation_end,
            unit=unit,
        ),
    )
