"""Service functions: fit_model (every model, with and without a holdout) and
score_customers, on CDNOW orders."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import btyd_data as cdnow
import ibis
import numpy as np
import pyarrow as pa
import pytest

from regulars.engine import connect, table_from_arrow
from regulars.errors import ModelFitError
from regulars.models import fit_model, score_customers

Load = Callable[[pa.Table], ibis.Table]


@pytest.fixture(scope="module")
def orders() -> ibis.Table:
    return table_from_arrow(connect(), cdnow.orders())


@pytest.mark.parametrize(
    ("model", "log_likelihood"),
    [("bgnbd", -9582.43), ("mbgnbd", -9582.13), ("pareto", -9594.97)],
)
def test_fit_transaction_models(orders: ibis.Table, model: str, log_likelihood: float) -> None:
    """From the raw transactions, the fits reproduce the published CDNOW log-likelihoods."""
    report = fit_model(orders, model=model, calibration_end=cdnow.CALIBRATION_END)  # type: ignore[arg-type]
    assert report.model == model
    assert report.n_customers == 2357
    assert report.converged
    assert report.holdout is None
    assert report.log_likelihood == pytest.approx(log_likelihood, abs=0.01)
    payload = json.loads(json.dumps(report.to_dict()))
    assert list(payload) == [
        "model",
        "n_customers",
        "log_likelihood",
        "params",
        "standard_errors",
        "aic",
        "bic",
        "converged",
        "holdout",
    ]


def test_fit_with_holdout(orders: ibis.Table) -> None:
    report = fit_model(
        orders,
        model="bgnbd",
        calibration_end=cdnow.CALIBRATION_END,
        observation_end=cdnow.OBSERVATION_END,
    )
    assert report.holdout is not None
    assert report.holdout.total_actual == 1882
    assert report.holdout.tracking is not None
    assert len(report.holdout.tracking.actual) == 78
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["holdout"]["tracking"]["calibration_periods"] == 39


def test_fit_gamma_gamma(orders: ibis.Table) -> None:
    report = fit_model(orders, model="gammagamma", calibration_end=cdnow.CALIBRATION_END)
    assert report.n_customers == 946
    assert {k: round(v, 2) for k, v in report.params.items()} == cdnow.PUBLISHED_GAMMA_GAMMA
    assert report.holdout is None


def test_fit_model_rejects_bad_arguments(orders: ibis.Table) -> None:
    with pytest.raises(ValueError, match="unknown model"):
        fit_model(orders, model="nbd", calibration_end=cdnow.CALIBRATION_END)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unit"):
        fit_model(orders, model="bgnbd", calibration_end=cdnow.CALIBRATION_END, unit="hour")
    with pytest.raises(ModelFitError, match="no customers"):
        fit_model(orders, model="bgnbd", calibration_end=date(1990, 1, 1))


def test_score_customers(orders: ibis.Table) -> None:
    scores = score_customers(orders, as_of=cdnow.CALIBRATION_END)
    assert scores.column_names == [
        "customer_id",
        "p_alive",
        "expected_purchases_90d",
        "expected_purchases_365d",
        "expected_spend",
        "clv_12m",
    ]
    assert scores.num_rows == 2357
    columns = {name: scores.column(name).to_numpy() for name in scores.column_names[1:]}
    assert np.all((columns["p_alive"] > 0) & (columns["p_alive"] <= 1))
    assert np.all(columns["expected_purchases_90d"] > 0)
    assert np.all(columns["expected_purchases_365d"] > columns["expected_purchases_90d"])
    assert np.all(columns["expected_spend"] > 0)
    assert np.all(columns["clv_12m"] > 0)
    # customer 1 (x = 2, t_x = 30.43, T = 38.86): the published example
    row = scores.filter(pa.compute.equal(scores.column("customer_id"), "1")).to_pylist()[0]
    assert row["expected_purchases_365d"] > row["expected_purchases_90d"]
    assert row["p_alive"] == pytest.approx(0.72, abs=0.02)


def test_score_customers_daily_units(orders: ibis.Table) -> None:
    weekly = score_customers(orders, as_of=cdnow.CALIBRATION_END, unit="week")
    daily = score_customers(orders, as_of=cdnow.CALIBRATION_END, unit="day")
    for name in ("p_alive", "expected_purchases_90d", "clv_12m"):
        np.testing.assert_allclose(
            daily.column(name).to_numpy(), weekly.column(name).to_numpy(), rtol=1e-4
        )


def _orders(rows: list[tuple[str, datetime, str]]) -> pa.Table:
    return pa.table(
        {
            "order_id": [str(i) for i in range(len(rows))],
            "customer_id": [r[0] for r in rows],
            "ordered_at": pa.array([r[1] for r in rows], pa.timestamp("us")),
            "amount": pa.array([Decimal(r[2]) for r in rows], pa.decimal128(18, 2)),
        }
    )


def test_score_customers_refuses_unfittable_data(load: Load) -> None:
    one_timers = _orders([(f"c{i}", datetime(2024, 1, 1 + i), "10") for i in range(20)])
    with pytest.raises(ModelFitError, match="repeat purchase"):
        score_customers(load(one_timers), as_of=date(2024, 3, 1))
    with pytest.raises(ModelFitError, match="no customers"):
        score_customers(load(one_timers), as_of=date(2023, 1, 1))


def test_holdout_report_on_each_engine(load: Load) -> None:
    """The engine-side pieces (summary with holdout, daily activity) on DuckDB and
    PostgreSQL give the same report."""
    table = cdnow.orders()
    subset = table.filter(pa.compute.less_equal(table.column("customer_id").cast(pa.int64()), 800))
    report = fit_model(
        load(subset),
        model="bgnbd",
        calibration_end=cdnow.CALIBRATION_END,
        observation_end=cdnow.OBSERVATION_END,
    )
    reference = fit_model(
        table_from_arrow(connect(), subset),
        model="bgnbd",
        calibration_end=cdnow.CALIBRATION_END,
        observation_end=cdnow.OBSERVATION_END,
    )
    assert report.holdout is not None
    assert reference.holdout is not None
    assert report.n_customers == reference.n_customers
    assert report.log_likelihood == pytest.approx(reference.log_likelihood, abs=1e-6)
    assert report.holdout.total_actual == reference.holdout.total_actual
    ours, theirs = report.holdout.tracking, reference.holdout.tracking
    assert ours is not None
    assert theirs is not None
    assert ours.actual == theirs.actual
    # the engines return summary rows in different orders: the fits agree to rounding
    np.testing.assert_allclose(ours.predicted, theirs.predicted, rtol=1e-6)
