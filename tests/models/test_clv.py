"""Discounted CLV: the formula, the discounting, the time units."""

from __future__ import annotations

import numpy as np
import pytest

from regulars.models import (
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    customer_lifetime_value,
    discounted_expected_purchases,
)
from regulars.models.clv import months_to_units

BG = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
GG = GammaGammaModel.from_params(p=6.25, q=3.74, gamma=15.44)
X = np.array([0.0, 2.0, 2.0, 10.0, 2.0])
TX = np.array([0.0, 30.43, 30.43, 38.0, 5.0])
AGE = np.array([38.86, 38.86, 38.86, 38.86, 38.86])
SPEND = np.array([0.0, 22.35, 22.35, 40.0, 10.0])


def test_matches_the_written_out_sum() -> None:
    clv = customer_lifetime_value(
        BG, GG, X, TX, AGE, SPEND, horizon_months=6, monthly_discount_rate=0.02, margin=0.3
    )
    week_per_month = 365.25 / 12 / 7
    spend = GG.conditional_expected_spend(X, SPEND)
    expected = np.zeros_like(X)
    for m in range(1, 7):
        gain = BG.expected_purchases(m * week_per_month, X, TX, AGE) - BG.expected_purchases(
            (m - 1) * week_per_month, X, TX, AGE
        )
        expected += 0.3 * spend * gain / 1.02**m
    np.testing.assert_allclose(clv, expected, rtol=1e-12)
    assert clv[1] == clv[2]  # same history, same value (computed once, scattered back)
    assert clv[4] < clv[1]  # silent for longer: worth less


def test_no_discount_is_expected_revenue() -> None:
    purchases = discounted_expected_purchases(
        BG, X, TX, AGE, horizon_months=12, monthly_discount_rate=0.0
    )
    expected = BG.expected_purchases(months_to_units(12, "week"), X, TX, AGE)
    np.testing.assert_allclose(purchases, expected, rtol=1e-12)
    discounted = discounted_expected_purchases(
        BG, X, TX, AGE, horizon_months=12, monthly_discount_rate=0.01
    )
    assert np.all(discounted < purchases)
    longer = discounted_expected_purchases(BG, X, TX, AGE, horizon_months=24)
    assert np.all(longer > discounted)


def test_time_units_are_respected() -> None:
    """The same customers summarised in days, with the rate parameter α scaled to days,
    have the same CLV."""
    in_days = BetaGeoModel.from_params(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426)
    weekly = customer_lifetime_value(BG, GG, X, TX, AGE, SPEND, unit="week")
    daily = customer_lifetime_value(in_days, GG, X, TX * 7, AGE * 7, SPEND, unit="day")
    np.testing.assert_allclose(daily, weekly, rtol=1e-10)
    pareto = ParetoNBDModel.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    pareto_days = ParetoNBDModel.from_params(r=0.553, alpha=10.578 * 7, s=0.606, beta=11.669 * 7)
    np.testing.assert_allclose(
        customer_lifetime_value(pareto_days, GG, X, TX * 7, AGE * 7, SPEND, unit="day"),
        customer_lifetime_value(pareto, GG, X, TX, AGE, SPEND, unit="week"),
        rtol=1e-8,
    )
    assert months_to_units(1, "month") == 1.0
    assert months_to_units(12, "day") == pytest.approx(365.25)


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="horizon_months"):
        customer_lifetime_value(BG, GG, X, TX, AGE, SPEND, horizon_months=0)
    with pytest.raises(ValueError, match="discount"):
        customer_lifetime_value(BG, GG, X, TX, AGE, SPEND, monthly_discount_rate=-1.0)
    with pytest.raises(ValueError, match="margin"):
        customer_lifetime_value(BG, GG, X, TX, AGE, SPEND, margin=float("nan"))
    with pytest.raises(ValueError, match="unit"):
        customer_lifetime_value(BG, GG, X, TX, AGE, SPEND, unit="year")  # type: ignore[arg-type]
    assert customer_lifetime_value(BG, GG, [], [], [], []).shape == (0,)
