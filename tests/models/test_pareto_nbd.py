"""Pareto/NBD against the published CDNOW results; the integral form of its likelihood
against adaptive quadrature and the hypergeometric form of Fader & Hardie (2005)."""

from __future__ import annotations

from functools import cache

import btyd_data as cdnow
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import hyp2f1

from regulars.models import ParetoNBDModel
from regulars.models.estimation import numerical_gradient
from regulars.models.pareto_nbd import log_death_integral


@cache
def fitted() -> ParetoNBDModel:
    s = cdnow.summary()
    return ParetoNBDModel().fit(s["frequency"], s["recency"], s["T"])


def test_cdnow_parameters_and_log_likelihood() -> None:
    result = fitted().result
    assert result.converged, result.message
    for name, value in cdnow.PUBLISHED_PARETO.items():
        assert result.params[name] == pytest.approx(value, abs=1.5e-3), name
    assert result.log_likelihood == pytest.approx(cdnow.PUBLISHED_PARETO_LL, abs=0.1)
    s = cdnow.summary()
    published = ParetoNBDModel.from_params(**cdnow.PUBLISHED_PARETO)
    ll = published.log_likelihood(s["frequency"], s["recency"], s["T"])
    assert ll == pytest.approx(cdnow.PUBLISHED_PARETO_LL, abs=0.1)


def _reference_log_integral(
    r: float, alpha: float, s: float, beta: float, x: float, t_x: float, age: float
) -> float:
    """log ∫_{t_x}^{T} (α+τ)^−(r+x) (β+τ)^−(s+1) dτ by adaptive quadrature in
    u = log(α+τ), scaled by the value at t_x to stay in range."""
    log_peak = -(r + x) * np.log(alpha + t_x) - (s + 1) * np.log(beta + t_x)

    def integrand(u: float) -> float:
        tau = np.exp(u) - alpha
        log_g = -(r + x) * u - (s + 1) * np.log(beta + tau)
        return float(np.exp(log_g - log_peak + u))

    lo, hi = np.log(alpha + t_x), np.log(alpha + age)
    points = [v for v in lo + np.geomspace(1e-8, 1, 30) * (hi - lo) if lo < v < hi]
    value, _ = quad(integrand, lo, hi, epsabs=0, epsrel=1e-13, limit=500, points=points)
    return float(np.log(value) + log_peak)


@pytest.mark.parametrize(
    ("r", "alpha", "s", "beta", "x", "t_x", "age"),
    [
        (0.553, 10.578, 0.606, 11.669, 0, 0, 38.86),
        (0.553, 10.578, 0.606, 11.669, 2, 30.43, 38.86),
        (0.553, 10.578, 0.606, 11.669, 2, 38.85, 38.86),
        (0.2, 1.0, 3.0, 500.0, 40, 3.0, 60.0),  # alpha < beta
        (2.0, 800.0, 0.3, 0.5, 10, 1.0, 200.0),  # alpha >> beta
        (0.1, 0.12, 2.7, 800.0, 20000, 1e-4, 9.0),  # x huge, beta >> alpha
        (1.3, 5.0, 1.0, 5.0, 3000, 20.0, 39.0),  # alpha == beta, s == 1
    ],
)
def test_integral_form_is_exact(
    r: float, alpha: float, s: float, beta: float, x: float, t_x: float, age: float
) -> None:
    ours = float(log_death_integral(r, alpha, s, beta, x, t_x, age))
    assert ours == pytest.approx(_reference_log_integral(r, alpha, s, beta, x, t_x, age), abs=1e-8)


def test_integral_matches_the_hypergeometric_form() -> None:
    """FH05: s·I = s/(r+s+x) · (F(t_x) − F(T)), where scipy's hyp2f1 is reliable (small x,
    α ≥ β and α < β)."""
    for r, alpha, s, beta in [(0.553, 10.578, 0.606, 11.669), (0.8, 20.0, 1.4, 6.0)]:
        big, small = max(alpha, beta), min(alpha, beta)
        second = s + 1 if alpha >= beta else None
        for x, t_x, age in [(0, 0.0, 38.86), (3, 12.0, 38.86), (7, 30.0, 31.0)]:
            b2 = second if second is not None else r + x
            c = r + s + x

            def term(
                t: float, b2: float = b2, c: float = c, big: float = big, small: float = small
            ) -> float:
                return float(hyp2f1(c, b2, c + 1, (big - small) / (big + t)) / (big + t) ** c)

            a0 = term(t_x) - term(age)
            ours = np.exp(float(log_death_integral(r, alpha, s, beta, x, t_x, age)))
            assert ours == pytest.approx(a0 / c, rel=1e-9)


