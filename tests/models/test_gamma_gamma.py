"""Gamma-Gamma on the 946 CDNOW repeat buyers."""

from __future__ import annotations

import warnings

import btyd_data as cdnow
import numpy as np
import pytest

from regulars.engine import connect, table_from_arrow
from regulars.errors import ModelFitError
from regulars.models import GammaGammaModel, SpendCorrelationWarning, btyd_summary


def test_cdnow_parameters_from_the_published_summary() -> None:
    s = cdnow.summary_with_spend()
    model = GammaGammaModel().fit(s["x"], s["zbar"])
    result = model.result
    assert result.converged, result.message
    assert result.n_customers == 946
    # zbar in this file is rounded to cents, which moves γ by 0.008
    for name, value in cdnow.PUBLISHED_GAMMA_GAMMA.items():
        assert result.params[name] == pytest.approx(value, abs=0.01), name
    rho = result.diagnostics["frequency_spend_correlation"]
    assert rho == pytest.approx(0.11, abs=0.01)


def test_cdnow_parameters_from_our_summary() -> None:
    """From the raw transactions through btyd_summary: the published values exactly."""
    con = connect()
    summary = btyd_summary(
        table_from_arrow(con, cdnow.orders()), calibration_end=cdnow.CALIBRATION_END
    ).to_pyarrow()
    frequency = summary.column("frequency").to_numpy()
    spend = summary.column("monetary_value").to_numpy()
    params = GammaGammaModel().fit(frequency, spend).params
    for name, value in cdnow.PUBLISHED_GAMMA_GAMMA.items():
        assert round(params[name], 2) == value, name


def test_conditional_expected_spend() -> None:
    model = GammaGammaModel.from_params(p=6.25, q=3.74, gamma=15.44)
    mean = 6.25 * 15.44 / 2.74
    assert model.mean_spend == pytest.approx(mean)
    spend = model.conditional_expected_spend([0, 1, 10, 1000], [99.0, 20.0, 20.0, 20.0])
    assert spend[0] == pytest.approx(mean)  # no repeat purchase: the population mean
    w = 6.25 * 10 / (6.25 * 10 + 3.74 - 1)
    assert spend[2] == pytest.approx((1 - w) * mean + w * 20.0)
    assert spend[3] == pytest.approx(20.0, rel=1e-3)  # many purchases: their own mean
    no_mean = GammaGammaModel.from_params(p=1.0, q=0.5, gamma=1.0)
    assert np.isnan(no_mean.conditional_expected_spend(0, 0.0))
    assert no_mean.mean_spend == np.inf


def test_warns_when_spend_follows_frequency() -> None:
    """Frequent buyers spend more per purchase (ν shrinks with x): ρ ≈ 0.8."""
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, 2000).astype(float)
    nu = rng.gamma(8.0, 1 / 40.0, 2000) / x
    z = rng.gamma(4.0 * x, 1 / (x * nu))
    with pytest.warns(SpendCorrelationWarning, match="correlated"):
        model = GammaGammaModel().fit(x, z)
    assert model.result.diagnostics["frequency_spend_correlation"] > 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpendCorrelationWarning)
        GammaGammaModel().fit(x, z, correlation_threshold=0.99)


@pytest.mark.parametrize(
    ("x", "z", "message"),
    [
        ([], [], "no customers"),
        ([0, 0, 0, 0, 0], [0, 0, 0, 0, 0], "repeat buyer"),
        ([1, 2, 1], [10.0, 5.0, 7.0], "repeat buyer"),
        ([1, 2, 3, 4, 5], [10.0, 0.0, 7.0, 1.0, 2.0], "non-positive"),
        ([1, 2, 3, 4, 5], [10.0, np.nan, 7.0, 1.0, 2.0], "not finite"),
        ([1, 2, 3, 4, 5], [10.0, 3.0, 7.0, 1.0], "differ in length"),
        ([1, -2, 3, 4, 5], [10.0, 3.0, 7.0, 1.0, 2.0], "negative"),
    ],
)
def test_unfittable_data(x: list[float], z: list[float], message: str) -> None:
    with pytest.raises(ModelFitError, match=message):
        GammaGammaModel().fit(x, z)


def test_analytic_gradient_matches_finite_differences() -> None:
    from regulars.models.estimation import numerical_gradient
    from regulars.models.gamma_gamma import _log_density, _log_density_and_grad

    rng = np.random.default_rng(2)
    x = rng.integers(1, 500, 300).astype(float)
    z = rng.gamma(3.0, 10.0, 300)
    params = np.array([6.25, 3.74, 15.44])
    _, grad = _log_density_and_grad(tuple(params), x, z)

    def total(p: np.ndarray) -> float:
        return float(_log_density(tuple(p), x, z).sum())

    np.testing.assert_allclose(grad.sum(axis=0), numerical_gradient(total, params), rtol=1e-6)
