"""Numerical building blocks and properties every transaction model must have."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regulars.models import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel
from regulars.models._numerics import log_integral, tail_cut
from regulars.models.base import TransactionModel


def test_log_integral_of_known_functions() -> None:
    upper = np.array([0.0, 1e-9, 0.5, 10.0, 1e6])
    # ∫_0^W e^{−w} dw = 1 − e^{−W}
    got = log_integral(lambda w: -w, tail_cut(upper, np.zeros(5)), np.ones(5))
    with np.errstate(divide="ignore"):
        expected = np.log(-np.expm1(-upper))
    np.testing.assert_allclose(got[1:], expected[1:], rtol=1e-11, atol=1e-14)
    assert got[0] == -np.inf
    # a fast start then a slow tail: ∫_0^∞ (e^{−w} + 1e4·e^{−1e4 w}) dw = 2
    rate = np.array([1e4])

    def two_scales(w: np.ndarray) -> np.ndarray:
        return np.logaddexp(-w, np.log(1e4) - 1e4 * w)

    assert float(
        np.exp(
            log_integral(two_scales, tail_cut(np.array([np.inf]), np.array([np.log(1e4)])), rate)
        )[0]
    ) == pytest.approx(2.0, rel=1e-10)


MODELS = [
    BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426),
    ModifiedBetaGeoModel.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614),
    ParetoNBDModel.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669),
    BetaGeoModel.from_params(r=3.0, alpha=0.5, a=4.0, b=0.3),
    ParetoNBDModel.from_params(r=0.05, alpha=900.0, s=3.0, beta=0.2),
    ParetoNBDModel.from_params(r=3.0, alpha=0.2, s=1.0, beta=400.0),
]

histories = st.tuples(
    st.integers(min_value=0, max_value=5000),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=500.0),
).map(lambda h: (float(h[0]), h[1] * h[2] if h[0] > 0 else 0.0, h[2]))


@pytest.mark.parametrize("model", MODELS, ids=repr)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=histories, horizon=st.floats(min_value=0.0, max_value=1000.0))
def test_predictions_are_probabilities_and_counts(
    model: TransactionModel, history: tuple[float, float, float], horizon: float
) -> None:
    x, t_x, age = history
    p = float(model.probability_alive(x, t_x, age))
    assert 0.0 <= p <= 1.0
    e = model.expected_purchases(np.array([horizon, horizon + 1.0]), x, t_x, age)
    assert np.all(np.isfinite(e))
    assert 0.0 <= e[0] <= e[1]
    if x > 0 and t_x < age:
        # a later last purchase (more recent) never lowers P(alive)
        assert float(model.probability_alive(x, (t_x + age) / 2, age)) >= p - 1e-12
    ll = model.log_likelihood([x], [t_x], [age])
    assert np.isfinite(ll)
    if x == 0:  # a probability (for x > 0 the likelihood is a density in the purchase times)
        assert ll <= 1e-12