def test_zero_width_interval() -> None:
    assert float(log_death_integral(0.5, 10.0, 0.6, 12.0, 3, 20.0, 20.0)) == -np.inf
    # and the likelihood is then the "alive" term alone, finite
    m = ParetoNBDModel.from_params(r=0.5, alpha=10.0, s=0.6, beta=12.0)
    assert np.isfinite(m.log_likelihood([3, 0], [20.0, 0.0], [20.0, 0.0]))


def test_unconditional_distribution() -> None:
    m = fitted()
    n = np.arange(600)
    for t in (0.0, 1.0, 39.0, 200.0):
        pmf = m.probability_of_n_purchases(t, n)
        assert np.all(pmf >= 0)
        assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
        assert (n * pmf).sum() == pytest.approx(
            float(m.expected_purchases_new_customer(t)), rel=1e-8
        )


def test_predictions() -> None:
    m = fitted()
    r, alpha, s, beta = (m.params[k] for k in ("r", "alpha", "s", "beta"))
    t = 39.0
    new = float(m.expected_purchases_new_customer(t))
    assert new == pytest.approx(r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1)))
    p = m.probability_alive([0, 2, 2], [0.0, 30.43, 5.0], 38.86)
    assert np.all((p > 0) & (p < 1))
    assert p[1] > p[2]
    e = m.expected_purchases(t, 2, 30.43, 38.86)
    assert float(e) == pytest.approx(
        (r + 2)
        * (beta + 38.86)
        / ((alpha + 38.86) * (s - 1))
        * (1 - ((beta + 38.86) / (beta + 38.86 + t)) ** (s - 1))
        * p[1]
    )
    # s = 1 limit
    one = ParetoNBDModel.from_params(r=r, alpha=alpha, s=1.0, beta=beta)
    near = ParetoNBDModel.from_params(r=r, alpha=alpha, s=1.0 + 1e-6, beta=beta)
    assert float(one.expected_purchases(t, 2, 30.0, 38.0)) == pytest.approx(
        float(near.expected_purchases(t, 2, 30.0, 38.0)), rel=1e-5
    )


def test_huge_frequencies_do_not_overflow() -> None:
    m = fitted()
    x = np.array([1000.0, 5000.0, 20000.0])
    for t_x in (38.8, 20.0, 0.5):
        p = m.probability_alive(x, t_x, 38.86)
        e = m.expected_purchases(39, x, t_x, 38.86)
        assert np.all(np.isfinite(p))
        assert np.all(np.isfinite(e))
        assert np.all((p >= 0) & (p <= 1))
    assert np.isfinite(m.log_likelihood(x, 38.0, 38.86))


def test_analytic_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.integers(0, 30, 150), [0, 2000]]).astype(float)
    age = rng.uniform(1, 40, x.shape[0])
    t_x = np.where(x > 0, age * rng.uniform(0, 1, x.shape[0]), 0.0)
    for params in ([0.55, 10.0, 0.6, 12.0], [0.3, 2.0, 1.5, 40.0], [2.0, 50.0, 0.4, 3.0]):
        model = ParetoNBDModel.from_params(
            r=params[0], alpha=params[1], s=params[2], beta=params[3]
        )
        _, grad = model._log_likelihood_rows_and_grad(tuple(params), x, t_x, age)

        def total(p: np.ndarray, model: ParetoNBDModel = model) -> float:
            return float(model._log_likelihood_rows(tuple(p), x, t_x, age).sum())

        np.testing.assert_allclose(
            grad.sum(axis=0), numerical_gradient(total, np.array(params)), rtol=1e-5
        )
