"""BG/NBD against the published CDNOW results and its own identities."""

from __future__ import annotations

from functools import cache

import btyd_data as cdnow
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import betaln

from regulars.models import BetaGeoModel
from regulars.models.bgnbd import alive_expectation, beta_geometric_log_likelihood
from regulars.models.estimation import numerical_gradient


@cache
def fitted() -> BetaGeoModel:
    s = cdnow.summary()
    return BetaGeoModel().fit(s["frequency"], s["recency"], s["T"])


def published() -> BetaGeoModel:
    return BetaGeoModel.from_params(**cdnow.PUBLISHED_BGNBD)


def test_cdnow_parameters_and_log_likelihood() -> None:
    result = fitted().result
    assert result.converged, result.message
    for name, value in cdnow.PUBLISHED_BGNBD.items():
        assert result.params[name] == pytest.approx(value, abs=5e-4), name
    assert result.log_likelihood == pytest.approx(cdnow.PUBLISHED_BGNBD_LL, abs=0.1)
    assert result.n_customers == 2357
    assert result.aic == pytest.approx(2 * 4 - 2 * result.log_likelihood)
    assert result.bic == pytest.approx(4 * np.log(2357) - 2 * result.log_likelihood)
    assert all(0 < se < np.inf for se in result.standard_errors.values())
    # the log-likelihood at the published (rounded) parameters
    s = cdnow.summary()
    ll = published().log_likelihood(s["frequency"], s["recency"], s["T"])
    assert ll == pytest.approx(cdnow.PUBLISHED_BGNBD_LL, abs=0.1)


@pytest.mark.parametrize("model", [published, fitted], ids=["published", "fitted"])
def test_known_conditional_expectation(model: object) -> None:
    """FHL 2005: a customer with x = 2, t_x = 30.43, T = 38.86 buys 1.226 times in the
    next 39 weeks."""
    m = model()  # type: ignore[operator]
    assert float(m.expected_purchases(39, 2, 30.43, 38.86)) == pytest.approx(1.226, abs=5e-4)


def test_alive_expectation_matches_the_integral() -> None:
    """The Euler-transformed closed form equals E_p[(1 − (1 + p t/(α+T))^−(r+x))/p],
    p ~ Beta(a, b+x), computed by adaptive quadrature — also for x in the thousands."""
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    for x, t, age in [(0, 39.0, 38.0), (2, 39.0, 38.86), (40, 52.0, 30.0), (3000, 10.0, 39.0)]:
        shape, rate, b_post = r + x, alpha + age, b + x

        def integrand(
            p: float,
            shape: float = shape,
            rate: float = rate,
            b_post: float = b_post,
            t: float = t,
        ) -> float:
            density = np.exp((a - 1) * np.log(p) + (b_post - 1) * np.log1p(-p) - betaln(a, b_post))
            return float(density * -np.expm1(-shape * np.log1p(p * t / rate)) / p)

        reference, _ = quad(integrand, 0, 1, limit=500, epsabs=0, epsrel=1e-12, points=[1 / b_post])
        closed = float(
            alive_expectation(np.array(t), a, np.array(b_post), np.array(shape), np.array(rate))
        )
        assert closed == pytest.approx(reference, rel=1e-8)


def test_unconditional_distribution() -> None:
    m = fitted()
    n = np.arange(400)
    for t in (0.0, 1.0, 39.0, 78.0):
        pmf = m.probability_of_n_purchases(t, n)
        assert np.all(pmf >= 0)
        assert pmf.sum() == pytest.approx(1.0, abs=1e-10)
        assert (n * pmf).sum() == pytest.approx(
            float(m.expected_purchases_new_customer(t)), rel=1e-9
        )
    assert float(m.probability_of_n_purchases(0.0, 0)) == pytest.approx(1.0)


def test_probability_alive() -> None:
    m = fitted()
    # no repeat purchase: alive by assumption in the BG/NBD
    assert np.all(m.probability_alive(0, 0, [0.0, 10.0, 38.86]) == 1.0)
    # a long silence since the last purchase makes a frequent buyer less likely alive
    p = m.probability_alive(10, [38.0, 30.0, 10.0], 38.86)
    assert np.all(np.diff(p) < 0)
    assert np.all((p > 0) & (p < 1))


def test_expectations_are_monotone_and_broadcast() -> None:
    m = fitted()
    t = np.linspace(0, 100, 11)
    e = m.expected_purchases(t[:, None], np.array([0, 1, 5]), np.array([0, 10, 35]), 38.0)
    assert e.shape == (11, 3)
    assert np.all(e[0] == 0)
    assert np.all(np.diff(e, axis=0) > 0)


def test_huge_frequencies_do_not_overflow() -> None:
    m = fitted()
    x = np.array([1000.0, 5000.0, 20000.0])
    for t_x in (38.8, 20.0):
        p = m.probability_alive(x, t_x, 38.86)
        e = m.expected_purchases(39, x, t_x, 38.86)
        assert np.all(np.isfinite(p))
        assert np.all(np.isfinite(e))
        assert np.all((p >= 0) & (p <= 1))
        assert np.all(e >= 0)
    # a very frequent buyer seen at the very end: about the posterior mean rate
    # (r+x)/(α+T) per week, less the few who leave after one of those purchases
    e = float(m.expected_purchases(1.0, 5000, 38.86, 38.86))
    rate = (m.params["r"] + 5000) / (m.params["alpha"] + 38.86)
    assert 0.97 * rate < e < rate
    ll = m.log_likelihood(x, 38.0, 38.86)
    assert np.isfinite(ll)


def test_analytic_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 30, 200).astype(float)
    age = rng.uniform(1, 40, 200)
    t_x = np.where(x > 0, age * rng.uniform(0, 1, 200), 0.0)
    for modified in (False, True):
        params = np.array([0.4, 3.0, 0.9, 2.0])
        _, grad = beta_geometric_log_likelihood(
            params, x, t_x, age, modified=modified, gradient=True
        )
        assert grad is not None

        def total(p: np.ndarray, modified: bool = modified) -> float:
            rows, _ = beta_geometric_log_likelihood(
                p, x, t_x, age, modified=modified, gradient=False
            )
            return float(rows.sum())

        numeric = numerical_gradient(total, params)
        np.testing.assert_allclose(grad.sum(axis=0), numeric, rtol=1e-6)


def test_integer_hypergeometric_excess_is_handled() -> None:
    """scipy's hyp2f1 returns inf for some z > 0.9 when C − A − B is an integer (here
    r − a + x + 1 = 98): the expectation must stay finite and continuous in a."""
    exact = BetaGeoModel.from_params(r=3.0, alpha=0.5, a=4.0, b=0.3)
    near = BetaGeoModel.from_params(r=3.0, alpha=0.5, a=4.0 + 1e-7, b=0.3)
    for t in (5.0, 100.0, 1000.0):
        value = float(exact.expected_purchases(t, 98, 0.0, 0.0))
        assert np.isfinite(value)
        assert value == pytest.approx(float(near.expected_purchases(t, 98, 0.0, 0.0)), rel=1e-5)
