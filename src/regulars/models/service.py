"""Service functions behind the CLI and the API: fit a model on an orders table, score
customers. They build the summary in the engine, materialise only what the models need
(distinct ``(x, t_x, T)`` rows with counts when no per-customer output is asked for) and
return plain results.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import ibis
import numpy as np
import pyarrow as pa

from regulars.errors import ModelFitError
from regulars.models.base import TimeUnit, TransactionModel, days_per_unit
from regulars.models.bgnbd import BetaGeoModel
from regulars.models.clv import customer_lifetime_value
from regulars.models.estimation import FitResult, ModelConvergenceWarning
from regulars.models.gamma_gamma import GammaGammaModel
from regulars.models.inputs import unique_rows
from regulars.models.mbgnbd import ModifiedBetaGeoModel
from regulars.models.pareto_nbd import ParetoNBDModel
from regulars.models.summary import btyd_summary
from regulars.models.validation import (
    HoldoutReport,
    daily_activity,
    holdout_report,
    tracking_curve,
)

__all__ = [
    "ModelName",
    "ModelReport",
    "TransactionModelName",
    "fit_model",
    "fit_on_holdout",
    "score_customers",
    "with_tracking",
]

ModelName = Literal["bgnbd", "mbgnbd", "pareto", "gammagamma"]
TransactionModelName = Literal["bgnbd", "mbgnbd", "pareto"]

_TRANSACTION_MODELS: dict[str, type[TransactionModel]] = {
    "bgnbd": BetaGeoModel,
    "mbgnbd": ModifiedBetaGeoModel,
    "pareto": ParetoNBDModel,
}

#: The models' names as people write them.
MODEL_LABELS: dict[str, str] = {
    "bgnbd": "BG/NBD",
    "mbgnbd": "MBG/NBD",
    "pareto": "Pareto/NBD",
    "gammagamma": "Gamma-Gamma",
}

#: Scoring defaults: CLV over 12 months at 1 % a month (≈ 12.7 % a year), margin 1.
CLV_MONTHS = 12
MONTHLY_DISCOUNT_RATE = 0.01


def _clean(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass
class ModelReport:
    """A fitted model in a form the CLI/API print or serialise."""

    model: str
    n_customers: int
    log_likelihood: float
    aic: float
    bic: float
    params: dict[str, float]
    standard_errors: dict[str, float]
    converged: bool
    holdout: HoldoutReport | None

    @classmethod
    def from_fit(cls, result: FitResult, holdout: HoldoutReport | None = None) -> ModelReport:
        return cls(
            model=result.model,
            n_customers=result.n_customers,
            log_likelihood=result.log_likelihood,
            aic=result.aic,
            bic=result.bic,
            params=dict(result.params),
            standard_errors=dict(result.standard_errors),
            converged=result.converged,
            holdout=holdout,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (non-finite numbers become ``None``)."""
        return {
            "model": self.model,
            "n_customers": self.n_customers,
            "log_likelihood": _clean(self.log_likelihood),
            "params": {k: _clean(v) for k, v in self.params.items()},
            "standard_errors": {k: _clean(v) for k, v in self.standard_errors.items()},
            "aic": _clean(self.aic),
            "bic": _clean(self.bic),
            "converged": self.converged,
            "holdout": None if self.holdout is None else self.holdout.to_dict(),
        }


