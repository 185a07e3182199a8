"""Parameter recovery: data simulated from known parameters (vectorised, the models'
own generative stories; see btyd_simulate.py) are fitted back.

Tolerance: every estimate within 4 standard errors (the Hessian-based ones the fit
reports) of the truth — a 4σ band fails by chance about once in 16,000 parameters, so a
failure means a wrong likelihood, wrong standard errors or a poor optimum, not bad luck.
Sizes (10,000–20,000 customers) make the standard errors a few percent of the values.
T is a whole number of days in weeks (as in real summaries), so that de-duplication
keeps the fits fast; t_x stays continuous (rounding it to days biases the Pareto/NBD's
dropout parameters by a few standard errors at these sizes).
"""

from __future__ import annotations

import numpy as np
import pytest
from btyd_simulate import simulate_bgnbd, simulate_gamma_gamma, simulate_pareto

from regulars.models import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
)
from regulars.models.base import FitResult


def _ages(rng: np.random.Generator, n: int) -> np.ndarray:
    """Customer ages of 5–52 weeks, whole days."""
    return np.asarray(rng.integers(35, 365, n), dtype=np.float64) / 7.0


def _assert_recovered(result: FitResult, truth: dict[str, float]) -> None:
    assert result.converged, result.message
    for name, value in truth.items():
        se = result.standard_errors[name]
        assert 0 < se < 0.5 * value, (name, se)
        assert abs(result.params[name] - value) < 4 * se, (name, result.params[name], value, se)


@pytest.mark.parametrize("seed", [1, 2])
def test_bgnbd_recovers_parameters(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    age = _ages(rng, 20_000)
    x, t_x = simulate_bgnbd(rng, age, **truth)
    _assert_recovered(BetaGeoModel().fit(x, t_x, age).result, truth)


def test_mbgnbd_recovers_parameters() -> None:
    rng = np.random.default_rng(3)
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 1.6}
    age = _ages(rng, 20_000)
    x, t_x = simulate_bgnbd(rng, age, modified=True, **truth)
    _assert_recovered(ModifiedBetaGeoModel().fit(x, t_x, age).result, truth)


@pytest.mark.slow
def test_pareto_recovers_parameters() -> None:
    rng = np.random.default_rng(4)
    truth = {"r": 0.55, "alpha": 10.0, "s": 0.6, "beta": 12.0}
    age = _ages(rng, 15_000)
    x, t_x = simulate_pareto(rng, age, **truth)
    _assert_recovered(ParetoNBDModel().fit(x, t_x, age).result, truth)


def test_gamma_gamma_recovers_parameters() -> None:
    rng = np.random.default_rng(5)
    truth = {"p": 6.0, "q": 3.8, "gamma": 15.0}
    x = np.asarray(rng.integers(1, 12, 10_000), dtype=np.float64)
    z = simulate_gamma_gamma(rng, x, **truth)
    _assert_recovered(GammaGammaModel().fit(x, z).result, truth)


def test_simulation_matches_the_model() -> None:
    """The simulator itself: the share of customers with n repeat purchases by t matches
    P(X(t) = n) of each model (3σ binomial bands)."""
    rng = np.random.default_rng(6)
    n_customers, t = 200_000, 39.0
    age = np.full(n_customers, t)
    checks = [
        (BetaGeoModel.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5), simulate_bgnbd, {}),
        (
            ModifiedBetaGeoModel.from_params(r=0.5, alpha=6.0, a=0.9, b=1.6),
            simulate_bgnbd,
            {"modified": True},
        ),
        (ParetoNBDModel.from_params(r=0.55, alpha=10.0, s=0.6, beta=12.0), simulate_pareto, {}),
    ]
    for model, simulate, extra in checks:
        x, _ = simulate(rng, age, **model.params, **extra)  # type: ignore[operator]
        n = np.arange(6)
        expected = model.probability_of_n_purchases(t, n)
        observed = np.array([(x == k).mean() for k in n])
        band = 3 * np.sqrt(expected * (1 - expected) / n_customers)
        assert np.all(np.abs(observed - expected) < band), (
            type(model).__name__,
            observed,
            expected,
        )
