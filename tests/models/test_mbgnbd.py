"""MBG/NBD on CDNOW and its own identities."""

from __future__ import annotations

from functools import cache

import btyd_data as cdnow
import numpy as np
import pytest

from regulars.models import BetaGeoModel, ModifiedBetaGeoModel


@cache
def fitted() -> ModifiedBetaGeoModel:
    s = cdnow.summary()
    return ModifiedBetaGeoModel().fit(s["frequency"], s["recency"], s["T"])


def test_cdnow_fit_is_reported() -> None:
    result = fitted().result
    assert result.converged, result.message
    assert result.model == "mbgnbd"
    assert set(result.params) == {"r", "alpha", "a", "b"}
    # Our fit (no published value in the CDNOW README): LL −9582.13 with
    # r = 0.525, α = 6.183, a = 0.891, b = 1.614; a hair better than the BG/NBD's −9582.43.
    assert result.log_likelihood == pytest.approx(-9582.13, abs=0.01)
    assert result.params["r"] == pytest.approx(0.525, abs=5e-4)
    assert result.params["alpha"] == pytest.approx(6.183, abs=5e-4)
    assert result.params["a"] == pytest.approx(0.891, abs=5e-4)
    assert result.params["b"] == pytest.approx(1.614, abs=5e-4)
    assert all(np.isfinite(v) for v in result.standard_errors.values())


def test_one_time_buyers_may_be_gone() -> None:
    m = fitted()
    p = m.probability_alive(0, 0, np.array([0.0, 20.0, 38.86]))
    r, alpha, a, b = (m.params[k] for k in ("r", "alpha", "a", "b"))
    # at T = 0 the prior probability of surviving the first purchase, b/(a+b)
    assert p[0] == pytest.approx(b / (a + b))
    assert np.all(np.diff(p) < 0)
    assert (
        float(BetaGeoModel.from_params(r=r, alpha=alpha, a=a, b=b).probability_alive(0, 0, 20))
        == 1.0
    )


def test_unconditional_distribution() -> None:
    m = fitted()
    n = np.arange(400)
    for t in (0.0, 5.0, 39.0):
        pmf = m.probability_of_n_purchases(t, n)
        assert pmf.sum() == pytest.approx(1.0, abs=1e-10)
        assert (n * pmf).sum() == pytest.approx(
            float(m.expected_purchases_new_customer(t)), rel=1e-9
        )
    r, alpha, a, b = (m.params[k] for k in ("r", "alpha", "a", "b"))
    # E[X(t)] = b/(a+b) × the BG/NBD expectation of an active customer with p ~ Beta(a, b+1)
    bg = BetaGeoModel.from_params(r=r, alpha=alpha, a=a, b=b + 1)
    expected = b / (a + b) * float(bg.expected_purchases_new_customer(39.0))
    assert float(m.expected_purchases_new_customer(39.0)) == pytest.approx(expected, rel=1e-12)


def test_huge_frequencies_do_not_overflow() -> None:
    m = fitted()
    x = np.array([1000.0, 20000.0])
    assert np.all(np.isfinite(m.expected_purchases(39, x, 38.0, 38.86)))
    assert np.all(np.isfinite(m.probability_alive(x, 20.0, 38.86)))
    assert np.isfinite(m.log_likelihood(x, 38.0, 38.86))