def _column(table: pa.Table, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


def _check_unit(unit: str) -> TimeUnit:
    days_per_unit(unit)
    return unit  # type: ignore[return-value]


def fit_model(
    orders: ibis.Table,
    *,
    model: ModelName,
    calibration_end: date,
    observation_end: date | None = None,
    unit: str = "week",
) -> ModelReport:
    """Fit one model on the orders before ``calibration_end``.

    With ``observation_end``, a transaction model is also checked against the purchases in
    ``[calibration_end, observation_end)`` (:class:`HoldoutReport`); the Gamma-Gamma
    model has no holdout report. Raises :class:`~regulars.errors.ModelFitError` when the
    data cannot support the fit; a fit that does not converge is reported
    (``converged=False``), not raised.
    """
    time_unit = _check_unit(unit)
    if model != "gammagamma" and model not in _TRANSACTION_MODELS:
        raise ValueError(f"unknown model {model!r}; choose from bgnbd, mbgnbd, pareto, gammagamma")
    summary = btyd_summary(
        orders,
        calibration_end=calibration_end,
        observation_end=observation_end,
        unit=time_unit,
    )
    if model == "gammagamma":
        repeaters = summary.filter(summary.frequency > 0)
        grouped = (
            repeaters.group_by(["frequency", "monetary_value"])
            .aggregate(weight=repeaters.count())
            .to_pyarrow()
        )
        spend = GammaGammaModel().fit(
            _column(grouped, "frequency"),
            _column(grouped, "monetary_value"),
            _column(grouped, "weight"),
        )
        return ModelReport.from_fit(spend.result)

    transaction = _TRANSACTION_MODELS[model]()
    if observation_end is None:
        grouped = (
            summary.group_by(["frequency", "recency", "T"])
            .aggregate(weight=summary.count())
            .to_pyarrow()
        )
        transaction.fit(
            _column(grouped, "frequency"),
            _column(grouped, "recency"),
            _column(grouped, "T"),
            _column(grouped, "weight"),
        )
        return ModelReport.from_fit(transaction.result)

    checked = fit_on_holdout(
        orders,
        [model],
        calibration_end=calibration_end,
        observation_end=observation_end,
        unit=unit,
    )[model]
    if isinstance(checked, ModelFitError):
        raise checked
    return checked


def fit_on_holdout(
    orders: ibis.Table,
    models: Sequence[str],
    *,
    calibration_end: date,
    observation_end: date,
    unit: str = "week",
    tracking: bool = True,
    max_customers: Mapping[str, int] | None = None,
) -> dict[str, ModelReport | ModelFitError]:
    """Fit each transaction model on the orders before ``calibration_end`` and check it
    on ``[calibration_end, observation_end)``; the summary (and, with ``tracking``, the
    daily activity for the tracking curve) is computed once for all. ``models`` are names
    of ``bgnbd``, ``mbgnbd``, ``pareto``; ``max_customers`` caps the customers a model is
    fitted on (the Pareto/NBD costs about 64 times the BG/NBD). A model the data cannot
    support, or over its cap, maps to a :class:`~regulars.errors.ModelFitError` instead
    of a report."""
    time_unit = _check_unit(unit)
    summary = btyd_summary(
        orders, calibration_end=calibration_end, observation_end=observation_end, unit=time_unit
    )
    table = summary.to_pyarrow()
    activity = _activity(orders, calibration_end, observation_end) if tracking else None
    x, t_x, t_cal = (_column(table, name) for name in ("frequency", "recency", "T"))
    reports: dict[str, ModelReport | ModelFitError] = {}
    for name in models:
        cap = (max_customers or {}).get(name)
        if cap is not None and table.num_rows > cap:
            reports[name] = ModelFitError(
                f"{MODEL_LABELS[name]} is not fitted on more than {cap:,} customers "
                f"({table.num_rows:,} here)"
            )
            continue
        transaction = _TRANSACTION_MODELS[name]()
        try:
            transaction.fit(x, t_x, t_cal)
        except ModelFitError as exc:
            reports[name] = exc
            continue
        holdout = holdout_report(
            transaction,
            table,
            calibration_end=calibration_end,
            observation_end=observation_end,
            unit=unit,
            activity=activity,
        )
        reports[name] = ModelReport.from_fit(transaction.result, holdout)
    return reports


def _activity(orders: ibis.Table, calibration_end: date, observation_end: date) -> pa.Table:
    return daily_activity(
        orders, calibration_end=calibration_end, observation_end=observation_end
    ).to_pyarrow()


def with_tracking(orders: ibis.Table, report: ModelReport) -> ModelReport:
    """``report`` (a holdout fit made without ``tracking``) with its tracking curve."""
    holdout = report.holdout
    if holdout is None:
        return report
    model = _TRANSACTION_MODELS[report.model].from_params(**report.params)
    activity = _activity(orders, holdout.calibration_end, holdout.observation_end)
    curve = tracking_curve(
        model,
        activity,
        calibration_end=holdout.calibration_end,
        observation_end=holdout.observation_end,
        unit=holdout.unit,
    )
    return dataclasses.replace(report, holdout=dataclasses.replace(holdout, tracking=curve))


def score_customers(
    orders: ibis.Table,
    *,
    as_of: date,
    unit: str = "week",
    model: TransactionModelName = "bgnbd",
) -> pa.Table:
    """Per-customer scores from a transaction ``model`` (BG/NBD unless told) and
    Gamma-Gamma, fitted on the orders before ``as_of``.

    Columns: ``customer_id``, ``p_alive``, ``expected_purchases_90d``,
    ``expected_purchases_365d`` (purchase days expected in the next 90 / 365 days),
    ``expected_spend`` (Gamma-Gamma expected spend per purchase), ``clv_12m`` (discounted
    12-month CLV at 1 % a month, margin 1, see :mod:`regulars.models.clv`).

    Rows are sorted by ``customer_id``. Raises :class:`~regulars.errors.ModelFitError`
    when either model cannot be fitted or does not converge, or when the spend model has no
    finite population mean (q ≤ 1).
    """
    time_unit = _check_unit(unit)
    table = btyd_summary(orders, calibration_end=as_of, unit=time_unit).to_pyarrow()
    table = table.sort_by("customer_id")
    x = _column(table, "frequency")
    t_x = _column(table, "recency")
    t_cal = _column(table, "T")
    monetary = _column(table, "monetary_value")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelConvergenceWarning)
        purchases = _TRANSACTION_MODELS[model]().fit(x, t_x, t_cal)
        if not purchases.result.converged:
            raise ModelFitError(f"{MODEL_LABELS[model]}: {purchases.result.message}")
        spend = GammaGammaModel().fit(x, monetary)
        if not spend.result.converged:
            raise ModelFitError(f"Gamma-Gamma: {spend.result.message}")
    if not math.isfinite(spend.mean_spend):
        raise ModelFitError(
            "Gamma-Gamma: q ≤ 1, so the mean spend of customers without repeat purchases "
            "is not defined"
        )

    (ux, ut_x, ut), inverse = unique_rows(x, t_x, t_cal)
    u = days_per_unit(unit)
    p_alive = purchases.probability_alive(ux, ut_x, ut)[inverse]
    next_90 = purchases.expected_purchases(90.0 / u, ux, ut_x, ut)[inverse]
    next_365 = purchases.expected_purchases(365.0 / u, ux, ut_x, ut)[inverse]
    expected_spend = spend.conditional_expected_spend(x, monetary)
    clv = customer_lifetime_value(
        purchases,
        spend,
        x,
        t_x,
        t_cal,
        monetary,
        horizon_months=CLV_MONTHS,
        monthly_discount_rate=MONTHLY_DISCOUNT_RATE,
        unit=time_unit,
    )
    return pa.table(
        {
            "customer_id": table.column("customer_id"),
            "p_alive": pa.array(p_alive, pa.float64()),
            "expected_purchases_90d": pa.array(next_90, pa.float64()),
            "expected_purchases_365d": pa.array(next_365, pa.float64()),
            "expected_spend": pa.array(expected_spend, pa.float64()),
            "clv_12m": pa.array(clv, pa.float64()),
        }
    )
